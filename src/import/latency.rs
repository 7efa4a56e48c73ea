//! Latency distributions in BenchBoard's 13 buckets, from samples, from a tool's own
//! histogram, or approximated from percentiles.
//!
//! Bucket `k` counts latencies `l` with `bound[k-1] < l <= bound[k]` (bounds
//! `1, 2, 5, … 5000` ms, then the overflow bucket), as the metrics read them
//! ([`crate::metrics::BUCKET_UPPER_MS`]). A tool that gives only a summary (min, max,
//! some percentiles) or a histogram on other bounds yields a cumulative distribution
//! function known at a few points; between them it is taken as linear, and bucket
//! counts are read off it at BenchBoard's bounds. The result says whether any bucket
//! had to be guessed that way ([`Distribution::approximate`]).

use crate::report::BUCKET_COUNT;

/// BenchBoard's bucket upper bounds in ms, without the overflow bucket.
pub const BOUNDS_MS: [f64; BUCKET_COUNT - 1] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
];

/// Index of the bucket a latency in ms falls into.
pub fn bucket_of(latency_ms: f64) -> usize {
    BOUNDS_MS
        .iter()
        .position(|&bound| latency_ms <= bound)
        .unwrap_or(BUCKET_COUNT - 1)
}

/// The latency distribution of one operation kind, in BenchBoard's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    /// Latencies counted in `buckets` (their sum).
    pub count: u64,
    /// Sum of those latencies in ms (`avg × count`).
    pub sum_ms: f64,
    /// Smallest latency in ms (0 when `count` is 0).
    pub min_ms: f64,
    /// Largest latency in ms (0 when `count` is 0).
    pub max_ms: f64,
    pub buckets: [u64; BUCKET_COUNT],
    /// True when some bucket counts were estimated rather than counted.
    pub approximate: bool,
}

impl Default for Distribution {
    fn default() -> Self {
        Distribution {
            count: 0,
            sum_ms: 0.0,
            min_ms: f64::INFINITY,
            max_ms: f64::NEG_INFINITY,
            buckets: [0; BUCKET_COUNT],
            approximate: false,
        }
    }
}

/// One point of a cumulative distribution: the share of latencies at most `value_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CdfPoint {
    pub value_ms: f64,
    /// Share in 0..=1.
    pub share: f64,
    /// True when the share is counted (a histogram edge), false for a percentile.
    pub exact: bool,
}

/// What a tool says about a distribution it does not give sample by sample.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Number of latencies described.
    pub count: u64,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub avg_ms: Option<f64>,
    /// Known points of the cumulative distribution (any order).
    pub points: Vec<CdfPoint>,
}

impl Summary {
    /// Adds a percentile: `quantile` (0..=1) of the latencies are at most `value_ms`.
    pub fn percentile(&mut self, quantile: f64, value_ms: f64) {
        self.points.push(CdfPoint {
            value_ms,
            share: quantile,
            exact: false,
        });
    }
}

impl Distribution {
    /// Counts one latency sample.
    pub fn record(&mut self, latency_ms: f64) {
        self.buckets[bucket_of(latency_ms)] += 1;
        self.count += 1;
        self.sum_ms += latency_ms;
        self.min_ms = self.min_ms.min(latency_ms);
        self.max_ms = self.max_ms.max(latency_ms);
    }

    /// Adds another distribution of the same operation kind.
    pub fn merge(&mut self, other: &Distribution) {
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum_ms += other.sum_ms;
        self.min_ms = self.min_ms.min(other.min_ms);
        self.max_ms = self.max_ms.max(other.max_ms);
        self.approximate |= other.approximate;
    }

    /// Average latency in ms, 0 without samples.
    pub fn avg_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_ms / self.count as f64
        }
    }

    /// Smallest latency in ms, 0 without samples.
    pub fn min_or_zero(&self) -> f64 {
        if self.count == 0 { 0.0 } else { self.min_ms }
    }

    /// Largest latency in ms, 0 without samples.
    pub fn max_or_zero(&self) -> f64 {
        if self.count == 0 { 0.0 } else { self.max_ms }
    }

    /// Builds the distribution a summary describes. An unknown minimum is taken as 0
    /// and an unknown maximum as the largest known point; an unknown average is the
    /// mean of the piecewise-linear distribution.
    pub fn from_summary(summary: &Summary) -> Distribution {
        if summary.count == 0 {
            return Distribution::default();
        }
        let cdf = Cdf::new(summary);
        let mut distribution = Distribution {
            count: summary.count,
            min_ms: cdf.min_ms,
            max_ms: cdf.max_ms,
            sum_ms: summary.avg_ms.unwrap_or_else(|| cdf.mean_ms()) * summary.count as f64,
            ..Distribution::default()
        };
        let mut before = 0u64;
        for (k, &bound) in BOUNDS_MS.iter().enumerate() {
            let (share, exact) = cdf.share_at(bound);
            // Rounding the cumulative count, not each bucket, keeps the sum exact.
            let cumulative =
                ((share * summary.count as f64).round() as u64).clamp(before, summary.count);
            distribution.buckets[k] = cumulative - before;
            distribution.approximate |= !exact;
            before = cumulative;
        }
        distribution.buckets[BUCKET_COUNT - 1] = summary.count - before;
        distribution
    }
}

