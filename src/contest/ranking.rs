//! The ranking rule (`[ranking]` of the contest file) and the standings it gives:
//! pure functions over the derived numbers of each report (the store's [`Headline`]).
//!
//! ```toml
//! [ranking]
//! by = "qps"                      # one metric (qps, avg_latency, p99_latency, ...)
//! # score = "qps * (1 - data_loss_rate / 100)"   # or a score over the metrics
//! better = "higher"               # or "lower"; default: lower for latencies and rates
//! value = "best"                  # the team's best report counts, or its "latest"
//! disqualify = ["data_loss_rate > 1", "verify_error_rate > 0.5"]
//! ```
//!
//! A report *counts* when it breaks no `disqualify` condition. A team's score is the
//! best value of its counting reports (`value = "best"`), or the value of its latest
//! report if that one counts (`"latest"`). A team with a score is qualified; the
//! others rank after all qualified teams (by their value ignoring the conditions),
//! with the conditions their latest report breaks as the reason. Ties go to whoever
//! reached the value first, then by team id. Score expressions are evaluated by the
//! `evalexpr` crate with the metrics as variables; a value that cannot be computed
//! (a metric the report lacks, a division by zero) leaves the report without one.
//!
//! Without a `[ranking]` section the rule is the original board's: the latest QPS.

use std::cmp::Ordering;

use evalexpr::{
    Context, DefaultNumericTypes, EvalexprError, Node, Value, error::EvalexprResultValue,
};
use serde::{Deserialize, Serialize};

use super::condition::{Condition, METRICS, Metric};
use crate::store::Headline;

/// Why a `[ranking]` section is refused; each message names the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RankingError {
    /// Both `by` and `score`, or an unknown metric in `by`.
    #[error("[ranking] {0}")]
    Basis(String),
    /// `score` does not parse, uses an unknown variable or gives no number.
    #[error("[ranking] score = {expression:?}: {reason}")]
    Score { expression: String, reason: String },
    /// A `disqualify` entry is not `metric op number`.
    #[error("[ranking] disqualify = {condition:?}: {reason}")]
    Disqualify { condition: String, reason: String },
}

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

/// Which report of a team counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Counted {
    /// The team's best counting report.
    #[default]
    Best,
    /// The team's latest report, if it counts.
    Latest,
}

/// `[ranking]` as written.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankingSection {
    pub by: Option<String>,
    pub score: Option<String>,
    pub better: Option<Better>,
    #[serde(default)]
    pub value: Counted,
    #[serde(default)]
    pub disqualify: Vec<String>,
}

/// What a team is ranked by.
#[derive(Debug, Clone, PartialEq)]
pub enum Basis {
    Metric(Metric),
    Score { expression: String, tree: Box<Node> },
}

/// A checked ranking rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RankingRule {
    pub basis: Basis,
    pub better: Better,
    pub counted: Counted,
    pub disqualify: Vec<Condition>,
}

impl Default for RankingRule {
    /// The original board's order: the latest completed QPS, higher first.
    fn default() -> RankingRule {
        RankingRule {
            basis: Basis::Metric(Metric::Qps),
            better: Better::Higher,
            counted: Counted::Latest,
            disqualify: Vec::new(),
        }
    }
}

