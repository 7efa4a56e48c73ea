//! Simulated team load: plausible cumulative reports, reproducible from a seed.
//!
//! A [`SimulatedTeam`] plays one team's load-test tool. Each call to
//! [`SimulatedTeam::report_at`] advances its run to the given time and returns the
//! cumulative report the tool would send then. The numbers hang together the way a
//! real tool's do, so the dashboard shows something believable:
//!
//! - counters (`totalSent`, `totalOps`, errors, per-kind counts, buckets) only grow;
//! - `totalSent = totalOps + pending + lost`, so the failure rate is the share lost;
//! - QPS are the counts divided by `totalElapsed`; `errorRate` is errors per completed op;
//! - each latency distribution's buckets sum to that kind's completed operations, and
//!   `avg`, `min`, `max` lie inside the buckets they describe (P99 follows from them);
//! - teams differ by [`Profile`]: fast, slow, lossy, degrading, steady, erratic.
//!
//! ```
//! use benchboard::simulate::{Profile, SimulatedTeam};
//! use std::time::Duration;
//! let mut team = SimulatedTeam::new("team1", "第一小组", Profile::Fast, 42);
//! let report = team.report_at(Duration::from_secs(5));
//! let body = serde_json::to_vec(&report).unwrap();
//! assert!(benchboard::report::Report::parse(&body).is_ok());
//! ```

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::report::OPERATION_KINDS;

mod latency;

use latency::{Distribution, apportion, distribution_json, round_randomly, round3};

/// Share of completed operations per kind, in [`OPERATION_KINDS`] order.
const KIND_SHARE: [f64; 4] = [0.45, 0.30, 0.15, 0.10];
/// Latency of each kind relative to `sensorData`, in [`OPERATION_KINDS`] order.
const KIND_LATENCY_FACTOR: [f64; 4] = [1.0, 1.6, 3.0, 2.2];
/// High-priority requests are served faster than the rest by this factor.
const HIGH_PRIORITY_LATENCY_FACTOR: f64 = 0.7;
/// Share of errors that are "saved too late" errors.
const SAVE_DELAY_SHARE: f64 = 0.3;

/// How a simulated team behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// High QPS, low latency, almost no errors.
    Fast,
    /// Low QPS, high latency.
    Slow,
    /// Loses a few percent of its requests and fails verification.
    Lossy,
    /// Starts well; latency, errors and losses grow and QPS falls as the run goes on.
    Degrading,
    /// Middle of the road.
    Steady,
    /// Usually fine, with hiccups: some intervals are much slower.
    Erratic,
}

/// The numbers one profile starts from.
struct Params {
    /// Requests sent per second.
    sent_per_sec: f64,
    /// Median `sensorData` latency in ms.
    median_latency_ms: f64,
    /// Spread of the log-normal latency (sigma of its logarithm).
    spread: f64,
    /// Share of completed operations that fail.
    error_share: f64,
    /// Share of requests that are lost (neither completed nor pending).
    loss_share: f64,
    /// Share of completed writes not found on disk 3 s later.
    verify_miss_share: f64,
    /// Share of requests that are high priority.
    high_priority_share: f64,
}

/// The conditions of one interval: the profile's numbers after drift and noise.
struct Conditions {
    sent_per_sec: f64,
    median_latency_ms: f64,
    spread: f64,
    error_share: f64,
    loss_share: f64,
    verify_miss_share: f64,
}

impl Profile {
    /// Every profile, in the order teams get them (team 1 is fast, team 2 slow, ...).
    pub const ALL: [Profile; 6] = [
        Profile::Fast,
        Profile::Slow,
        Profile::Lossy,
        Profile::Degrading,
        Profile::Steady,
        Profile::Erratic,
    ];

    /// The profile of the team at `index` (0-based): the profiles in turn.
    pub fn for_team(index: usize) -> Profile {
        Profile::ALL[index % Profile::ALL.len()]
    }