/// A piecewise-linear cumulative distribution through known points.
struct Cdf {
    min_ms: f64,
    max_ms: f64,
    /// Sorted by value, shares non-decreasing, from (min, 0) to (max, 1).
    points: Vec<CdfPoint>,
}

impl Cdf {
    fn new(summary: &Summary) -> Cdf {
        let mut inner: Vec<CdfPoint> = summary
            .points
            .iter()
            .filter(|p| p.value_ms.is_finite() && p.share.is_finite())
            .copied()
            .collect();
        inner.sort_by(|a, b| {
            a.value_ms
                .total_cmp(&b.value_ms)
                .then(a.share.total_cmp(&b.share))
        });
        let largest_point = inner.last().map(|p| p.value_ms).unwrap_or(0.0);
        let min_ms = summary.min_ms.unwrap_or(0.0).max(0.0);
        let max_ms = summary.max_ms.unwrap_or(largest_point).max(min_ms);
        let mut points = vec![CdfPoint {
            value_ms: min_ms,
            share: 0.0,
            exact: true,
        }];
        for point in inner {
            let previous = *points.last().expect("starts with the minimum");
            points.push(CdfPoint {
                value_ms: point.value_ms.clamp(min_ms, max_ms),
                share: point.share.clamp(previous.share, 1.0),
                exact: point.exact,
            });
        }
        points.push(CdfPoint {
            value_ms: max_ms,
            share: 1.0,
            exact: true,
        });
        Cdf {
            min_ms,
            max_ms,
            points,
        }
    }

    /// Share of latencies at most `bound_ms`, and whether it is known rather than guessed.
    fn share_at(&self, bound_ms: f64) -> (f64, bool) {
        if bound_ms < self.min_ms {
            return (0.0, true);
        }
        if bound_ms >= self.max_ms {
            return (1.0, true);
        }
        // The last point at or below the bound, and the first one above it.
        let above = self
            .points
            .iter()
            .position(|p| p.value_ms > bound_ms)
            .expect("the maximum lies above the bound");
        let below = self.points[above - 1];
        if below.value_ms == bound_ms {
            return (below.share, below.exact);
        }
        let next = self.points[above];
        let fraction = (bound_ms - below.value_ms) / (next.value_ms - below.value_ms);
        (below.share + fraction * (next.share - below.share), false)
    }

    /// Mean in ms of the piecewise-linear distribution.
    fn mean_ms(&self) -> f64 {
        self.points
            .windows(2)
            .map(|pair| {
                (pair[1].share - pair[0].share) * (pair[0].value_ms + pair[1].value_ms) / 2.0
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_on_a_bound_count_in_the_bucket_below_it() {
        let mut d = Distribution::default();
        for ms in [0.5, 1.0, 1.5, 5000.0, 5000.5] {
            d.record(ms);
        }
        assert_eq!(d.buckets, [2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
        assert_eq!((d.min_ms, d.max_ms, d.count), (0.5, 5000.5, 5));
        assert!(!d.approximate);
    }

    #[test]
    fn percentiles_are_interpolated_and_marked_approximate() {
        // 1000 latencies from 4 ms to 40 ms, half of them at most 10 ms, 90 % at most 20 ms.
        let mut summary = Summary {
            count: 1000,
            min_ms: Some(4.0),
            max_ms: Some(40.0),
            avg_ms: Some(12.0),
            points: vec![],
        };
        summary.percentile(0.5, 10.0);
        summary.percentile(0.9, 20.0);
        let d = Distribution::from_summary(&summary);
        // F(5) = 0.5 * (5-4)/(10-4) = 1/12 -> 83; F(10) = 0.5; F(20) = 0.9; F(50) = 1.
        assert_eq!(d.buckets, [0, 0, 83, 417, 400, 100, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(d.buckets.iter().sum::<u64>(), 1000);
        assert!(d.approximate);
        assert_eq!(d.avg_ms(), 12.0);
    }

    #[test]
    fn histogram_edges_on_benchboard_bounds_are_exact() {
        let summary = Summary {
            count: 10,
            min_ms: Some(0.2),
            max_ms: Some(7.0),
            avg_ms: None,
            points: vec![
                CdfPoint {
                    value_ms: 1.0,
                    share: 0.4,
                    exact: true,
                },
                CdfPoint {
                    value_ms: 2.0,
                    share: 0.4,
                    exact: true,
                },
                CdfPoint {
                    value_ms: 5.0,
                    share: 0.9,
                    exact: true,
                },
            ],
        };
        let d = Distribution::from_summary(&summary);
        assert_eq!(d.buckets, [4, 0, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(!d.approximate);
        // Mean of the linear pieces: 0.4*0.6 + 0 + 0.5*3.5 + 0.1*6 = 2.59 ms.
        assert!((d.avg_ms() - 2.59).abs() < 1e-12);
    }

    #[test]
    fn unknown_minimum_is_zero_and_inconsistent_percentiles_are_made_monotonic() {
        let mut summary = Summary {
            count: 4,
            max_ms: Some(100.0),
            ..Summary::default()
        };
        summary.percentile(0.75, 30.0);
        summary.percentile(0.5, 40.0); // out of order: taken as 0.75 at 40 ms
        let d = Distribution::from_summary(&summary);
        assert_eq!(d.min_ms, 0.0);
        assert_eq!(d.buckets.iter().sum::<u64>(), 4);
        assert_eq!(d.buckets[..6].iter().sum::<u64>(), 3);
    }
}