impl RankingSection {
    /// Checks the section: one basis (`by` or `score`, default `by = "qps"`), a score
    /// over known metrics that gives a number, conditions in the alert rules' syntax.
    pub fn check(&self) -> Result<RankingRule, RankingError> {
        let basis = match (&self.by, &self.score) {
            (Some(_), Some(_)) => {
                return Err(RankingError::Basis(
                    "give either by = \"<metric>\" or score = \"<expression>\", not both".into(),
                ));
            }
            (None, Some(expression)) => Basis::Score {
                expression: expression.clone(),
                tree: Box::new(parse_score(expression)?),
            },
            (by, None) => {
                let name = by.as_deref().unwrap_or("qps");
                Basis::Metric(Metric::parse(name).ok_or_else(|| {
                    RankingError::Basis(format!(
                        "by = {name:?}: unknown metric; known: {}",
                        Metric::known_names()
                    ))
                })?)
            }
        };
        let better = self.better.unwrap_or(match &basis {
            Basis::Metric(metric) if metric.lower_is_better() => Better::Lower,
            _ => Better::Higher,
        });
        let disqualify = self
            .disqualify
            .iter()
            .map(|text| {
                Condition::parse(text).map_err(|reason| RankingError::Disqualify {
                    condition: text.clone(),
                    reason,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(RankingRule {
            basis,
            better,
            counted: self.value,
            disqualify,
        })
    }
}

fn parse_score(expression: &str) -> Result<Node, RankingError> {
    let error = |reason: String| RankingError::Score {
        expression: expression.to_string(),
        reason,
    };
    let tree = evalexpr::build_operator_tree::<DefaultNumericTypes>(expression)
        .map_err(|e| error(e.to_string()))?;
    if let Some(unknown) = tree
        .iter_variable_identifiers()
        .find(|name| Metric::parse(name).is_none())
    {
        return Err(error(format!(
            "unknown variable {unknown:?}; the metrics are {}",
            Metric::known_names()
        )));
    }
    // Every metric at 1 must give a number: catches strings, booleans, assignments.
    let sample = Headline {
        qps: 1.0,
        avg_latency: 1.0,
        p99_latency: 1.0,
        data_loss_rate: 1.0,
        high_priority_latency: 1.0,
        verify_error_rate: Some(1.0),
    };
    match tree.eval_number_with_context(&MetricsContext::of(&sample)) {
        Ok(_) => Ok(tree),
        Err(e) => Err(error(format!("does not give a number: {e}"))),
    }
}

/// The metrics of one report as the variables of a score expression.
struct MetricsContext {
    values: [Value; METRICS.len()],
}

impl MetricsContext {
    fn of(headline: &Headline) -> MetricsContext {
        MetricsContext {
            values: METRICS.map(|(_, metric)| match metric.value(headline) {
                Some(v) => Value::Float(v),
                None => Value::Empty,
            }),
        }
    }
}

impl Context for MetricsContext {
    type NumericTypes = DefaultNumericTypes;

    fn get_value(&self, identifier: &str) -> Option<&Value> {
        let index = METRICS.iter().position(|(name, _)| *name == identifier)?;
        Some(&self.values[index])
    }

    fn call_function(&self, identifier: &str, _argument: &Value) -> EvalexprResultValue {
        Err(EvalexprError::FunctionIdentifierNotFound(
            identifier.to_string(),
        ))
    }

    fn are_builtin_functions_disabled(&self) -> bool {
        false
    }

    fn set_builtin_functions_disabled(
        &mut self,
        _disabled: bool,
    ) -> evalexpr::EvalexprResult<(), DefaultNumericTypes> {
        Err(EvalexprError::BuiltinFunctionsCannotBeDisabled)
    }
}

impl RankingRule {
    /// The value this report is ranked by; `None` when it cannot be computed.
    pub fn value(&self, headline: &Headline) -> Option<f64> {
        let value = match &self.basis {
            Basis::Metric(metric) => metric.value(headline),
            Basis::Score { tree, .. } => tree
                .eval_number_with_context(&MetricsContext::of(headline))
                .ok(),
        };
        value.filter(|v| v.is_finite())
    }

    /// The conditions this report breaks, each with the report's value.
    pub fn broken(&self, headline: &Headline) -> Vec<Reason> {
        self.disqualify
            .iter()
            .filter_map(|c| {
                c.broken_by(headline).map(|value| Reason {
                    condition: c.to_string(),
                    value,
                })
            })
            .collect()
    }

    /// True when `a` is a better value than `b`.
    pub fn is_better(&self, a: f64, b: f64) -> bool {
        match self.better {
            Better::Higher => a > b,
            Better::Lower => a < b,
        }
    }

    /// `qps`, or the score expression as written.
    pub fn basis_text(&self) -> String {
        match &self.basis {
            Basis::Metric(metric) => metric.name().to_string(),
            Basis::Score { expression, .. } => expression.clone(),
        }
    }

    /// The rule as the API and the board show it.
    pub fn describe(&self) -> RuleDescription {
        RuleDescription {
            by: match &self.basis {
                Basis::Metric(metric) => Some(metric.name().to_string()),
                Basis::Score { .. } => None,
            },
            score: match &self.basis {
                Basis::Metric(_) => None,
                Basis::Score { expression, .. } => Some(expression.clone()),
            },
            better: self.better,
            value: self.counted,
            disqualify: self.disqualify.iter().map(ToString::to_string).collect(),
        }
    }
}

/// The rule in the API's words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleDescription {
    pub by: Option<String>,
    pub score: Option<String>,
    pub better: Better,
    pub value: Counted,
    pub disqualify: Vec<String>,
}

/// A condition a report breaks, with the report's value of its metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// The condition as the rule writes it: `data_loss_rate > 1`.
    pub condition: String,
    /// The report's value of the condition's metric.
    pub value: f64,
}

/// A value and when (ms since the Unix epoch) the team reached it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reached {
    pub value: f64,
    pub at_ms: i64,
}

/// One team's standing, built report by report (oldest first) with [`Standing::add`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Standing {
    /// The counted value: `None` when no report counts (disqualified or no value).
    pub score: Option<Reached>,
    /// The same, ignoring the disqualify conditions: orders the disqualified teams.
    pub unqualified: Option<Reached>,
    /// The conditions the latest report breaks.
    pub reasons: Vec<Reason>,
    /// Reports taken into account.
    pub reports: usize,
}

