//! Derived numbers of a report (DESIGN §3): pure functions, equal to the original tool's.
//!
//! Counts are whatever integers the tool sent (negative ones too, up to 64 bits), so
//! sums are taken in [`Count`] (`i128`, which cannot overflow on a report's dozen
//! counts) and every result is clamped as DESIGN §3 says.

use serde::{Deserialize, Serialize};

use crate::report::{BUCKET_COUNT, Count, Report, ValidationError};

/// Upper bounds of the latency buckets in ms; the last (overflow) bucket is taken
/// as 5000 + 5000, as the original does.
pub const BUCKET_UPPER_MS: [f64; BUCKET_COUNT] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
];

/// Latencies are clamped to this range, in ms.
pub const MAX_LATENCY_MS: f64 = 60_000.0;
/// QPS values are clamped to this range.
pub const MAX_QPS: f64 = 1e6;

/// Percentiles of one operation kind, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
}

/// The derived numbers of one report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metrics {
    /// Average latency in ms (`totalAvgLatency`, else `sensorData.avg`).
    pub avg_latency: f64,
    /// 99th-percentile latency of `sensorData` in ms.
    pub p99_latency: f64,
    /// High-priority average latency in ms.
    pub high_priority_latency: f64,
    /// Failure rate (失败率) in %: sent requests neither completed nor pending.
    pub data_loss_rate: f64,
    /// Completed requests per second (`performanceMetrics.avgCompletedQPS`, clamped).
    pub qps: f64,
    /// `totalVerifyErrorRate` in %, clamped; `None` when the report has none.
    pub verify_error_rate: Option<f64>,
    /// p50/p90/p99/p99.9 per operation kind present, in ms.
    pub percentiles: Vec<(String, Percentiles)>,
}

impl Metrics {
    /// Computes every derived number of a validated report.
    pub fn of(report: &Report) -> Metrics {
        Metrics {
            avg_latency: avg_latency_ms(report),
            p99_latency: p99_latency_ms(&report.sensor_data_latency().buckets),
            high_priority_latency: high_priority_latency_ms(report),
            data_loss_rate: data_loss_rate_pct(report.total_sent, report.total_ops, report.pending),
            qps: clamp(report.performance.avg_completed_qps, MAX_QPS),
            verify_error_rate: report.total_verify_error_rate.map(|r| clamp(r, 100.0)),
            percentiles: report
                .latency
                .iter()
                .map(|(kind, dist)| {
                    let p = |q| percentile_ms(&dist.buckets, q);
                    let percentiles = Percentiles {
                        p50: p(0.50),
                        p90: p(0.90),
                        p99: p(0.99),
                        p999: p(0.999),
                    };
                    (kind.to_string(), percentiles)
                })
                .collect(),
        }
    }

    /// The metrics of stats as stored: a report the original tool accepted but today's
    /// schema refuses still belongs to the history ("loads unchanged"), with zero
    /// metrics; the error says why, for a warning.
    pub fn of_stored(stats: &serde_json::Value) -> (Metrics, Option<ValidationError>) {
        match Report::fields_of(stats) {
            Ok(report) => (Metrics::of(&report), None),
            Err(e) => (Metrics::default(), Some(e)),
        }
    }

    /// The `metrics` object of the API: the original's four numbers (`avg_latency`,
    /// `p99_latency`, `high_priority_latency`, `data_loss_rate`), then `qps` and the
    /// `percentiles` per operation kind.
    pub fn to_json(&self) -> serde_json::Value {
        let percentiles: serde_json::Map<String, serde_json::Value> = self
            .percentiles
            .iter()
            .map(|(kind, p)| {
                (
                    kind.clone(),
                    serde_json::to_value(p).expect("plain numbers serialize"),
                )
            })
            .collect();
        serde_json::json!({
            "avg_latency": self.avg_latency,
            "p99_latency": self.p99_latency,
            "high_priority_latency": self.high_priority_latency,
            "data_loss_rate": self.data_loss_rate,
            "qps": self.qps,
            "percentiles": percentiles,
        })
    }
}

fn clamp(value: f64, max: f64) -> f64 {
    value.clamp(0.0, max)
}

/// Average latency in ms: `totalAvgLatency` if sent, else `sensorData.avg` when its
/// buckets hold any request, else 0; clamped to [0, 60 000].
pub fn avg_latency_ms(report: &Report) -> f64 {
    let sensor = report.sensor_data_latency();
    let avg = match report.total_avg_latency_ms {
        Some(avg) => avg,
        None if sensor.buckets.iter().sum::<Count>() > 0 => sensor.avg_ms,
        None => 0.0,
    };
    clamp(avg, MAX_LATENCY_MS)
}

/// High-priority average latency in ms: `highPriorityAvgDelayLatency` if sent, else
/// `sensorData.highPriorityAvg` when `highPriorityCount` > 0, else 0; clamped.
pub fn high_priority_latency_ms(report: &Report) -> f64 {
    let sensor = report.sensor_data_latency();
    let latency = match report.high_priority_avg_delay_latency_ms {
        Some(latency) => latency,
        None if sensor.high_priority_count.unwrap_or(0) > 0 => {
            sensor.high_priority_avg_ms.unwrap_or(0.0)
        }
        None => 0.0,
    };
    clamp(latency, MAX_LATENCY_MS)
}

