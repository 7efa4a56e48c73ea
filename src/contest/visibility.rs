//! Who sees which reports during a freeze: the one place every read path asks.
//!
//! From `[contest] freeze` on, the public (anyone without a token, a viewer with
//! the viewers' token) sees every team as it stood at the freeze: only reports that
//! *arrived* before it count (the server's arrival time, as CTFd filters
//! `date < freeze`). The organiser (the admin token) always sees everything; a team
//! with its own token sees its own reports, all of them, and the others' as the
//! public does. During the reveal each revealed team is shown whole; once the reveal
//! has finished (or when there is no freeze) everyone sees everything.
//!
//! ```
//! use benchboard::contest::visibility::{Reader, Visibility};
//! use benchboard::team::TeamId;
//! let at = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
//! let view = Visibility::frozen_at(at("2026-12-01T17:00:00Z"));
//! let team = TeamId::parse("team1").unwrap();
//! assert_eq!(view.cutoff(&Reader::Public, &team), Some(at("2026-12-01T17:00:00Z")));
//! assert_eq!(view.cutoff(&Reader::Admin, &team), None);
//! assert_eq!(view.cutoff(&Reader::Team(team.clone()), &team), None);
//! assert!(view.hides(&team, at("2026-12-01T17:00:00Z")), "the freeze's own instant is frozen");
//! assert!(!view.hides(&team, at("2026-12-01T16:59:59.999Z")));
//! assert!(!Visibility::default().hides(&team, at("2026-12-01T18:00:00Z")), "no freeze");
//! ```
//!
//! The API other features use: the server's view is `App::board.visibility()`
//! (`benchboard::board::LiveBoard::visibility`); without a server (the archive),
//! [`Visibility::of_contest`] from the schedule and the saved reveal. Then
//! [`Visibility::cutoff`] (or [`Visibility::range`], a store `TimeRange`) with
//! [`Reader::Public`] gives the reports the public sees, and
//! [`Visibility::is_frozen`] whether to say so.

use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset, TimeDelta};

use super::reveal::Reveal;
use super::schedule::Schedule;
use crate::query::TimeRange;
use crate::team::TeamId;

/// Who is reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// Anyone without a token of their own (viewers of a private board too).
    Public,
    /// The organiser, with the admin token.
    Admin,
    /// A team, with its own token.
    Team(TeamId),
}

/// What the public is shown now; cheap to clone (one per read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    /// `[contest] freeze`, while the public view is held there; `None`: no freeze,
    /// or the reveal has finished (thawed).
    freeze: Option<DateTime<FixedOffset>>,
    /// Teams the reveal has already shown whole.
    revealed: BTreeSet<TeamId>,
}

impl Visibility {
    /// Everyone sees everything (no freeze, or thawed).
    pub fn thawed() -> Visibility {
        Visibility::default()
    }

    /// The public sees only reports that arrived before `freeze`.
    pub fn frozen_at(freeze: DateTime<FixedOffset>) -> Visibility {
        Visibility {
            freeze: Some(freeze),
            revealed: BTreeSet::new(),
        }
    }

    /// The public view a contest calls for: frozen at `schedule`'s freeze, less the
    /// teams `reveal` has shown, thawed once it has finished (or without a freeze).
    /// The archive reads the reveal from the data directory ([`super::state::load`]).
    pub fn of_contest(schedule: Option<&Schedule>, reveal: Option<&Reveal>) -> Visibility {
        let Some(freeze) = schedule.and_then(|s| s.freeze) else {
            return Visibility::thawed();
        };
        match reveal {
            Some(reveal) if reveal.finished() => Visibility::thawed(),
            Some(reveal) => Visibility::frozen_at(freeze)
                .with_revealed(reveal.revealed().filter_map(|id| TeamId::parse(id).ok())),
            None => Visibility::frozen_at(freeze),
        }
    }

    /// The same, with these teams already revealed.
    pub fn with_revealed(mut self, revealed: impl IntoIterator<Item = TeamId>) -> Visibility {
        self.revealed.extend(revealed);
        self
    }

    /// The freeze the public view is held at, if it is.
    pub fn freeze(&self) -> Option<DateTime<FixedOffset>> {
        self.freeze
    }

    /// True while the public board is frozen at `now` (the banner shows): the
    /// freeze has passed and the reveal has not finished.
    pub fn is_frozen(&self, now: DateTime<FixedOffset>) -> bool {
        self.freeze.is_some_and(|freeze| now >= freeze)
    }

    /// True once the reveal has shown `team` whole.
    pub fn is_revealed(&self, team: &TeamId) -> bool {
        self.revealed.contains(team)
    }

    /// The reports of `team` that `reader` sees: those that arrived before the
    /// returned time, or all of them (`None`).
    pub fn cutoff(&self, reader: &Reader, team: &TeamId) -> Option<DateTime<FixedOffset>> {
        match reader {
            Reader::Admin => None,
            Reader::Team(own) if own == team => None,
            Reader::Team(_) | Reader::Public => self.public_cutoff(team),
        }
    }

    /// [`Visibility::cutoff`] for the public.
    pub fn public_cutoff(&self, team: &TeamId) -> Option<DateTime<FixedOffset>> {
        self.freeze.filter(|_| !self.revealed.contains(team))
    }

    /// True when a report of `team` that arrived at `arrival` is kept from the public.
    pub fn hides(&self, team: &TeamId, arrival: DateTime<FixedOffset>) -> bool {
        self.public_cutoff(team)
            .is_some_and(|cutoff| arrival >= cutoff)
    }

    /// The store's [`TimeRange`] of the reports `reader` sees of `team` (both ends
    /// of a `TimeRange` are included, so it ends a nanosecond before the cutoff).
    pub fn range(&self, reader: &Reader, team: &TeamId) -> TimeRange {
        TimeRange {
            since: None,
            until: self.cutoff(reader, team).map(before),
        }
    }
}

/// The last instant before `t` (times are kept to the nanosecond at most).
pub fn before(t: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    t - TimeDelta::nanoseconds(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(t).unwrap()
    }

    #[test]
    fn a_team_sees_its_own_reports_and_the_others_frozen() {
        let view = Visibility::frozen_at(at("2026-12-01T17:00:00Z"));
        let (one, two) = (TeamId::parse("t1").unwrap(), TeamId::parse("t2").unwrap());
        let reader = Reader::Team(one.clone());
        assert_eq!(view.cutoff(&reader, &one), None);
        assert_eq!(view.cutoff(&reader, &two), view.freeze());
        let range = view.range(&reader, &two);
        assert!(range.contains(&at("2026-12-01T16:59:59.999999999Z")));
        assert!(!range.contains(&at("2026-12-01T17:00:00Z")));
    }

    #[test]
    fn revealed_teams_are_shown_whole_and_the_banner_follows_the_clock() {
        let freeze = at("2026-12-01T17:00:00Z");
        let one = TeamId::parse("t1").unwrap();
        let view = Visibility::frozen_at(freeze).with_revealed([one.clone()]);
        assert_eq!(view.public_cutoff(&one), None);
        assert!(!view.is_frozen(at("2026-12-01T16:00:00Z")));
        assert!(view.is_frozen(freeze));
        assert!(!Visibility::thawed().is_frozen(freeze));
    }
}
