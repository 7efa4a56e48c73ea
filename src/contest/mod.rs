//! Contest mode: the schedule and its phases ([`schedule`]), the ranking rule and its standings ([`ranking`], over the
//! `metric op number` [`condition`]s the alert rules also use), and the replay of a
//! whole contest from the stored history ([`replay`]); the freeze: who sees which
//! reports ([`visibility`], the one place every read path asks), the reveal
//! ceremony ([`reveal`]) and its state file ([`state`]).

pub mod condition;
pub mod live;
pub mod ranking;
pub mod replay;
pub mod reveal;
pub mod schedule;
pub mod standings;
pub mod state;
pub mod visibility;
