//! Best records and the other per-team numbers of a whole history.

use crate::api;
use crate::store::{Headline, IndexEntry, Store};
use crate::team::TeamId;

/// A best record and when it was set.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub value: f64,
    pub timestamp: String,
}

/// Best records of a team across its whole history.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BestRecords {
    /// Highest completed QPS.
    pub qps: Option<Record>,
    /// Lowest positive average latency, in ms.
    pub latency: Option<Record>,
}

impl BestRecords {
    /// The best records of a history (index entries, oldest first).
    pub fn from_entries(entries: &[IndexEntry]) -> BestRecords {
        let mut best = BestRecords::default();
        for e in entries {
            best.update(e.headline.qps, e.headline.avg_latency, &e.timestamp);
        }
        best
    }

    /// Takes one more report into account; ties keep the earlier record.
    pub fn update(&mut self, qps: f64, avg_latency_ms: f64, timestamp: &str) {
        if self.qps.as_ref().is_none_or(|best| qps > best.value) {
            self.qps = Some(Record {
                value: qps,
                timestamp: timestamp.to_string(),
            });
        }
        if avg_latency_ms > 0.0
            && self
                .latency
                .as_ref()
                .is_none_or(|best| avg_latency_ms < best.value)
        {
            self.latency = Some(Record {
                value: avg_latency_ms,
                timestamp: timestamp.to_string(),
            });
        }
    }
}

impl From<&BestRecords> for api::Best {
    fn from(best: &BestRecords) -> api::Best {
        let split = |r: &Option<Record>| r.as_ref().map(|r| (r.value, r.timestamp.clone())).unzip();
        let (best_qps, best_qps_time) = split(&best.qps);
        let (best_latency, best_latency_time) = split(&best.latency);
        api::Best {
            best_qps,
            best_qps_time,
            best_latency,
            best_latency_time,
        }
    }
}

/// What a team's whole history says about it, from the index alone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TeamRecords {
    pub reports: usize,
    pub first_report: Option<String>,
    pub last_report: Option<String>,
    /// Headline numbers of the newest report (zero without one).
    pub latest: Headline,
    pub best: BestRecords,
    /// The newest report's run (0 without one), its reports and best records.
    pub run: u32,
    pub run_reports: usize,
    pub run_best: BestRecords,
}

/// The [`TeamRecords`] of a team (all zero for an unknown team).
pub fn records(store: &Store, id: &TeamId) -> TeamRecords {
    store.with_entries(id, |entries| {
        let run = entries.last().map_or(0, |e| e.run);
        // Runs only grow along a history, so the current one is its tail.
        let current = &entries[entries.partition_point(|e| e.run < run)..];
        TeamRecords {
            reports: entries.len(),
            first_report: entries.first().map(|e| e.timestamp.to_string()),
            last_report: entries.last().map(|e| e.timestamp.to_string()),
            latest: entries.last().map(|e| e.headline).unwrap_or_default(),
            best: BestRecords::from_entries(entries),
            run,
            run_reports: current.len(),
            run_best: BestRecords::from_entries(current),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_records_keep_first_on_ties_and_ignore_zero_latency() {
        let mut best = BestRecords::default();
        best.update(10.0, 0.0, "t1");
        best.update(10.0, 5.0, "t2");
        best.update(9.0, 5.0, "t3");
        best.update(11.0, 4.0, "t4");
        assert_eq!(best.qps.as_ref().unwrap().timestamp, "t4");
        assert_eq!(best.latency.as_ref().unwrap().value, 4.0);
        let mut best = BestRecords::default();
        best.update(10.0, 5.0, "a");
        best.update(10.0, 5.0, "b");
        assert_eq!(best.qps.unwrap().timestamp, "a");
        assert_eq!(best.latency.unwrap().timestamp, "a");
    }
}
