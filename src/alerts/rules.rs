//! Threshold rules: the `[[rule]]` sections of the contest file, checked.
//!
//! ```toml
//! [[rule]]
//! name = "P99 under 200 ms"
//! when = "p99_latency > 200"     # metric, operator, number
//! for = "30s"                    # must hold this long before it fires (0 = at once)
//! teams = ["*"]                  # or a list of team ids
//! severity = "warning"           # or "critical"
//! ```
//!
//! A condition is exactly `metric op number`, parsed by a small strict parser (one
//! metric, one operator, one finite number; anything else is an error that says what
//! was expected), like k6's `<aggregation> <operator> <value>` thresholds. The
//! metrics are the derived numbers of DESIGN §3 ([`Metric`]), plus `silent`: seconds
//! since the team's last report.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;
use crate::report::{OPERATION_KINDS, kind_snake_name};
use crate::team::TeamId;

/// Why a `[[rule]]` section is refused; each message names the rule and the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// `name` is empty or too long.
    #[error("[[rule]] number {index}: name must be 1 to 100 characters, found {found:?}")]
    BadName { index: usize, found: String },
    /// Two rules share a name (names identify alerts across restarts).
    #[error("[[rule]] {0:?} is defined twice: rule names must be unique")]
    Duplicate(String),
    /// `when` is not `metric op number`.
    #[error("[[rule]] {rule:?}: when = {when:?}: {reason}")]
    When {
        rule: String,
        when: String,
        reason: String,
    },
    /// `for` is not a duration.
    #[error("[[rule]] {rule:?}: for: {reason}")]
    For { rule: String, reason: String },
    /// `teams` is empty or holds something that is not a team id.
    #[error("[[rule]] {rule:?}: teams: {reason}")]
    Teams { rule: String, reason: String },
}

/// How serious an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Warning,
    Critical,
}

impl Severity {
    /// `warning` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// A duration as the contest file may write it: `"30s"`, `"1m 30s"`, or seconds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum DurationText {
    Seconds(f64),
    Text(String),
}

/// One `[[rule]]` section as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    pub when: String,
    #[serde(default, rename = "for")]
    pub hold_for: Option<DurationText>,
    #[serde(default)]
    pub teams: Option<Vec<String>>,
    #[serde(default)]
    pub severity: Severity,
}

/// Which teams a rule watches.
#[derive(Debug, Clone, PartialEq)]
pub enum TeamFilter {
    All,
    Only(Vec<TeamId>),
}

impl TeamFilter {
    /// True when the rule applies to `team`.
    pub fn matches(&self, team: &TeamId) -> bool {
        match self {
            TeamFilter::All => true,
            TeamFilter::Only(ids) => ids.contains(team),
        }
    }
}

/// A checked rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub condition: Condition,
    /// How long the condition must hold before the alert fires.
    pub hold_for: Duration,
    pub teams: TeamFilter,
    pub severity: Severity,
}

impl RuleConfig {
    /// Checks the section; `index` (from 1) names it when its name is unusable.
    pub fn check(&self, index: usize) -> Result<Rule, RuleError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(RuleError::BadName {
                index,
                found: self.name.clone(),
            });
        }
        let rule = name.to_string();
        let condition = Condition::parse(&self.when).map_err(|reason| RuleError::When {
            rule: rule.clone(),
            when: self.when.clone(),
            reason,
        })?;
        let hold_for = match &self.hold_for {
            None => Ok(Duration::ZERO),
            Some(DurationText::Seconds(secs)) => {
                crate::cli::parse::parse_duration(&secs.to_string())
            }
            Some(DurationText::Text(text)) => crate::cli::parse::parse_duration(text),
        }
        .map_err(|reason| RuleError::For {
            rule: rule.clone(),
            reason,
        })?;
        let teams = team_filter(self.teams.as_deref()).map_err(|reason| RuleError::Teams {
            rule: rule.clone(),
            reason,
        })?;
        Ok(Rule {
            name: rule,
            condition,
            hold_for,
            teams,
            severity: self.severity,
        })
    }
}

