//! Generators of large, realistic histories for benchmarks and tests.
//!
//! [`write_history`] writes a data directory exactly as `benchboard-serve` does,
//! through the store's own append path ([`WritableStore::append_at`]): report files,
//! `latest.json` and the sidecar index. Only the clock is simulated, so a contest
//! day of reports (one every 5 s per team) is written in seconds.
//!
//! ```no_run
//! benchboard::generate::write_history(std::path::Path::new("/tmp/big-data"), 6, 20_000).unwrap();
//! ```

use std::path::Path;

use chrono::{Duration, Local, NaiveDate, TimeZone};
use serde_json::json;

use crate::metrics::Metrics;
use crate::report::Report;
use crate::store::{StoreError, WritableStore};
use crate::team::TeamId;

/// Seconds between two reports of one simulated team (the original tools report every 5 s).
pub const REPORT_INTERVAL_S: i64 = 5;

/// The id of generated team `n` (1-based): `team1`, `team2`, ...
pub fn team_id(n: usize) -> TeamId {
    TeamId::parse(&format!("team{n}")).expect("team<n> is a valid id")
}

/// The display name of generated team `n`: `第n小组` (as the contest's teams are named).
pub fn team_name(n: usize) -> String {
    format!("第{n}小组")
}

/// Writes `teams` teams × `reports_per_team` reports into the data directory `dir`
/// (created if needed; teams already there get more reports). Report `i` of every
/// team is dated 2025-08-01 09:00:00 local time + i · 5 s (+ a few ms per team).
/// Teams are written in parallel, one thread each.
pub fn write_history(dir: &Path, teams: usize, reports_per_team: usize) -> Result<(), StoreError> {
    let store = WritableStore::open(dir, false)?;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=teams)
            .map(|n| {
                let store = &store;
                scope.spawn(move || write_team(store, n, reports_per_team))
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("generator thread panicked"))
    })
}

fn write_team(store: &WritableStore, n: usize, reports: usize) -> Result<(), StoreError> {
    let id = team_id(n);
    let name = team_name(n);
    let start = NaiveDate::from_ymd_opt(2025, 8, 1)
        .and_then(|d| d.and_hms_milli_opt(9, 0, 0, 0))
        .expect("a valid date");
    let start = Local
        .from_local_datetime(&start)
        .earliest()
        .expect("09:00 exists in every time zone");
    for i in 0..reports {
        let body = report_body(n, i);
        let report = Report::parse(&body).expect("generated reports are valid");
        let metrics = Metrics::of(&report);
        let at = start
            + Duration::seconds(REPORT_INTERVAL_S * i as i64)
            + Duration::milliseconds(n as i64 * 37);
        store.append_at(&id, &name, &body, report, &metrics, at)?;
    }
    Ok(())
}

