//! The contest's schedule (`[contest]` of the contest file) and its phases.
//!
//! ```toml
//! [contest]
//! start = "2026-12-01 14:00:00"        # local time of the server, or RFC 3339
//! freeze = "2026-12-01T17:00:00+08:00" # optional: the public board stops here
//! end = 2026-12-01T18:00:00+08:00      # a TOML date-time works too
//! ```
//!
//! Times are the server's. Every boundary belongs to the phase it opens (as DOMjudge
//! has it: "all events happen at the first moment of the defined time"): a report
//! *counts for the ranking* when it arrives in `[start, end)`.
//!
//! ```
//! use benchboard::contest::schedule::{Phase, Schedule};
//! let at = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
//! let s = Schedule::new(at("2026-12-01T14:00:00Z"), at("2026-12-01T18:00:00Z"),
//!                       Some(at("2026-12-01T17:00:00Z"))).unwrap();
//! assert_eq!(s.phase_at(at("2026-12-01T13:59:59Z")), Phase::Countdown);
//! assert_eq!(s.phase_at(at("2026-12-01T14:00:00Z")), Phase::Live);
//! assert_eq!(s.phase_at(at("2026-12-01T17:00:00Z")), Phase::Frozen);
//! assert_eq!(s.phase_at(at("2026-12-01T18:00:00Z")), Phase::Ended);
//! assert!(!s.counts(at("2026-12-01T18:00:00Z")));
//! ```

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::timefmt;

/// The contest's times, checked: `start < freeze < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    /// From here on the public board shows the standings as they were.
    pub freeze: Option<DateTime<FixedOffset>>,
}

/// Where the contest is at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Before the start: the board counts down.
    Countdown,
    /// From the start to the freeze (or the end).
    Live,
    /// From the freeze to the end.
    Frozen,
    /// From the end on: final standings.
    Ended,
}

impl Phase {
    /// `countdown`, `live`, `frozen` or `ended`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Countdown => "countdown",
            Phase::Live => "live",
            Phase::Frozen => "frozen",
            Phase::Ended => "ended",
        }
    }
}

impl Schedule {
    /// A schedule, or why the times do not make one (`start < freeze < end`).
    pub fn new(
        start: DateTime<FixedOffset>,
        end: DateTime<FixedOffset>,
        freeze: Option<DateTime<FixedOffset>>,
    ) -> Result<Schedule, String> {
        let shown = |t: &DateTime<FixedOffset>| timefmt::format_timestamp(t);
        if start >= end {
            return Err(format!(
                "end = {}: must be after start ({})",
                shown(&end),
                shown(&start)
            ));
        }
        if let Some(freeze) = freeze
            && (freeze <= start || freeze >= end)
        {
            return Err(format!(
                "freeze = {}: must be after start ({}) and before end ({})",
                shown(&freeze),
                shown(&start),
                shown(&end)
            ));
        }
        Ok(Schedule { start, end, freeze })
    }

    /// The phase at `t`.
    pub fn phase_at(&self, t: DateTime<FixedOffset>) -> Phase {
        if t < self.start {
            Phase::Countdown
        } else if t >= self.end {
            Phase::Ended
        } else if self.freeze.is_some_and(|f| t >= f) {
            Phase::Frozen
        } else {
            Phase::Live
        }
    }

    /// The first boundary (start, freeze or end) after `t`: when the phase changes
    /// next; `None` once the contest has ended.
    pub fn next_boundary(&self, t: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        [Some(self.start), self.freeze, Some(self.end)]
            .into_iter()
            .flatten()
            .find(|&b| b > t)
    }

    /// Whether a report arriving at `t` counts for the ranking: `start <= t < end`.
    pub fn counts(&self, t: DateTime<FixedOffset>) -> bool {
        self.start <= t && t < self.end
    }

    /// Whether a report arriving at `t` came after the end (stored, not ranked).
    pub fn after_end(&self, t: DateTime<FixedOffset>) -> bool {
        t >= self.end
    }

    /// The state in the ICPC Contest API's words at `now`: each milestone's time once
    /// it has passed. `thawed` is when the frozen results were revealed (by the
    /// reveal), if they were; results are final at the end without a freeze, at the
    /// thaw with one.
    pub fn state_at(
        &self,
        now: DateTime<FixedOffset>,
        thawed: Option<DateTime<FixedOffset>>,
    ) -> ContestState {
        let passed = |t: DateTime<FixedOffset>| (t <= now).then(|| timefmt::format_timestamp(&t));
        let ended = passed(self.end);
        let thawed = thawed.filter(|_| self.freeze.is_some()).and_then(passed);
        ContestState {
            started: passed(self.start),
            frozen: self.freeze.and_then(passed),
            finalized: match self.freeze {
                None => ended.clone(),
                Some(_) => thawed.clone().filter(|_| ended.is_some()),
            },
            ended,
            thawed,
        }
    }
}

/// The CCS-like contest state: each milestone's time (RFC 3339) or null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContestState {
    pub started: Option<String>,
    pub frozen: Option<String>,
    pub ended: Option<String>,
    pub thawed: Option<String>,
    pub finalized: Option<String>,
}

/// One time of `[contest]` as written: a string (RFC 3339 or local time) or a TOML
/// date-time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum TimeValue {
    Text(String),
    Toml(toml::value::Datetime),
}

/// `[contest]` as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContestSection {
    pub start: Option<TimeValue>,
    pub end: Option<TimeValue>,
    pub freeze: Option<TimeValue>,
    /// Whether alert changes during the freeze still go to the `[[notify]]`
    /// destinations (they never reach the public board); default true.
    pub notify_during_freeze: Option<bool>,
}