fn team_filter(teams: Option<&[String]>) -> Result<TeamFilter, String> {
    let Some(teams) = teams else {
        return Ok(TeamFilter::All);
    };
    if teams.is_empty() {
        return Err("the list is empty: write [\"*\"] for every team, or team ids".into());
    }
    if teams.iter().any(|t| t == "*") {
        return match teams.len() {
            1 => Ok(TeamFilter::All),
            _ => Err("\"*\" already means every team: list it alone".into()),
        };
    }
    let ids = teams
        .iter()
        .map(|t| TeamId::parse(t).map_err(|e| format!("{t:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TeamFilter::Only(ids))
}

/// Checks every `[[rule]]` section: each on its own, then that names are unique.
pub fn check_rules(configs: &[RuleConfig]) -> Result<Vec<Rule>, RuleError> {
    let mut rules: Vec<Rule> = Vec::with_capacity(configs.len());
    for (i, config) in configs.iter().enumerate() {
        let rule = config.check(i + 1)?;
        if rules.iter().any(|r| r.name == rule.name) {
            return Err(RuleError::Duplicate(rule.name));
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// A percentile of one operation kind's latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantile {
    P50,
    P90,
    P99,
    P999,
}

/// What a rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Completed requests per second.
    Qps,
    /// Average latency, ms.
    AvgLatency,
    /// P99 of `sensorData`, ms.
    P99Latency,
    /// High-priority average latency, ms.
    HighPriorityLatency,
    /// Failure rate (失败率), %.
    DataLossRate,
    /// `totalVerifyErrorRate`, % (no value when the report has none).
    VerifyErrorRate,
    /// A percentile of one operation kind (`sensorData_p999`, `batch_rw_p50`), ms.
    Percentile(&'static str, Quantile),
    /// Seconds since the team's last report.
    Silent,
}

const SCALAR_METRICS: [(&str, Metric); 7] = [
    ("qps", Metric::Qps),
    ("avg_latency", Metric::AvgLatency),
    ("p99_latency", Metric::P99Latency),
    ("high_priority_latency", Metric::HighPriorityLatency),
    ("data_loss_rate", Metric::DataLossRate),
    ("verify_error_rate", Metric::VerifyErrorRate),
    ("silent", Metric::Silent),
];

const QUANTILES: [(&str, Quantile); 4] = [
    ("p50", Quantile::P50),
    ("p90", Quantile::P90),
    ("p99", Quantile::P99),
    ("p999", Quantile::P999),
];

impl Metric {
    /// The metric called `name`; kinds may be written as in reports (`sensorData`)
    /// or as in CSV columns (`sensor_data`).
    pub fn parse(name: &str) -> Option<Metric> {
        if let Some((_, metric)) = SCALAR_METRICS.iter().find(|(n, _)| *n == name) {
            return Some(*metric);
        }
        let (kind, quantile) = name.rsplit_once('_')?;
        let (_, quantile) = QUANTILES.iter().find(|(q, _)| *q == quantile)?;
        let kind = OPERATION_KINDS
            .iter()
            .find(|k| **k == kind || kind_snake_name(k) == kind)?;
        Some(Metric::Percentile(kind, *quantile))
    }

    /// Every metric name a rule may use, for error messages.
    pub fn known_names() -> String {
        let mut names: Vec<String> = SCALAR_METRICS.iter().map(|(n, _)| n.to_string()).collect();
        names.push(
            "<kind>_p50, _p90, _p99, _p999 (kinds: sensorData, sensorRW, batchRW, query)".into(),
        );
        names.join(", ")
    }

    /// The metric's value for a team's report; `None` when the report lacks it (an
    /// operation kind not sent, no `totalVerifyErrorRate`) and for `silent`, which
    /// is measured by time, not by a report.
    pub fn value(&self, metrics: &Metrics) -> Option<f64> {
        match self {
            Metric::Qps => Some(metrics.qps),
            Metric::AvgLatency => Some(metrics.avg_latency),
            Metric::P99Latency => Some(metrics.p99_latency),
            Metric::HighPriorityLatency => Some(metrics.high_priority_latency),
            Metric::DataLossRate => Some(metrics.data_loss_rate),
            Metric::VerifyErrorRate => metrics.verify_error_rate,
            Metric::Percentile(kind, quantile) => {
                let (_, p) = metrics.percentiles.iter().find(|(k, _)| k == kind)?;
                Some(match quantile {
                    Quantile::P50 => p.p50,
                    Quantile::P90 => p.p90,
                    Quantile::P99 => p.p99,
                    Quantile::P999 => p.p999,
                })
            }
            Metric::Silent => None,
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Op {
    /// Longest first, so `>=` is not read as `>` followed by `=`.
    pub(crate) const ALL: [(&'static str, Op); 6] = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        (">", Op::Gt),
        ("<", Op::Lt),
    ];

    pub fn as_str(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map(|(s, _)| *s)
            .expect("every op is listed")
    }

    pub(crate) fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Gt => value > threshold,
            Op::Ge => value >= threshold,
            Op::Lt => value < threshold,
            Op::Le => value <= threshold,
            Op::Eq => value == threshold,
            Op::Ne => value != threshold,
        }
    }
}

/// `metric op number`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub metric: Metric,
    /// The metric as written in the rule.
    pub metric_name: String,
    pub op: Op,
    pub threshold: f64,
}

impl Condition {
    /// Parses `p99_latency > 200`; the error says what was expected where.
    pub fn parse(text: &str) -> Result<Condition, String> {
        let text = text.trim();
        let name_end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(text.len());
        let metric_name = &text[..name_end];
        if metric_name.is_empty() {
            return Err("expected `metric op number`, e.g. \"p99_latency > 200\"".into());
        }
        let metric = Metric::parse(metric_name).ok_or_else(|| {
            format!(
                "unknown metric {metric_name:?}; known: {}",
                Metric::known_names()
            )
        })?;
        let rest = text[name_end..].trim_start();
        let (op_text, op) = Op::ALL
            .iter()
            .find(|(s, _)| rest.starts_with(s))
            .ok_or_else(|| {
                format!("expected an operator (>, >=, <, <=, ==, !=) after {metric_name:?}")
            })?;
        let number = rest[op_text.len()..].trim();
        let threshold = number
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| {
                format!("expected a finite number after {op_text:?}, found {number:?}")
            })?;
        if metric == Metric::Silent && !matches!(op, Op::Gt | Op::Ge) {
            return Err("silent counts seconds without a report: use `silent > N`".into());
        }
        Ok(Condition {
            metric,
            metric_name: metric_name.to_string(),
            op: *op,
            threshold,
        })
    }

    /// True when `value` breaks the threshold (the alert's condition holds).
    pub fn holds(&self, value: f64) -> bool {
        self.op.holds(value, self.threshold)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.metric_name,
            self.op.as_str(),
            self.threshold
        )
    }
}

#[cfg(test)]
mod tests;
