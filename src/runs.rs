//! Runs: a team restarts its load test several times in a contest; each restart
//! begins a new *run*. A tool's counters are cumulative within a run, so a report
//! whose `totalElapsed` or `totalSent` is lower than the previous one's starts a
//! new run (that is a fact about the contest, not a plausibility warning).
//!
//! Runs are numbered from 1 per team, in the order the reports were stored.

use crate::report::{Count, Report};

/// The two numbers of a report that tell runs apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunPoint {
    /// `totalElapsed`, seconds.
    pub total_elapsed_s: f64,
    /// `totalSent`.
    pub total_sent: Count,
}

impl RunPoint {
    /// The run point of a validated report.
    pub fn of(report: &Report) -> RunPoint {
        RunPoint {
            total_elapsed_s: report.total_elapsed_s,
            total_sent: report.total_sent,
        }
    }
}

impl RunPoint {
    /// The run point of stats that break today's schema (kept from the original's
    /// data): the two fields read as numbers where they are, else 0.
    pub fn loosely(stats: &serde_json::Value) -> RunPoint {
        let sent = &stats["totalSent"];
        let total_sent = sent
            .as_i64()
            .map(Count::from)
            .or_else(|| sent.as_u64().map(Count::from))
            .or_else(|| sent.as_f64().map(|f| f as Count))
            .unwrap_or(0);
        RunPoint {
            total_elapsed_s: stats["totalElapsed"].as_f64().unwrap_or(0.0),
            total_sent,
        }
    }
}

/// True when `next`, stored right after `previous`, starts a new run: its elapsed
/// time or its sent count went down. Equal values (a tool that repeats a report)
/// stay in the same run.
pub fn starts_new_run(previous: RunPoint, next: RunPoint) -> bool {
    next.total_elapsed_s < previous.total_elapsed_s || next.total_sent < previous.total_sent
}

/// Numbers the runs of one team's reports, fed oldest first.
#[derive(Debug, Clone, Default)]
pub struct RunCounter {
    last: Option<RunPoint>,
    run: u32,
}

impl RunCounter {
    /// A counter that has seen no report.
    pub fn new() -> RunCounter {
        RunCounter::default()
    }

    /// A counter that has seen reports up to one at `last` in run `run` (a store
    /// that keeps the newest report's run point, PostgreSQL's team row).
    pub fn resume(last: Option<RunPoint>, run: u32) -> RunCounter {
        RunCounter { last, run }
    }

    /// The run (from 1) of the next report of the team.
    pub fn next(&mut self, point: RunPoint) -> u32 {
        match self.last {
            None => self.run = 1,
            Some(last) if starts_new_run(last, point) => self.run += 1,
            Some(_) => {}
        }
        self.last = Some(point);
        self.run
    }

    /// The run of the newest report seen; 0 before any.
    pub fn current(&self) -> u32 {
        self.run
    }
}

/// The run number (from 1) of each point, oldest first.
pub fn number_runs(points: impl IntoIterator<Item = RunPoint>) -> Vec<u32> {
    let mut counter = RunCounter::new();
    points.into_iter().map(|p| counter.next(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(total_elapsed_s: f64, total_sent: Count) -> RunPoint {
        RunPoint {
            total_elapsed_s,
            total_sent,
        }
    }

    #[test]
    fn a_drop_in_elapsed_or_sent_starts_a_new_run() {
        let runs = number_runs([
            point(5.0, 100),
            point(10.0, 200),
            point(10.0, 200),
            point(2.0, 30),
            point(4.0, 60),
            point(6.0, 50),
            point(5.5, 80),
        ]);
        assert_eq!(runs, [1, 1, 1, 2, 2, 3, 4]);
    }

    #[test]
    fn counter_says_the_current_run() {
        let mut counter = RunCounter::new();
        assert_eq!(counter.current(), 0);
        counter.next(point(1.0, 1));
        counter.next(point(0.5, 1));
        assert_eq!(counter.current(), 2);
    }
}