impl ContestSection {
    /// Checks the section; the error is one line naming the key.
    pub fn check(&self) -> Result<Schedule, String> {
        let start = required("start", &self.start)?;
        let end = required("end", &self.end)?;
        let freeze = self
            .freeze
            .as_ref()
            .map(|v| parse_time("freeze", v))
            .transpose()?;
        Schedule::new(start, end, freeze).map_err(|e| format!("[contest] {e}"))
    }
}

fn required(key: &str, value: &Option<TimeValue>) -> Result<DateTime<FixedOffset>, String> {
    match value {
        Some(value) => parse_time(key, value),
        None => Err(format!(
            "[contest] {key} is missing: give start and end (RFC 3339, or local time such as \"2026-12-01 14:00:00\")"
        )),
    }
}

fn parse_time(key: &str, value: &TimeValue) -> Result<DateTime<FixedOffset>, String> {
    let text = match value {
        TimeValue::Text(text) => text.trim().to_string(),
        TimeValue::Toml(datetime) if datetime.date.is_none() || datetime.time.is_none() => {
            return Err(format!(
                "[contest] {key} = {datetime}: needs a date and a time of day"
            ));
        }
        TimeValue::Toml(datetime) => datetime.to_string(),
    };
    timefmt::parse_timestamp(&text).ok_or_else(|| {
        format!(
            "[contest] {key} = {text:?}: not a time; write RFC 3339 (\"2026-12-01T14:00:00+08:00\") or local time (\"2026-12-01 14:00:00\")"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Schedule, String> {
        #[derive(Deserialize)]
        struct File {
            contest: ContestSection,
        }
        let file: File = toml::from_str(text).map_err(|e| e.message().to_string())?;
        file.contest.check()
    }

    fn at(t: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(t).unwrap()
    }

    #[test]
    fn reads_rfc3339_local_and_toml_times() {
        let s = check(
            "[contest]\nstart = \"2026-12-01T14:00:00+08:00\"\nfreeze = 2026-12-01T17:00:00+08:00\nend = \"2026-12-01 18:00:00\"\n",
        )
        .unwrap();
        assert_eq!(s.start, at("2026-12-01T14:00:00+08:00"));
        assert_eq!(s.freeze, Some(at("2026-12-01T17:00:00+08:00")));
        let local = timefmt::parse_timestamp("2026-12-01T18:00:00").unwrap();
        assert_eq!(s.end, local);
        let s =
            check("[contest]\nstart = 2026-12-01 10:00:00\nend = 2026-12-01 12:00:00\n").unwrap();
        assert_eq!(s.freeze, None);
        assert_eq!(s.end - s.start, chrono::Duration::hours(2));
    }

    #[test]
    fn refuses_bad_schedules_naming_the_key() {
        let z = |h: u32| format!("\"2026-12-01T{h:02}:00:00Z\"");
        for (text, wanted) in [
            (format!("start = {}", z(14)), "[contest] end is missing"),
            (format!("end = {}", z(14)), "[contest] start is missing"),
            (
                format!("start = {}\nend = {}", z(14), z(13)),
                "[contest] end = 2026-12-01T13:00:00.000+00:00: must be after start",
            ),
            (
                format!("start = {}\nend = {}\nfreeze = {}", z(14), z(18), z(18)),
                "[contest] freeze = 2026-12-01T18:00:00.000+00:00: must be after start",
            ),
            (
                format!("start = {}\nend = {}\nfreeze = {}", z(14), z(18), z(12)),
                "freeze",
            ),
            (
                format!("start = \"tomorrow\"\nend = {}", z(18)),
                "[contest] start = \"tomorrow\": not a time",
            ),
            (
                format!("start = 14:00:00\nend = {}", z(18)),
                "[contest] start = 14:00:00: needs a date",
            ),
            (format!("begin = {}", z(14)), "unknown field `begin`"),
        ] {
            let error = check(&format!("[contest]\n{text}\n")).unwrap_err();
            assert!(error.contains(wanted), "{text}: {error}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
    }

    #[test]
    fn phases_boundaries_and_state() {
        let s = Schedule::new(
            at("2026-12-01T14:00:00Z"),
            at("2026-12-01T18:00:00Z"),
            Some(at("2026-12-01T17:00:00Z")),
        )
        .unwrap();
        let before = at("2026-12-01T13:00:00Z");
        assert_eq!(s.next_boundary(before), Some(s.start));
        assert_eq!(s.next_boundary(s.start), s.freeze);
        assert_eq!(s.next_boundary(s.freeze.unwrap()), Some(s.end));
        assert_eq!(s.next_boundary(s.end), None);
        assert!(s.counts(s.start) && !s.counts(before) && !s.counts(s.end));
        assert!(s.after_end(s.end) && !s.after_end(s.start));
        let state = s.state_at(before, None);
        assert_eq!(state.started, None);
        let state = s.state_at(at("2026-12-01T17:30:00Z"), None);
        assert_eq!(
            state.started.as_deref(),
            Some("2026-12-01T14:00:00.000+00:00")
        );
        assert_eq!(
            state.frozen.as_deref(),
            Some("2026-12-01T17:00:00.000+00:00")
        );
        assert_eq!((state.ended, state.finalized), (None, None));
        let after = at("2026-12-01T19:00:00Z");
        let state = s.state_at(after, None);
        assert!(state.ended.is_some() && state.finalized.is_none());
        let state = s.state_at(after, Some(after));
        assert_eq!(state.thawed, state.finalized);
        assert!(state.finalized.is_some());
        let plain = Schedule { freeze: None, ..s };
        let state = plain.state_at(after, None);
        assert_eq!(state.finalized, state.ended);
        assert_eq!(state.frozen, None);
        assert_eq!(plain.phase_at(at("2026-12-01T17:30:00Z")), Phase::Live);
    }
}