impl Standing {
    /// Takes one more report (of time `at_ms`) into account.
    pub fn add(&mut self, rule: &RankingRule, headline: &Headline, at_ms: i64) {
        self.reports += 1;
        self.reasons = rule.broken(headline);
        let value = rule.value(headline);
        let counts = self.reasons.is_empty();
        self.unqualified = next(rule, self.unqualified, value, at_ms);
        self.score = match (counts, rule.counted) {
            (true, _) => next(rule, self.score, value, at_ms),
            (false, Counted::Best) => self.score,
            (false, Counted::Latest) => None,
        };
    }

    /// True when a report of the team counts.
    pub fn qualified(&self) -> bool {
        self.score.is_some()
    }
}

/// The standing value after a report with `value` at `at_ms`: the better of the two
/// (the earlier on a tie) for `best`; the report's own for `latest`, keeping the
/// earlier time while the value stays the same.
fn next(
    rule: &RankingRule,
    held: Option<Reached>,
    value: Option<f64>,
    at_ms: i64,
) -> Option<Reached> {
    let Some(value) = value else {
        return match rule.counted {
            Counted::Best => held,
            Counted::Latest => None,
        };
    };
    let reached = Reached { value, at_ms };
    match (rule.counted, held) {
        (_, None) => Some(reached),
        (Counted::Best, Some(h)) if rule.is_better(value, h.value) => Some(reached),
        (Counted::Best, Some(h)) => Some(h),
        (Counted::Latest, Some(h)) if h.value == value => Some(h),
        (Counted::Latest, Some(_)) => Some(reached),
    }
}

/// One place of the standings.
#[derive(Debug, Clone, PartialEq)]
pub struct Placing<'a, K> {
    pub rank: usize,
    pub key: &'a K,
    pub standing: &'a Standing,
}

/// Ranks the standings: qualified teams by score, then the others by their value
/// ignoring the conditions, then teams without any value; ties to whoever reached
/// the value first, then by key.
pub fn rank<'a, K: Ord>(rule: &RankingRule, teams: &'a [(K, Standing)]) -> Vec<Placing<'a, K>> {
    let mut order: Vec<&'a (K, Standing)> = teams.iter().collect();
    order.sort_by(|(ka, a), (kb, b)| {
        let group = |s: &Standing| match (s.score, s.unqualified) {
            (Some(r), _) => (0, Some(r)),
            (None, Some(r)) => (1, Some(r)),
            (None, None) => (2, None),
        };
        let (ga, ra) = group(a);
        let (gb, rb) = group(b);
        ga.cmp(&gb)
            .then_with(|| match (ra, rb) {
                (Some(x), Some(y)) => {
                    compare_values(rule, x.value, y.value).then(x.at_ms.cmp(&y.at_ms))
                }
                _ => Ordering::Equal,
            })
            .then_with(|| ka.cmp(kb))
    });
    order
        .into_iter()
        .enumerate()
        .map(|(i, (key, standing))| Placing {
            rank: i + 1,
            key,
            standing,
        })
        .collect()
}

