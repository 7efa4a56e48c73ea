//! `metric op number` conditions over the derived numbers the index keeps for every
//! report (`data_loss_rate > 1`, `verify_error_rate > 0.5`): the syntax of the alert
//! rules (`when = "p99_latency > 200"`), written so that the alerts can share it. A
//! strict parser: one metric, one operator, one finite number; anything else is an
//! error that says what was expected.

use std::fmt;

/// The operators of the alert rules' conditions, shared.
pub use crate::alerts::rules::Op;
use crate::store::Headline;

/// A derived number of one report, as the store's index keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
}

/// Every metric with its name, as rules and score expressions write it.
pub const METRICS: [(&str, Metric); 6] = [
    ("qps", Metric::Qps),
    ("avg_latency", Metric::AvgLatency),
    ("p99_latency", Metric::P99Latency),
    ("high_priority_latency", Metric::HighPriorityLatency),
    ("data_loss_rate", Metric::DataLossRate),
    ("verify_error_rate", Metric::VerifyErrorRate),
];

impl Metric {
    /// The metric called `name`.
    pub fn parse(name: &str) -> Option<Metric> {
        METRICS.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    /// The metric's name.
    pub fn name(self) -> &'static str {
        METRICS
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(n, _)| *n)
            .expect("every metric is listed")
    }

    /// Every metric name, for error messages.
    pub fn known_names() -> String {
        METRICS.map(|(n, _)| n).join(", ")
    }

    /// True when a lower value is the better one (latencies, rates).
    pub fn lower_is_better(self) -> bool {
        self != Metric::Qps
    }

    /// The metric's value in one report; `None` when the report lacks it.
    pub fn value(self, headline: &Headline) -> Option<f64> {
        match self {
            Metric::Qps => Some(headline.qps),
            Metric::AvgLatency => Some(headline.avg_latency),
            Metric::P99Latency => Some(headline.p99_latency),
            Metric::HighPriorityLatency => Some(headline.high_priority_latency),
            Metric::DataLossRate => Some(headline.data_loss_rate),
            Metric::VerifyErrorRate => headline.verify_error_rate,
        }
    }
}

/// `metric op number`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub metric: Metric,
    pub op: Op,
    pub threshold: f64,
}

impl Condition {
    /// Parses `data_loss_rate > 1`; the error says what was expected where.
    pub fn parse(text: &str) -> Result<Condition, String> {
        let text = text.trim();
        let name_end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(text.len());
        let name = &text[..name_end];
        if name.is_empty() {
            return Err("expected `metric op number`, e.g. \"data_loss_rate > 1\"".into());
        }
        let metric = Metric::parse(name)
            .ok_or_else(|| format!("unknown metric {name:?}; known: {}", Metric::known_names()))?;
        let rest = text[name_end..].trim_start();
        let (op_text, op) = Op::ALL
            .iter()
            .find(|(s, _)| rest.starts_with(s))
            .ok_or_else(|| format!("expected an operator (>, >=, <, <=, ==, !=) after {name:?}"))?;
        let number = rest[op_text.len()..].trim();
        let threshold = number
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| {
                format!("expected a finite number after {op_text:?}, found {number:?}")
            })?;
        Ok(Condition {
            metric,
            op: *op,
            threshold,
        })
    }

    /// The metric's value when the condition holds for this report (`None` when it
    /// does not, or when the report lacks the metric).
    pub fn broken_by(&self, headline: &Headline) -> Option<f64> {
        self.metric
            .value(headline)
            .filter(|v| self.op.holds(*v, self.threshold))
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.metric.name(),
            self.op.as_str(),
            self.threshold
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metric_op_number() {
        let c = Condition::parse(" data_loss_rate>=1.5 ").unwrap();
        assert_eq!(
            (c.metric, c.op, c.threshold),
            (Metric::DataLossRate, Op::Ge, 1.5)
        );
        assert_eq!(c.to_string(), "data_loss_rate >= 1.5");
        let headline = Headline {
            data_loss_rate: 2.0,
            ..Headline::default()
        };
        assert_eq!(c.broken_by(&headline), Some(2.0));
        let verify = Condition::parse("verify_error_rate > 0.5").unwrap();
        assert_eq!(verify.broken_by(&headline), None, "no value: not broken");
    }

    #[test]
    fn refuses_anything_else_saying_what_was_expected() {
        for (text, wanted) in [
            ("p99 > 200", "unknown metric \"p99\""),
            ("qps 200", "expected an operator"),
            ("qps > ", "found \"\""),
            (
                "qps > 1 && avg_latency < 3",
                "found \"1 && avg_latency < 3\"",
            ),
            ("qps > inf", "found \"inf\""),
            ("> 1", "expected `metric op number`"),
        ] {
            let error = Condition::parse(text).unwrap_err();
            assert!(error.contains(wanted), "{text}: {error}");
        }
    }
}