    /// Lower-case name, as shown in progress lines.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Fast => "fast",
            Profile::Slow => "slow",
            Profile::Lossy => "lossy",
            Profile::Degrading => "degrading",
            Profile::Steady => "steady",
            Profile::Erratic => "erratic",
        }
    }

    fn params(self) -> Params {
        let (sent_per_sec, median_latency_ms, spread, error_share, loss_share, verify_miss_share) =
            match self {
                Profile::Fast => (2400.0, 2.5, 0.6, 0.001, 0.0002, 0.0005),
                Profile::Slow => (180.0, 140.0, 0.8, 0.01, 0.001, 0.002),
                Profile::Lossy => (900.0, 12.0, 0.9, 0.02, 0.04, 0.03),
                Profile::Degrading => (1500.0, 6.0, 0.7, 0.003, 0.001, 0.002),
                Profile::Steady => (700.0, 18.0, 0.6, 0.005, 0.002, 0.004),
                Profile::Erratic => (1100.0, 9.0, 1.0, 0.008, 0.003, 0.006),
            };
        Params {
            sent_per_sec,
            median_latency_ms,
            spread,
            error_share,
            loss_share,
            verify_miss_share,
            high_priority_share: 0.12,
        }
    }

    /// The conditions of the interval ending at `elapsed_s` seconds into the run.
    fn conditions(self, elapsed_s: f64, rng: &mut fastrand::Rng) -> Conditions {
        let p = self.params();
        let noise = |rng: &mut fastrand::Rng, width: f64| 1.0 + width * (rng.f64() * 2.0 - 1.0);
        let mut c = Conditions {
            sent_per_sec: p.sent_per_sec * noise(rng, 0.08),
            median_latency_ms: p.median_latency_ms * noise(rng, 0.1),
            spread: p.spread,
            error_share: p.error_share * noise(rng, 0.3),
            loss_share: p.loss_share * noise(rng, 0.3),
            verify_miss_share: p.verify_miss_share * noise(rng, 0.3),
        };
        match self {
            Profile::Degrading => {
                // Worse by 100% every 90 s of run: a leak, a filling disk.
                let wear = 1.0 + elapsed_s / 90.0;
                c.sent_per_sec /= wear.sqrt();
                c.median_latency_ms *= wear;
                c.error_share = (c.error_share * wear).min(0.2);
                c.loss_share = (c.loss_share * wear).min(0.2);
            }
            Profile::Erratic if rng.f64() < 0.25 => {
                c.sent_per_sec *= 0.5;
                c.median_latency_ms *= 6.0;
                c.spread *= 1.2;
            }
            _ => {}
        }
        c
    }
}

/// The cumulative state of one operation kind.
#[derive(Debug, Clone, Default)]
struct KindState {
    operations: u64,
    errors: u64,
    high_priority: u64,
    /// Every completed operation of this kind.
    all: Distribution,
    /// The high-priority ones only.
    high_priority_latency: Distribution,
}

/// One simulated team: its identity, its profile and its run so far.
#[derive(Debug, Clone)]
pub struct SimulatedTeam {
    /// The team id sent as `X-Team-ID`.
    pub id: String,
    /// The display name sent (percent-encoded) as `X-Team-Name`.
    pub name: String,
    /// How the team behaves.
    pub profile: Profile,
    rng: fastrand::Rng,
    /// Seconds the run had lasted when the simulation started (the tool warms up first).
    warmup_s: f64,
    elapsed_s: f64,
    sent: u64,
    pending: u64,
    save_delay_errors: u64,
    verify_misses: u64,
    kinds: [KindState; 4],
}

impl SimulatedTeam {
    /// A team at the start of its run; the same seed gives the same reports.
    pub fn new(id: &str, name: &str, profile: Profile, seed: u64) -> SimulatedTeam {
        let mut rng = fastrand::Rng::with_seed(seed);
        SimulatedTeam {
            id: id.to_string(),
            name: name.to_string(),
            profile,
            warmup_s: 1.0 + 2.0 * rng.f64(),
            rng,
            elapsed_s: 0.0,
            sent: 0,
            pending: 0,
            save_delay_errors: 0,
            verify_misses: 0,
            kinds: Default::default(),
        }
    }

