//! The time the alerts see: the server's one clock ([`crate::clock`]), re-exported
//! here where it was first written. Rules with `for = "30s"` and the `silent > N`
//! rule depend on time passing; the engine reads it only through [`Clock`], so tests
//! move a [`ManualClock`] instead of sleeping.

pub use crate::clock::{Clock, ManualClock, SystemClock, Wakeup};
