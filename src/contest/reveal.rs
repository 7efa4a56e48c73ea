//! The reveal: from the frozen standings to the final ones, one team at a time,
//! from the last place up, as the ICPC resolver does it.
//!
//! [`plan`] rewinds to the freeze and works out the steps: take the lowest-placed
//! team whose final standing differs from its frozen one, show its final standing,
//! rank again (it may move up), and go on with the lowest such team left. Teams that
//! sent nothing after the freeze have no step. Each [`Step`] carries the whole
//! standings after it, so a viewer that joins mid-reveal sees the same rows.
//!
//! [`Reveal`] is the ceremony's state: the plan, how many steps are shown, and
//! `auto` (a step every N seconds). It is kept in the data directory
//! ([`super::state`]), or with PostgreSQL in the database (shared by every
//! instance), so a restart keeps the step; once every step is shown the board is
//! thawed (the public sees everything).

use chrono::{DateTime, FixedOffset, TimeDelta};
use serde::{Deserialize, Serialize};

use super::ranking::{RankingRule, Standing, rank};
use crate::timefmt;

/// One row of the standings as the reveal shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub rank: usize,
    pub team_id: String,
    pub team_name: String,
    /// The counted value (`None`: no counting report).
    pub score: Option<f64>,
    pub qualified: bool,
    /// True once this team's final standing is shown.
    pub revealed: bool,
}

/// One step: a team's final standing shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub team_id: String,
    pub team_name: String,
    /// Its place before the step (among the standings of the step before).
    pub from_rank: usize,
    /// Its place after the step.
    pub to_rank: usize,
    pub frozen_score: Option<f64>,
    pub final_score: Option<f64>,
    /// The whole standings after the step, best first.
    pub standings: Vec<Row>,
}

/// A team for the plan: id, name, standing at the freeze and at the end.
#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub frozen: Standing,
    pub last: Standing,
}

/// The standings at the freeze and the steps to the final ones.
pub fn plan(rule: &RankingRule, teams: &[Team]) -> (Vec<Row>, Vec<Step>) {
    let mut current: Vec<(String, Standing)> = teams
        .iter()
        .map(|t| (t.id.clone(), t.frozen.clone()))
        .collect();
    let mut revealed = vec![false; teams.len()];
    let frozen_rows = rows(rule, teams, &current, &revealed);
    let mut steps = Vec::new();
    let mut shown = frozen_rows.clone();
    // Each time the lowest-placed team whose standing still changes.
    while let Some(next) = shown.iter().rev().find(|row| {
        let i = index_of(teams, &row.team_id);
        !revealed[i] && teams[i].frozen != teams[i].last
    }) {
        let i = index_of(teams, &next.team_id);
        let from_rank = next.rank;
        current[i].1 = teams[i].last.clone();
        revealed[i] = true;
        shown = rows(rule, teams, &current, &revealed);
        let to_rank = shown
            .iter()
            .find(|r| r.team_id == teams[i].id)
            .map_or(from_rank, |r| r.rank);
        steps.push(Step {
            team_id: teams[i].id.clone(),
            team_name: teams[i].name.clone(),
            from_rank,
            to_rank,
            frozen_score: teams[i].frozen.score.map(|r| r.value),
            final_score: teams[i].last.score.map(|r| r.value),
            standings: shown.clone(),
        });
    }
    (frozen_rows, steps)
}

/// The standings of `current` (in the order of `teams`), best first.
fn rows(
    rule: &RankingRule,
    teams: &[Team],
    current: &[(String, Standing)],
    revealed: &[bool],
) -> Vec<Row> {
    rank(rule, current)
        .into_iter()
        .map(|p| {
            let i = index_of(teams, p.key);
            Row {
                rank: p.rank,
                team_id: p.key.clone(),
                team_name: teams[i].name.clone(),
                score: p.standing.score.map(|r| r.value),
                qualified: p.standing.qualified(),
                revealed: revealed[i],
            }
        })
        .collect()
}

fn index_of(teams: &[Team], id: &str) -> usize {
    teams.iter().position(|t| t.id == id).unwrap_or(0)
}

/// The ceremony's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reveal {
    /// When the organiser started it.
    pub started_at: String,
    /// The standings at the freeze, best first.
    pub frozen: Vec<Row>,
    pub steps: Vec<Step>,
    /// Steps shown so far.
    pub shown: usize,
    /// With `auto`: seconds between steps.
    pub auto_secs: Option<u64>,
    /// When the last step was shown (or the reveal started).
    pub last_step_at: String,
}

/// What viewers are told of the reveal (`/api/contest`, the WebSocket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevealView {
    /// `revealing` until the last step is shown, then `finished`.
    pub status: RevealStatus,
    /// Steps shown so far.
    pub step: usize,
    /// Steps in all.
    pub steps: usize,
    /// The step just shown (none right after the start).
    pub current: Option<StepView>,
    /// The standings as they now stand, best first.
    pub standings: Vec<Row>,
    pub auto_secs: Option<u64>,
}

/// A step without its standings (they are the view's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    pub team_id: String,
    pub team_name: String,
    pub from_rank: usize,
    pub to_rank: usize,
    pub frozen_score: Option<f64>,
    pub final_score: Option<f64>,
}

