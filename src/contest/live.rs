//! The contest as the board, `GET /api/contest` and the `contest` WebSocket message
//! show it: the phase, the times, the CCS-like state and the registered teams.
//!
//! `now` (ms since the Unix epoch, by the server's clock) travels with the answer and
//! the message, never in the cached snapshot: a page measures its offset from the
//! server's clock when it connects, so a phone with a wrong clock counts down right.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::ranking::RuleDescription;
use super::schedule::{ContestState, Phase, Schedule};
use crate::timefmt::format_timestamp;

/// A registered team as the countdown lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamName {
    pub team_id: String,
    pub team_name: String,
}

/// The contest at one moment (everything but the time itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContestInfo {
    pub phase: Phase,
    /// RFC 3339, with the server's offset.
    pub start: String,
    pub end: String,
    pub freeze: Option<String>,
    /// The same times in ms since the Unix epoch (for the page's clock).
    pub start_ms: i64,
    pub end_ms: i64,
    pub freeze_ms: Option<i64>,
    /// Each milestone's time once it has passed, as the ICPC Contest API's `state`.
    pub state: ContestState,
    /// The teams of the contest file (registered mode); empty in open mode.
    pub teams: Vec<TeamName>,
}

/// `GET /api/contest` and the `contest` message: the contest (null without a
/// `[contest]` section) and the server's time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContestAnswer {
    pub contest: Option<ContestInfo>,
    /// The `[ranking]` rule in force; null without one (the original's latest QPS).
    pub ranking: Option<RuleDescription>,
    /// Now by the server's clock, in ms since the Unix epoch.
    pub now: i64,
}

impl ContestInfo {
    /// The contest of `schedule` at `now`; `thawed` is when the frozen results were
    /// revealed, if they were.
    pub fn at(
        schedule: &Schedule,
        now: DateTime<FixedOffset>,
        thawed: Option<DateTime<FixedOffset>>,
        teams: Vec<TeamName>,
    ) -> ContestInfo {
        ContestInfo {
            phase: schedule.phase_at(now),
            start: format_timestamp(&schedule.start),
            end: format_timestamp(&schedule.end),
            freeze: schedule.freeze.as_ref().map(format_timestamp),
            start_ms: schedule.start.timestamp_millis(),
            end_ms: schedule.end.timestamp_millis(),
            freeze_ms: schedule.freeze.map(|f| f.timestamp_millis()),
            state: schedule.state_at(now, thawed),
            teams,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_info_follows_the_phase_and_lists_passed_milestones() {
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap();
        let s =
            Schedule::new(at("2026-12-01T14:00:00Z"), at("2026-12-01T18:00:00Z"), None).unwrap();
        let teams = vec![TeamName {
            team_id: "t1".into(),
            team_name: "<b>one</b>".into(),
        }];
        let before = ContestInfo::at(&s, at("2026-12-01T13:00:00Z"), None, teams.clone());
        assert_eq!(before.phase, Phase::Countdown);
        assert_eq!(before.start_ms, s.start.timestamp_millis());
        let json = serde_json::to_value(&before).unwrap();
        assert_eq!(json["phase"], "countdown");
        assert_eq!(json["state"]["started"], serde_json::Value::Null);
        assert_eq!(json["teams"][0]["team_name"], "<b>one</b>");
        let after = ContestInfo::at(&s, at("2026-12-01T18:00:00Z"), None, teams);
        assert_eq!(after.phase, Phase::Ended);
        assert_ne!(before, after);
        assert_eq!(
            after.state.finalized.as_deref(),
            Some("2026-12-01T18:00:00.000+00:00")
        );
    }
}
