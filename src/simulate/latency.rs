//! Latency distributions of simulated teams: log-normal latencies spread over the
//! report's buckets, so that `avg`, `min`, `max` and the buckets agree.

use serde_json::{Map, Value, json};

use crate::metrics::BUCKET_UPPER_MS;
use crate::report::BUCKET_COUNT;

/// A latency distribution built up from batches of requests.
#[derive(Debug, Clone, Default)]
pub(super) struct Distribution {
    buckets: [u64; BUCKET_COUNT],
    /// Sum of all latencies, in ms.
    sum_ms: f64,
    min_ms: Option<f64>,
    max_ms: f64,
}

impl Distribution {
    pub(super) fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    pub(super) fn avg_ms(&self) -> f64 {
        match self.count() {
            0 => 0.0,
            n => self.sum_ms / n as f64,
        }
    }

    /// `count` latencies drawn from a log-normal with the given median, spread over the
    /// buckets; the sum uses each bucket's conditional mean, so the average agrees
    /// with the buckets, and min/max lie in the lowest/highest non-empty bucket.
    pub(super) fn sample(
        count: u64,
        median_ms: f64,
        spread: f64,
        rng: &mut fastrand::Rng,
    ) -> Distribution {
        let mut batch = Distribution::default();
        if count == 0 {
            return batch;
        }
        let mu = median_ms.max(0.01).ln();
        let weights: Vec<f64> = (0..BUCKET_COUNT)
            .map(|i| bucket_probability(i, mu, spread) * (0.85 + 0.3 * rng.f64()))
            .collect();
        batch.buckets = apportion(count, &weights);
        let means: Vec<f64> = (0..BUCKET_COUNT)
            .map(|i| bucket_mean_ms(i, mu, spread))
            .collect();
        batch.sum_ms = (0..BUCKET_COUNT)
            .map(|i| batch.buckets[i] as f64 * means[i])
            .sum();
        let lowest = batch.buckets.iter().position(|&n| n > 0);
        let highest = batch.buckets.iter().rposition(|&n| n > 0);
        if let (Some(lo), Some(hi)) = (lowest, highest) {
            let (lower, _) = bucket_bounds(lo);
            batch.min_ms = Some(lower + (means[lo] - lower) * (0.2 + 0.6 * rng.f64()));
            let (_, upper) = bucket_bounds(hi);
            let top = if upper.is_finite() {
                upper
            } else {
                means[hi] * 1.5
            };
            batch.max_ms = means[hi] + (top - means[hi]) * (0.2 + 0.6 * rng.f64());
        }
        batch
    }

    pub(super) fn merge(&mut self, other: &Distribution) {
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            *mine += theirs;
        }
        self.sum_ms += other.sum_ms;
        self.min_ms = match (self.min_ms, other.min_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_ms = self.max_ms.max(other.max_ms);
    }
}

/// Lower and upper bound of bucket `i` in ms; the overflow bucket's upper bound is infinite.
fn bucket_bounds(i: usize) -> (f64, f64) {
    let lower = if i == 0 { 0.0 } else { BUCKET_UPPER_MS[i - 1] };
    let upper = if i == BUCKET_COUNT - 1 {
        f64::INFINITY
    } else {
        BUCKET_UPPER_MS[i]
    };
    (lower, upper)
}

/// Standard normal cumulative distribution (Abramowitz & Stegun 7.1.26, error < 1.5e-7).
fn normal_cdf(z: f64) -> f64 {
    let x = (z / std::f64::consts::SQRT_2).abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = ((((1.061_405_429 * t - 1.453_152_027) * t + 1.421_413_741) * t - 0.284_496_736)
        * t
        + 0.254_829_592)
        * t;
    let erf = 1.0 - poly * (-x * x).exp();
    0.5 * (1.0 + erf.copysign(z))
}