/// `revealing` or `finished`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevealStatus {
    Revealing,
    Finished,
}

impl Reveal {
    /// A reveal started at `now`, nothing shown yet.
    pub fn start(
        rule: &RankingRule,
        teams: &[Team],
        now: DateTime<FixedOffset>,
        auto_secs: Option<u64>,
    ) -> Reveal {
        let (frozen, steps) = plan(rule, teams);
        Reveal {
            started_at: timefmt::format_timestamp(&now),
            frozen,
            steps,
            shown: 0,
            auto_secs,
            last_step_at: timefmt::format_timestamp(&now),
        }
    }

    /// True once every step is shown: the board is thawed.
    pub fn finished(&self) -> bool {
        self.shown >= self.steps.len()
    }

    /// Shows the next step at `now`; `None` when there is none left.
    pub fn next(&mut self, now: DateTime<FixedOffset>) -> Option<&Step> {
        if self.finished() {
            return None;
        }
        self.shown += 1;
        self.last_step_at = timefmt::format_timestamp(&now);
        self.steps.get(self.shown - 1)
    }

    /// True when `auto` is on and its interval has passed since the last step.
    pub fn auto_due(&self, now: DateTime<FixedOffset>) -> bool {
        let Some(every) = self.auto_secs else {
            return false;
        };
        let Some(last) = timefmt::parse_timestamp(&self.last_step_at) else {
            return false;
        };
        !self.finished() && now >= last + TimeDelta::seconds(every as i64)
    }

    /// Ids of the teams already shown whole.
    pub fn revealed(&self) -> impl Iterator<Item = &str> {
        self.steps[..self.shown.min(self.steps.len())]
            .iter()
            .map(|s| s.team_id.as_str())
    }

    /// What viewers are told.
    pub fn view(&self) -> RevealView {
        let current = self.shown.checked_sub(1).and_then(|i| self.steps.get(i));
        RevealView {
            status: if self.finished() {
                RevealStatus::Finished
            } else {
                RevealStatus::Revealing
            },
            step: self.shown,
            steps: self.steps.len(),
            current: current.map(|s| StepView {
                team_id: s.team_id.clone(),
                team_name: s.team_name.clone(),
                from_rank: s.from_rank,
                to_rank: s.to_rank,
                frozen_score: s.frozen_score,
                final_score: s.final_score,
            }),
            standings: current.map_or_else(|| self.frozen.clone(), |s| s.standings.clone()),
            auto_secs: self.auto_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Headline;

    fn standing(rule: &RankingRule, qps: &[f64]) -> Standing {
        let mut s = Standing::default();
        for (i, &q) in qps.iter().enumerate() {
            let headline = Headline {
                qps: q,
                ..Headline::default()
            };
            s.add(rule, &headline, i as i64);
        }
        s
    }

    fn team(rule: &RankingRule, id: &str, frozen: &[f64], last: &[f64]) -> Team {
        Team {
            id: id.into(),
            name: id.to_uppercase(),
            frozen: standing(rule, frozen),
            last: standing(rule, last),
        }
    }

    #[test]
    fn steps_go_from_the_last_place_up_and_skip_unchanged_teams() {
        let rule = RankingRule::default();
        let teams = [
            team(&rule, "a", &[300.0], &[300.0]),
            team(&rule, "b", &[200.0], &[200.0, 100.0]),
            team(&rule, "c", &[100.0], &[100.0, 400.0]),
        ];
        let (frozen, steps) = plan(&rule, &teams);
        let order = |rows: &[Row]| rows.iter().map(|r| r.team_id.clone()).collect::<Vec<_>>();
        assert_eq!(order(&frozen), ["a", "b", "c"]);
        assert_eq!(steps.len(), 2, "a sent nothing after the freeze");
        assert_eq!(
            (
                steps[0].team_id.as_str(),
                steps[0].from_rank,
                steps[0].to_rank
            ),
            ("c", 3, 1)
        );
        assert_eq!(order(&steps[0].standings), ["c", "a", "b"]);
        assert_eq!(
            (
                steps[1].team_id.as_str(),
                steps[1].from_rank,
                steps[1].to_rank
            ),
            ("b", 3, 3)
        );
        assert!(steps[1].standings.iter().filter(|r| r.revealed).count() == 2);
    }

    #[test]
    fn the_reveal_steps_then_finishes_and_auto_follows_the_clock() {
        let rule = RankingRule::default();
        let teams = [
            team(&rule, "a", &[1.0], &[2.0]),
            team(&rule, "b", &[3.0], &[4.0]),
        ];
        let now = DateTime::parse_from_rfc3339("2026-12-01T18:00:00Z").unwrap();
        let mut reveal = Reveal::start(&rule, &teams, now, Some(5));
        assert_eq!(reveal.view().step, 0);
        assert!(!reveal.auto_due(now + TimeDelta::seconds(4)));
        assert!(reveal.auto_due(now + TimeDelta::seconds(5)));
        assert_eq!(reveal.next(now).unwrap().team_id, "a");
        assert_eq!(reveal.next(now).unwrap().team_id, "b");
        assert!(reveal.finished() && reveal.next(now).is_none());
        assert_eq!(reveal.view().status, RevealStatus::Finished);
        assert_eq!(reveal.revealed().collect::<Vec<_>>(), ["a", "b"]);
    }
}