    /// Advances the run to `since_start` after the simulation began and returns the
    /// cumulative report at that moment. Times that go backwards add no requests.
    pub fn report_at(&mut self, since_start: Duration) -> Value {
        let now_s = self.warmup_s + since_start.as_secs_f64();
        let step_s = (now_s - self.elapsed_s).max(0.0);
        self.elapsed_s = self.elapsed_s.max(now_s);
        let conditions = self.profile.conditions(self.elapsed_s, &mut self.rng);
        self.advance(step_s, &conditions);
        self.to_json()
    }

    /// Total completed operations so far.
    fn total_ops(&self) -> u64 {
        self.kinds.iter().map(|k| k.operations).sum()
    }

    fn total_errors(&self) -> u64 {
        self.kinds.iter().map(|k| k.errors).sum()
    }

    /// Adds `step_s` seconds of load under `c`.
    fn advance(&mut self, step_s: f64, c: &Conditions) {
        let rng = &mut self.rng;
        let new_sent = round_randomly(c.sent_per_sec * step_s, rng);
        self.sent += new_sent;
        let in_play = self.pending + new_sent;
        let lost = round_randomly(in_play as f64 * c.loss_share, rng).min(in_play);
        // Little's law: in flight ≈ rate × latency; a loaded tool queues a few times more.
        let in_flight = c.sent_per_sec * c.median_latency_ms / 1000.0 * (1.0 + 3.0 * rng.f64());
        self.pending = round_randomly(in_flight, rng).min(in_play - lost);
        let completed = in_play - lost - self.pending;
        let jittered: Vec<f64> = KIND_SHARE
            .iter()
            .map(|share| share * (0.9 + 0.2 * rng.f64()))
            .collect();
        let per_kind = apportion(completed, &jittered);
        let params = self.profile.params();
        let mut new_errors = 0;
        for (k, state) in self.kinds.iter_mut().enumerate() {
            let ops = per_kind[k];
            let errors = round_randomly(ops as f64 * c.error_share, rng).min(ops);
            let high_priority = round_randomly(ops as f64 * params.high_priority_share, rng);
            let median_ms = c.median_latency_ms * KIND_LATENCY_FACTOR[k];
            let hp = Distribution::sample(
                high_priority,
                median_ms * HIGH_PRIORITY_LATENCY_FACTOR,
                c.spread,
                rng,
            );
            let normal = Distribution::sample(ops - high_priority, median_ms, c.spread, rng);
            state.operations += ops;
            state.errors += errors;
            state.high_priority += high_priority;
            state.all.merge(&normal);
            state.all.merge(&hp);
            state.high_priority_latency.merge(&hp);
            new_errors += errors;
        }
        self.save_delay_errors +=
            round_randomly(new_errors as f64 * SAVE_DELAY_SHARE, rng).min(new_errors);
        self.verify_misses += round_randomly(completed as f64 * c.verify_miss_share, rng);
    }

    /// The cumulative report as the load-test tools send it.
    fn to_json(&self) -> Value {
        let ops = self.total_ops();
        let errors = self.total_errors();
        // QPS follow the elapsed time as sent, so a reader can recompute them.
        let elapsed_s = round3(self.elapsed_s);
        let per_sec = |n: u64| round3(n as f64 / elapsed_s);
        let mut all = Distribution::default();
        for kind in &self.kinds {
            all.merge(&kind.all);
        }
        let (operations, latency) = self.kinds_json();
        json!({
            "totalElapsed": elapsed_s,
            "totalSent": self.sent,
            "totalOps": ops,
            "totalErrors": errors,
            "totalSaveDelayErrors": self.save_delay_errors,
            "pending": self.pending,
            "totalAvgLatency": round3(all.avg_ms()),
            "highPriorityAvgDelayLatency": round3(self.kinds[0].high_priority_latency.avg_ms()),
            "totalVerifyErrorRate": percent(self.verify_misses, ops),
            "operations": operations,
            "highPriorityStats": self.high_priority_json(ops),
            "performanceMetrics": {
                "avgSentQPS": per_sec(self.sent),
                "avgCompletedQPS": per_sec(ops),
                "errorRate": percent(errors, ops),
            },
            "latencyAnalysis": latency,
        })
    }