/// Failure rate in %: max(0, sent − completed − pending) / sent · 100, clamped to
/// [0, 100]; 0 when nothing (or a negative number) was sent.
pub fn data_loss_rate_pct(total_sent: Count, total_ops: Count, pending: Count) -> f64 {
    if total_sent <= 0 {
        return 0.0;
    }
    // Three 64-bit values: their difference fits an i128 with room to spare.
    let lost = (total_sent - total_ops - pending).max(0);
    clamp(lost as f64 / total_sent as f64 * 100.0, 100.0)
}

/// 99th-percentile latency in ms, interpolated inside its bucket, capped at 10 000 ms.
pub fn p99_latency_ms(buckets: &[Count; BUCKET_COUNT]) -> f64 {
    percentile_ms(buckets, 0.99)
}

/// The `quantile` (0..1) latency in ms from bucket counts, by the original's rule:
/// walk the cumulative count to the first bucket that reaches `quantile · total`;
/// the first bucket gives 1 ms, any other interpolates linearly between its lower
/// and upper bound. 0 when the counts sum to 0 or less (negative buckets can make
/// it so: there is no distribution to read); within [1, 10 000] ms otherwise.
pub fn percentile_ms(buckets: &[Count; BUCKET_COUNT], quantile: f64) -> f64 {
    let total: Count = buckets.iter().sum();
    if total <= 0 {
        return 0.0;
    }
    let target = quantile * total as f64;
    let mut before: Count = 0;
    for (i, &count) in buckets.iter().enumerate() {
        let cumulative = before + count;
        if cumulative as f64 >= target {
            if i == 0 {
                return BUCKET_UPPER_MS[0];
            }
            let lower = BUCKET_UPPER_MS[i - 1];
            let upper = BUCKET_UPPER_MS[i];
            // `before` fell short of the target and `cumulative` reaches it, so
            // `count` > 0 here even among negative buckets; the clamp keeps the
            // result inside the bucket whatever rounding does.
            let fraction = ((target - before as f64) / count as f64).clamp(0.0, 1.0);
            return (lower + fraction * (upper - lower)).min(BUCKET_UPPER_MS[BUCKET_COUNT - 1]);
        }
        before = cumulative;
    }
    BUCKET_UPPER_MS[BUCKET_COUNT - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(counts: &[Count]) -> [Count; BUCKET_COUNT] {
        let mut out = [0; BUCKET_COUNT];
        out[..counts.len()].copy_from_slice(counts);
        out
    }

    #[test]
    fn p99_interpolates_inside_bucket() {
        let b = buckets(&[100, 200, 150, 80, 50, 20, 10, 5, 2, 1, 0, 0]);
        assert!((p99_latency_ms(&b) - 136.4).abs() < 1e-6);
    }

    #[test]
    fn p99_in_first_bucket_is_one_ms() {
        assert_eq!(p99_latency_ms(&buckets(&[10])), 1.0);
    }

    #[test]
    fn p99_in_overflow_bucket_is_capped() {
        let b = buckets(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 140]);
        assert!((p99_latency_ms(&b) - 9946.428571428572).abs() < 1e-6);
        assert!(percentile_ms(&buckets(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]), 1.0) <= 10_000.0);
    }

    #[test]
    fn empty_buckets_give_zero() {
        assert_eq!(p99_latency_ms(&[0; BUCKET_COUNT]), 0.0);
    }

    #[test]
    fn loss_rate_never_negative() {
        assert_eq!(data_loss_rate_pct(100, 90, 20), 0.0);
        assert_eq!(data_loss_rate_pct(0, 0, 0), 0.0);
        assert_eq!(data_loss_rate_pct(200, 150, 0), 25.0);
    }

    #[test]
    fn loss_rate_of_extreme_counts_stays_in_range() {
        let max = Count::from(u64::MAX);
        let min = Count::from(i64::MIN);
        assert_eq!(data_loss_rate_pct(max, min, min), 100.0);
        assert_eq!(data_loss_rate_pct(max, max, max), 0.0);
        assert_eq!(data_loss_rate_pct(min, 0, 0), 0.0);
        assert_eq!(data_loss_rate_pct(1000, -5, 0), 100.0);
    }

    #[test]
    fn percentiles_of_negative_and_huge_buckets_stay_in_range() {
        assert_eq!(percentile_ms(&buckets(&[-10, 5]), 0.99), 0.0);
        let max = Count::from(u64::MAX);
        for counts in [
            vec![max; BUCKET_COUNT],
            vec![-3, 10, -2, 7, max, -1],
            vec![Count::from(i64::MIN), max, max],
        ] {
            for q in [0.5, 0.9, 0.99, 0.999] {
                let p = percentile_ms(&buckets(&counts), q);
                assert!((1.0..=10_000.0).contains(&p), "{counts:?} {q}: {p}");
            }
        }
    }

    #[test]
    fn percentiles_are_ordered() {
        let b = buckets(&[150, 200, 180, 160, 140, 120, 100, 80, 60, 40, 20, 10, 5]);
        let (p50, p90, p99, p999) = (
            percentile_ms(&b, 0.5),
            percentile_ms(&b, 0.9),
            percentile_ms(&b, 0.99),
            percentile_ms(&b, 0.999),
        );
        assert!(
            p50 <= p90 && p90 <= p99 && p99 <= p999,
            "{p50} {p90} {p99} {p999}"
        );
    }
}