/// A small deterministic pseudo-random number in [0, 1) from a seed (SplitMix64).
fn noise(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Scales a bucket shape to `total` requests.
fn buckets(shape: &[f64; 13], total: u64) -> Vec<u64> {
    shape.iter().map(|s| (s * total as f64) as u64).collect()
}

/// The latency shape of report `seed`: shares of the 13 buckets, whose tail moves a
/// little from report to report.
fn latency_shape(seed: u64) -> [f64; 13] {
    let tail = 0.01 * noise(seed ^ 4);
    [
        0.2 - tail,
        0.15,
        0.25,
        0.15,
        0.1,
        0.06,
        0.04,
        0.02,
        0.015,
        0.01 + tail / 2.0,
        0.003 + tail / 4.0,
        0.001 + tail / 8.0,
        0.001 + tail / 8.0,
    ]
}

/// The numbers one report gives every operation kind.
struct KindBase {
    /// Completed operations, all kinds together.
    ops: u64,
    /// Errors, all kinds together.
    errors: u64,
    /// Average latency of the report, ms.
    avg_ms: f64,
    shape: [f64; 13],
}

impl KindBase {
    /// `operations` and `latencyAnalysis` entries of kind number `k` with `share` of the operations.
    fn kind(&self, share: f64, k: u64) -> (serde_json::Value, serde_json::Value) {
        let count = (self.ops as f64 * share) as u64;
        let avg = self.avg_ms;
        let dist = json!({
            "avg": avg * (1.0 + k as f64 * 0.3), "min": 0.4, "max": 900.0 + 40.0 * k as f64,
            "buckets": buckets(&self.shape, count),
            "highPriorityCount": count / 10, "highPriorityAvg": avg * 0.7,
            "highPriorityMin": 0.3, "highPriorityMax": 400.0,
            "highPriorityBuckets": buckets(&self.shape, count / 10),
        });
        (
            json!({"operations": count, "errors": self.errors / 4}),
            dist,
        )
    }
}

/// The body of report `i` (0-based) of generated team `n`: cumulative stats after
/// `(i + 1) · 5` s, with all four operation kinds, high-priority numbers and 13
/// buckets, as a compact JSON body like the load-test tools send.
pub fn report_body(n: usize, i: usize) -> Vec<u8> {
    let seed = (n as u64) << 32 | i as u64;
    let elapsed = ((i + 1) as f64) * REPORT_INTERVAL_S as f64;
    let sent_qps = 400.0 + 120.0 * n as f64 + 50.0 * noise(seed);
    let sent = (sent_qps * elapsed) as u64;
    let pending = (sent / 200).min(500);
    let lost = (sent as f64 * 0.002 * n as f64 * noise(seed ^ 1)) as u64;
    let ops = sent.saturating_sub(pending).saturating_sub(lost);
    let errors = lost / 2;
    let avg = 4.0 + n as f64 * 1.5 + 3.0 * noise(seed ^ 2);
    let base = KindBase {
        ops,
        errors,
        avg_ms: avg,
        shape: latency_shape(seed),
    };
    let (sd_ops, sd_lat) = base.kind(0.55, 0);
    let (rw_ops, rw_lat) = base.kind(0.2, 1);
    let (batch_ops, batch_lat) = base.kind(0.15, 2);
    let (query_ops, query_lat) = base.kind(0.1, 3);
    let body = json!({
        "totalElapsed": elapsed,
        "totalSent": sent,
        "totalOps": ops,
        "totalErrors": errors,
        "totalSaveDelayErrors": errors / 3,
        "totalAvgLatency": avg,
        "highPriorityAvgDelayLatency": avg * 0.7,
        "totalVerifyErrorRate": 0.1 * noise(seed ^ 3),
        "pending": pending,
        "operations": {"sensorData": sd_ops, "sensorRW": rw_ops, "batchRW": batch_ops, "query": query_ops},
        "highPriorityStats": {"sensorDataCount": ops / 20, "totalCount": ops / 10, "percentage": 10.0},
        "performanceMetrics": {
            "avgSentQPS": sent as f64 / elapsed,
            "avgCompletedQPS": ops as f64 / elapsed,
            "errorRate": if ops == 0 { 0.0 } else { errors as f64 / ops as f64 * 100.0 },
        },
        "latencyAnalysis": {"sensorData": sd_lat, "sensorRW": rw_lat, "batchRW": batch_lat, "query": query_lat},
    });
    serde_json::to_vec(&body).expect("JSON values serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_reports_are_valid_and_cumulative() {
        let a = Report::parse(&report_body(3, 10)).unwrap();
        let b = Report::parse(&report_body(3, 11)).unwrap();
        assert!(b.total_sent > a.total_sent);
        assert!(b.total_elapsed_s > a.total_elapsed_s);
        assert_eq!(a.latency.len(), 4);
    }

    #[test]
    fn writes_a_history_the_store_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        write_history(dir.path(), 2, 30).unwrap();
        let store = crate::store::Store::open(dir.path()).unwrap();
        assert_eq!(store.team_ids(), vec![team_id(1), team_id(2)]);
        assert_eq!(store.report_count(&team_id(2)), 30);
        assert!(store.warnings().is_empty());
        assert_eq!(store.latest(&team_id(1)).unwrap().team_name, "第1小组");
    }
}