    /// `operations` and `latencyAnalysis`: one entry per kind; `sensorData`'s latency
    /// also has the high-priority fields.
    fn kinds_json(&self) -> (Map<String, Value>, Map<String, Value>) {
        let mut operations = Map::new();
        let mut latency = Map::new();
        for (k, kind) in OPERATION_KINDS.iter().enumerate() {
            let state = &self.kinds[k];
            operations.insert(
                kind.to_string(),
                json!({"operations": state.operations, "errors": state.errors}),
            );
            let mut dist = distribution_json(&state.all, "");
            if k == 0 {
                dist.insert("highPriorityCount".into(), json!(state.high_priority));
                dist.extend(distribution_json(
                    &state.high_priority_latency,
                    "highPriority",
                ));
            }
            latency.insert(kind.to_string(), Value::Object(dist));
        }
        (operations, latency)
    }

    /// `highPriorityStats`: high-priority requests per kind and their share of `ops`.
    fn high_priority_json(&self, ops: u64) -> Value {
        let high_priority_total: u64 = self.kinds.iter().map(|k| k.high_priority).sum();
        json!({
            "sensorDataCount": self.kinds[0].high_priority,
            "sensorRWCount": self.kinds[1].high_priority,
            "batchRWCount": self.kinds[2].high_priority,
            "queryCount": self.kinds[3].high_priority,
            "totalCount": high_priority_total,
            "percentage": percent(high_priority_total, ops),
        })
    }
}

/// `part` as a percentage of `whole`, rounded to 3 decimals; 0 when `whole` is 0.
fn percent(part: u64, whole: u64) -> f64 {
    match whole {
        0 => 0.0,
        w => round3(part as f64 / w as f64 * 100.0),
    }
}

/// The default display name of simulated team `number` (1-based), as the original's
/// README names them: 第一小组, 第二小组, ...; from 11 on 第11小组.
pub fn default_team_name(number: usize) -> String {
    const DIGITS: [&str; 10] = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];
    match DIGITS.get(number.wrapping_sub(1)) {
        Some(digit) => format!("第{digit}小组"),
        None => format!("第{number}小组"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_reports() {
        let run = || {
            let mut team = SimulatedTeam::new("t", "T", Profile::Erratic, 7);
            (1..5)
                .map(|s| team.report_at(Duration::from_secs(s)))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn teams_differ_by_profile() {
        let qps_and_latency = |profile| {
            let mut team = SimulatedTeam::new("t", "T", profile, 1);
            let report = team.report_at(Duration::from_secs(60));
            (
                report["performanceMetrics"]["avgCompletedQPS"]
                    .as_f64()
                    .unwrap(),
                report["totalAvgLatency"].as_f64().unwrap(),
            )
        };
        let (fast_qps, fast_latency) = qps_and_latency(Profile::Fast);
        let (slow_qps, slow_latency) = qps_and_latency(Profile::Slow);
        assert!(fast_qps > 5.0 * slow_qps);
        assert!(slow_latency > 10.0 * fast_latency);
    }

    #[test]
    fn degrading_team_gets_slower() {
        let mut team = SimulatedTeam::new("t", "T", Profile::Degrading, 3);
        let p99 = |report: &Value| {
            let body = serde_json::to_vec(report).unwrap();
            let parsed = crate::report::Report::parse(&body).unwrap();
            crate::metrics::Metrics::of(&parsed).p99_latency
        };
        let early = p99(&team.report_at(Duration::from_secs(10)));
        let late = p99(&team.report_at(Duration::from_secs(600)));
        assert!(late > 2.0 * early, "early {early}, late {late}");
    }

    #[test]
    fn lossy_team_loses_data() {
        let mut team = SimulatedTeam::new("t", "T", Profile::Lossy, 5);
        let body = serde_json::to_vec(&team.report_at(Duration::from_secs(30))).unwrap();
        let report = crate::report::Report::parse(&body).unwrap();
        let loss = crate::metrics::Metrics::of(&report).data_loss_rate;
        assert!((2.0..8.0).contains(&loss), "loss {loss}");
    }

    #[test]
    fn names_teams_like_the_original() {
        assert_eq!(default_team_name(1), "第一小组");
        assert_eq!(default_team_name(6), "第六小组");
        assert_eq!(default_team_name(12), "第12小组");
    }
}