/// `(ln x - mu) / spread`, with 0 and infinity mapped to minus and plus infinity.
fn log_z(x_ms: f64, mu: f64, spread: f64) -> f64 {
    if x_ms <= 0.0 {
        f64::NEG_INFINITY
    } else {
        (x_ms.ln() - mu) / spread
    }
}

/// Probability that a log-normal latency falls in bucket `i`.
fn bucket_probability(i: usize, mu: f64, spread: f64) -> f64 {
    let (lower, upper) = bucket_bounds(i);
    normal_cdf(log_z(upper, mu, spread)) - normal_cdf(log_z(lower, mu, spread))
}

/// Mean of a log-normal latency given that it falls in bucket `i`, in ms, kept inside the bucket.
fn bucket_mean_ms(i: usize, mu: f64, spread: f64) -> f64 {
    let (lower, upper) = bucket_bounds(i);
    let p = bucket_probability(i, mu, spread);
    let partial = (mu + spread * spread / 2.0).exp()
        * (normal_cdf(log_z(upper, mu, spread) - spread)
            - normal_cdf(log_z(lower, mu, spread) - spread));
    let fallback = if upper.is_finite() {
        (lower + upper) / 2.0
    } else {
        lower * 1.5
    };
    let mean = if p > 1e-12 { partial / p } else { fallback };
    let ceiling = if upper.is_finite() {
        upper
    } else {
        crate::metrics::MAX_LATENCY_MS
    };
    if mean.is_finite() {
        mean.clamp(lower, ceiling)
    } else {
        fallback
    }
}

/// Splits `total` into parts proportional to `weights` (largest remainder), summing to `total`.
pub(super) fn apportion(total: u64, weights: &[f64]) -> [u64; BUCKET_COUNT] {
    let sum: f64 = weights.iter().sum();
    let mut parts = [0u64; BUCKET_COUNT];
    if sum <= 0.0 || !sum.is_finite() {
        parts[0] = total;
        return parts;
    }
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    for (part, e) in parts.iter_mut().zip(&exact) {
        *part = e.floor() as u64;
    }
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let assigned: u64 = parts.iter().sum();
    for &i in order
        .iter()
        .cycle()
        .take(total.saturating_sub(assigned) as usize)
    {
        parts[i] += 1;
    }
    parts
}

/// `x` rounded down or up at random, in proportion to its fraction (unbiased).
pub(super) fn round_randomly(x: f64, rng: &mut fastrand::Rng) -> u64 {
    let x = x.max(0.0);
    let floor = x.floor();
    floor as u64 + u64::from(rng.f64() < x - floor)
}

/// Rounds to 3 decimals, as a tool printing ms would.
pub(super) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `avg`, `min`, `max`, `buckets` of a distribution (names prefixed and camel-cased
/// when `prefix` is given: `highPriorityAvg`, ...); min rounds down and max up, so
/// `min ≤ avg ≤ max` survives the rounding.
pub(super) fn distribution_json(dist: &Distribution, prefix: &str) -> Map<String, Value> {
    let name = |field: &str| {
        if prefix.is_empty() {
            field.to_string()
        } else {
            let mut chars = field.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            format!("{prefix}{}{}", first.unwrap_or_default(), chars.as_str())
        }
    };
    let min = dist.min_ms.unwrap_or(0.0);
    let mut out = Map::new();
    out.insert(name("avg"), json!(round3(dist.avg_ms())));
    out.insert(name("min"), json!((min * 1000.0).floor() / 1000.0));
    out.insert(name("max"), json!((dist.max_ms * 1000.0).ceil() / 1000.0));
    out.insert(name("buckets"), json!(dist.buckets));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_sums_to_total() {
        let parts = apportion(
            1001,
            &[
                0.3, 0.3, 0.4, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
            ],
        );
        assert_eq!(parts.iter().sum::<u64>(), 1001);
        assert_eq!(parts[3], 0);
    }

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert_eq!(normal_cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(normal_cdf(f64::INFINITY), 1.0);
    }
}