fn compare_values(rule: &RankingRule, a: f64, b: f64) -> Ordering {
    match rule.better {
        Better::Higher => b.total_cmp(&a),
        Better::Lower => a.total_cmp(&b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(toml_text: &str) -> Result<RankingRule, String> {
        #[derive(Deserialize)]
        struct File {
            ranking: RankingSection,
        }
        let file: File = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        file.ranking.check().map_err(|e| e.to_string())
    }

    fn report(qps: f64, loss: f64) -> Headline {
        Headline {
            qps,
            avg_latency: 1000.0 / qps.max(1.0),
            data_loss_rate: loss,
            ..Headline::default()
        }
    }

    fn standing(rule: &RankingRule, reports: &[(f64, f64, i64)]) -> Standing {
        let mut s = Standing::default();
        for (qps, loss, at) in reports {
            s.add(rule, &report(*qps, *loss), *at);
        }
        s
    }

    fn order(rule: &RankingRule, teams: &[(&'static str, Standing)]) -> Vec<&'static str> {
        rank(rule, teams).into_iter().map(|p| *p.key).collect()
    }

    #[test]
    fn ties_go_to_who_reached_the_value_first() {
        let rule = rule("[ranking]\nby = \"qps\"\n").unwrap();
        let teams = [
            ("a", standing(&rule, &[(100.0, 0.0, 10), (90.0, 0.0, 20)])),
            ("b", standing(&rule, &[(80.0, 0.0, 1), (100.0, 0.0, 5)])),
            ("c", standing(&rule, &[(150.0, 0.0, 30)])),
            ("d", Standing::default()),
        ];
        assert_eq!(order(&rule, &teams), ["c", "b", "a", "d"]);
        assert_eq!(
            teams[0].1.score,
            Some(Reached {
                value: 100.0,
                at_ms: 10
            })
        );
    }

    #[test]
    fn disqualified_teams_rank_after_the_qualified_with_their_reason() {
        let rule = rule(
            "[ranking]\nscore = \"qps * (1 - data_loss_rate / 100)\"\ndisqualify = [\"data_loss_rate > 1\"]\n",
        )
        .unwrap();
        let teams = [
            // Fast but lossy from the start: never counts.
            (
                "lossy",
                standing(&rule, &[(900.0, 2.0, 1), (950.0, 3.5, 2)]),
            ),
            ("slow", standing(&rule, &[(100.0, 0.0, 1)])),
            // Its best report counts; the later lossy one does not take it away.
            ("late", standing(&rule, &[(500.0, 0.5, 1), (800.0, 1.5, 2)])),
        ];
        assert_eq!(order(&rule, &teams), ["late", "slow", "lossy"]);
        let lossy = &teams[0].1;
        assert!(!lossy.qualified());
        assert_eq!(
            lossy.reasons,
            [Reason {
                condition: "data_loss_rate > 1".into(),
                value: 3.5
            }]
        );
        assert_eq!(teams[2].1.score.unwrap().value, 500.0 * 0.995);
        assert!(teams[2].1.qualified() && !teams[2].1.reasons.is_empty());
    }

    #[test]
    fn latest_value_counts_only_while_it_qualifies() {
        let rule = rule(
            "[ranking]\nby = \"qps\"\nvalue = \"latest\"\ndisqualify = [\"data_loss_rate > 1\"]\n",
        )
        .unwrap();
        let s = standing(&rule, &[(100.0, 0.0, 1), (100.0, 0.0, 2), (300.0, 5.0, 3)]);
        assert_eq!(s.score, None);
        assert_eq!(s.unqualified.unwrap().value, 300.0);
        let s = standing(&rule, &[(100.0, 0.0, 1), (100.0, 0.0, 2)]);
        assert_eq!(
            s.score,
            Some(Reached {
                value: 100.0,
                at_ms: 1
            }),
            "held since it was first reached"
        );
    }

    #[test]
    fn lower_is_better_for_latencies() {
        let rule = rule("[ranking]\nby = \"avg_latency\"\n").unwrap();
        assert_eq!(rule.better, Better::Lower);
        let teams = [
            ("fast", standing(&rule, &[(200.0, 0.0, 1)])),
            ("slow", standing(&rule, &[(50.0, 0.0, 1)])),
        ];
        assert_eq!(order(&rule, &teams), ["fast", "slow"]);
    }

    #[test]
    fn refuses_bad_sections_naming_the_key() {
        for (text, wanted) in [
            ("by = \"qps\"\nscore = \"qps\"", "not both"),
            ("by = \"speed\"", "by = \"speed\": unknown metric"),
            ("score = \"qps * bonus\"", "unknown variable \"bonus\""),
            ("score = \"qps *\"", "score = \"qps *\""),
            ("score = \"\\\"x\\\"\"", "does not give a number"),
            (
                "disqualify = [\"loss > 1\"]",
                "disqualify = \"loss > 1\": unknown metric",
            ),
            ("better = \"faster\"", "unknown variant `faster`"),
            ("colour = \"red\"", "unknown field `colour`"),
        ] {
            let error = rule(&format!("[ranking]\n{text}\n")).unwrap_err();
            assert!(error.contains(wanted), "{text}: {error}");
        }
    }

    #[test]
    fn a_score_that_cannot_be_computed_leaves_the_report_without_a_value() {
        let rule = rule("[ranking]\nscore = \"qps - verify_error_rate\"\n").unwrap();
        assert_eq!(rule.value(&report(10.0, 0.0)), None, "no verify rate");
        let with = Headline {
            verify_error_rate: Some(2.0),
            ..report(10.0, 0.0)
        };
        assert_eq!(rule.value(&with), Some(8.0));
        let default = RankingRule::default();
        assert_eq!(default.value(&report(7.0, 0.0)), Some(7.0));
        assert_eq!(default.counted, Counted::Latest);
    }
}
