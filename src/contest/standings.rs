//! The standings of the teams under the ranking rule in force: what `/api/teams`,
//! the board and `benchboard-history best` show as `rank`, `score` and `qualified`.
//!
//! A report is taken into account when it counts for the ranking: always without a
//! schedule, only when it arrived in `[start, end)` with one (a report after the end
//! is stored, not ranked).

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::ranking::{RankingRule, Reason, Standing, rank};
use super::schedule::Schedule;
use crate::store::Headline;

/// The rule and the schedule a standing is built under.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub rule: RankingRule,
    pub schedule: Option<Schedule>,
}

impl Rules {
    /// Whether a report arriving at `at` is taken into account.
    pub fn counts(&self, at: DateTime<FixedOffset>) -> bool {
        self.schedule.is_none_or(|s| s.counts(at))
    }

    /// Adds one report to a team's standing when it counts.
    pub fn add(&self, standing: &mut Standing, headline: &Headline, at: DateTime<FixedOffset>) {
        if self.counts(at) {
            standing.add(&self.rule, headline, at.timestamp_millis());
        }
    }

    /// A team's standing from its reports (timestamps as stored, oldest first); a
    /// timestamp that does not parse is left out.
    pub fn standing_of(&self, reports: &[(String, Headline)]) -> Standing {
        let mut standing = Standing::default();
        for (timestamp, headline) in reports {
            if let Some(at) = crate::timefmt::parse_timestamp(timestamp) {
                self.add(&mut standing, headline, at);
            }
        }
        standing
    }
}

/// A team's place as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    /// 1 for the first; every team has one (the disqualified after the qualified).
    pub rank: usize,
    /// The value the team is ranked by (its score); `None` without one.
    pub score: Option<f64>,
    /// False when no report of the team counts (the `disqualify` conditions).
    pub qualified: bool,
    /// The conditions the team's latest counted report breaks, with its values.
    pub disqualified_for: Vec<Reason>,
}

/// Ranks `teams` (key, standing) by `rule`: each key with its [`Ranked`], best first.
pub fn ranked<K: Ord + Clone>(rule: &RankingRule, teams: &[(K, Standing)]) -> Vec<(K, Ranked)> {
    rank(rule, teams)
        .into_iter()
        .map(|placing| {
            let s = placing.standing;
            (
                placing.key.clone(),
                Ranked {
                    rank: placing.rank,
                    score: s.score.or(s.unqualified).map(|r| r.value),
                    qualified: s.qualified(),
                    disqualified_for: if s.qualified() {
                        Vec::new()
                    } else {
                        s.reasons.clone()
                    },
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contest::ranking::RankingSection;

    fn rules(section: &str, schedule: Option<Schedule>) -> Rules {
        #[derive(Deserialize)]
        struct File {
            ranking: RankingSection,
        }
        let file: File = toml::from_str(section).unwrap();
        Rules {
            rule: file.ranking.check().unwrap(),
            schedule,
        }
    }

    fn report(at: &str, qps: f64, loss: f64) -> (String, Headline) {
        (
            at.to_string(),
            Headline {
                qps,
                data_loss_rate: loss,
                ..Headline::default()
            },
        )
    }

    #[test]
    fn hand_made_teams_tie_to_the_first_and_the_disqualified_come_last_with_reasons() {
        let rules = rules(
            "[ranking]\nby = \"qps\"\ndisqualify = [\"data_loss_rate > 1\"]\n",
            None,
        );
        let teams = vec![
            (
                "late",
                rules.standing_of(&[report("2026-12-01T14:10:00Z", 500.0, 0.0)]),
            ),
            (
                "early",
                rules.standing_of(&[
                    report("2026-12-01T14:01:00Z", 300.0, 0.0),
                    report("2026-12-01T14:05:00Z", 500.0, 0.0),
                ]),
            ),
            (
                "lossy",
                rules.standing_of(&[report("2026-12-01T14:00:00Z", 9000.0, 5.0)]),
            ),
            (
                "slow",
                rules.standing_of(&[report("2026-12-01T14:00:00Z", 10.0, 0.0)]),
            ),
        ];
        let placed = ranked(&rules.rule, &teams);
        let order: Vec<_> = placed.iter().map(|(k, r)| (*k, r.rank)).collect();
        assert_eq!(
            order,
            [("early", 1), ("late", 2), ("slow", 3), ("lossy", 4)]
        );
        let lossy = &placed[3].1;
        assert!(!lossy.qualified);
        assert_eq!(lossy.score, Some(9000.0));
        assert_eq!(lossy.disqualified_for[0].condition, "data_loss_rate > 1");
        assert_eq!(lossy.disqualified_for[0].value, 5.0);
        assert!(placed[0].1.qualified && placed[0].1.disqualified_for.is_empty());
    }

    #[test]
    fn reports_outside_the_contest_are_not_ranked() {
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap();
        let schedule =
            Schedule::new(at("2026-12-01T14:00:00Z"), at("2026-12-01T18:00:00Z"), None).unwrap();
        let rules = rules("[ranking]\nby = \"qps\"\n", Some(schedule));
        let standing = rules.standing_of(&[
            report("2026-12-01T13:59:59Z", 1000.0, 0.0),
            report("2026-12-01T15:00:00Z", 100.0, 0.0),
            report("2026-12-01T18:00:00Z", 5000.0, 0.0),
            report("not a time", 7000.0, 0.0),
        ]);
        assert_eq!(standing.score.unwrap().value, 100.0);
        assert_eq!(standing.reports, 1);
    }
}
