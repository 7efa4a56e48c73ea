//! The state of every (rule, team): ok → pending → firing → resolved.
//!
//! Rules are evaluated on every report ([`AlertEngine::observe`]) and about once a
//! second ([`AlertEngine::tick`]: `silent > N` rules, and pending alerts whose `for`
//! has passed). Each change of state is kept with its value and time (the newest
//! [`MAX_CHANGES`]) and returned to the caller, which shows and sends it. Time comes
//! only from the [`Clock`], so tests move it by hand.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::clock::Clock;
use super::persist::{self, PersistError};
use super::rules::{Metric, Rule, Severity};
use crate::metrics::Metrics;
use crate::team::TeamId;
use crate::timefmt::format_timestamp;

/// State changes kept for `GET /api/alerts` (and across restarts).
pub const MAX_CHANGES: usize = 500;

/// Where one (rule, team) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The condition does not hold.
    Ok,
    /// It holds, for less than the rule's `for`.
    Pending,
    /// It has held for the rule's `for`: the alert is on.
    Firing,
    /// It stopped holding after firing.
    Resolved,
}

/// The phase after one evaluation. `holding_since` is when the condition began to
/// hold (set while pending or firing). A rule with `for = 0` goes from ok straight
/// to firing; a pending one whose condition stops holding goes back to ok.
pub fn next_phase(
    phase: Phase,
    holds: bool,
    holding_since: Option<DateTime<FixedOffset>>,
    now: DateTime<FixedOffset>,
    hold_for: Duration,
) -> Phase {
    let held =
        |since: DateTime<FixedOffset>| (now - since).to_std().unwrap_or(Duration::ZERO) >= hold_for;
    match (phase, holds) {
        (Phase::Ok | Phase::Resolved, true) if hold_for.is_zero() => Phase::Firing,
        (Phase::Ok | Phase::Resolved, true) => Phase::Pending,
        (Phase::Pending, true) if holding_since.is_none_or(held) => Phase::Firing,
        (Phase::Pending, false) => Phase::Ok,
        (Phase::Firing, false) => Phase::Resolved,
        (phase, _) => phase,
    }
}

/// One change of state of one (rule, team), as shown, sent and kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub rule: String,
    pub severity: Severity,
    /// The rule's condition as written, e.g. `p99_latency > 200`.
    pub condition: String,
    /// The metric the rule watches, e.g. `p99_latency`.
    pub metric: String,
    pub threshold: f64,
    pub team_id: String,
    pub team_name: String,
    pub from: Phase,
    pub to: Phase,
    /// The metric's value that caused the change (seconds for `silent`); null when
    /// the report lacks the metric.
    pub value: Option<f64>,
    /// When the change happened (RFC 3339).
    pub at: String,
    /// When the condition began to hold (for a resolved alert: when its trouble began).
    pub active_since: Option<String>,
}

/// An alert that is firing (or pending) now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiringAlert {
    pub rule: String,
    pub severity: Severity,
    pub team_id: String,
    pub team_name: String,
    pub condition: String,
    pub value: Option<f64>,
    /// When it began to fire (RFC 3339).
    pub since: String,
}

/// A team's name and last report time, for the `silent` rules.
#[derive(Debug, Clone)]
pub struct TeamActivity {
    pub id: TeamId,
    pub name: String,
    pub last_report: DateTime<FixedOffset>,
}

#[derive(Debug, Clone)]
struct Entry {
    phase: Phase,
    since: DateTime<FixedOffset>,
    holding_since: Option<DateTime<FixedOffset>>,
    value: Option<f64>,
    team_name: String,
}

#[derive(Debug, Default)]
struct Inner {
    /// Keyed by (index of the rule, team).
    entries: BTreeMap<(usize, TeamId), Entry>,
    /// Oldest first.
    changes: VecDeque<Change>,
    /// Changed since the state file was written.
    dirty: bool,
    /// (rule, team) changed since the state was last kept in a table, and the
    /// changes since then (oldest first; at most [`MAX_CHANGES`]).
    unsaved: BTreeSet<(usize, TeamId)>,
    unsaved_changes: VecDeque<Change>,
}

/// Every rule's state for every team, with the history of changes.
#[derive(Debug)]
pub struct AlertEngine {
    rules: Vec<Rule>,
    clock: Arc<dyn Clock>,
    kept: kept::Kept,
    inner: Mutex<Inner>,
}

impl AlertEngine {
    /// An engine for `rules`; with a `state_file`, the state saved there (by an
    /// earlier run) is taken up again, for the rules that still exist.
    pub fn new(
        rules: Vec<Rule>,
        clock: Arc<dyn Clock>,
        state_file: Option<PathBuf>,
    ) -> Result<AlertEngine, PersistError> {
        let mut inner = Inner::default();
        if let Some(path) = &state_file
            && let Some(saved) = persist::load(path)?
        {
            inner = kept::restore(&rules, saved);
        }
        Ok(AlertEngine {
            rules,
            clock,
            kept: state_file.map_or(kept::Kept::Nowhere, kept::Kept::File),
            inner: Mutex::new(inner),
        })
    }

    /// The rules, in the contest file's order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The engine's clock (the server's, or a test's).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not stop the alerts; the state stays consistent
        // (every update is a single assignment).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Evaluates every rule that watches `team` on its new report; the changes it caused.
    pub fn observe(&self, team: &TeamId, team_name: &str, metrics: &Metrics) -> Vec<Change> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        let now = self.clock.now();
        let mut inner = self.lock();
        let mut changes = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            if !rule.teams.matches(team) {
                continue;
            }
            // A report has just come: the team is not silent.
            let value = match rule.condition.metric {
                Metric::Silent => Some(0.0),
                metric => metric.value(metrics),
            };
            changes.extend(self.evaluate(&mut inner, index, team, team_name, value, now));
        }
        changes
    }

    /// Evaluates what depends on time alone: `silent` rules for every team in
    /// `teams`, and pending alerts whose `for` may have passed since their last report.
    pub fn tick(&self, teams: &[TeamActivity]) -> Vec<Change> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        let now = self.clock.now();
        let mut inner = self.lock();
        let mut changes = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            if rule.condition.metric != Metric::Silent {
                continue;
            }
            for team in teams.iter().filter(|t| rule.teams.matches(&t.id)) {
                let silent_s = (now - team.last_report).to_std().unwrap_or(Duration::ZERO);
                let value = Some(silent_s.as_secs_f64());
                changes.extend(self.evaluate(&mut inner, index, &team.id, &team.name, value, now));
            }
        }
        let pending: Vec<(usize, TeamId, String, Option<f64>)> = inner
            .entries
            .iter()
            .filter(|((index, _), e)| {
                e.phase == Phase::Pending && self.rules[*index].condition.metric != Metric::Silent
            })
            .map(|((index, team), e)| (*index, team.clone(), e.team_name.clone(), e.value))
            .collect();
        for (index, team, name, value) in pending {
            changes.extend(self.evaluate(&mut inner, index, &team, &name, value, now));
        }
        changes
    }

    fn evaluate(
        &self,
        inner: &mut Inner,
        index: usize,
        team: &TeamId,
        team_name: &str,
        value: Option<f64>,
        now: DateTime<FixedOffset>,
    ) -> Option<Change> {
        let rule = &self.rules[index];
        let holds = value.is_some_and(|v| rule.condition.holds(v));
        let entry = inner
            .entries
            .entry((index, team.clone()))
            .or_insert_with(|| Entry {
                phase: Phase::Ok,
                since: now,
                holding_since: None,
                value: None,
                team_name: team_name.to_string(),
            });
        entry.value = value;
        if entry.team_name != team_name {
            entry.team_name = team_name.to_string();
        }
        let from = entry.phase;
        let to = next_phase(from, holds, entry.holding_since, now, rule.hold_for);
        if to == from {
            return None;
        }
        let active_since = entry
            .holding_since
            .or(Some(now))
            .filter(|_| to != Phase::Ok);
        entry.phase = to;
        entry.since = now;
        entry.holding_since = match to {
            Phase::Pending | Phase::Firing => active_since,
            Phase::Ok | Phase::Resolved => None,
        };
        let change = Change {
            rule: rule.name.clone(),
            severity: rule.severity,
            condition: rule.condition.to_string(),
            metric: rule.condition.metric_name.clone(),
            threshold: rule.condition.threshold,
            team_id: team.to_string(),
            team_name: team_name.to_string(),
            from,
            to,
            value,
            at: format_timestamp(&now),
            active_since: active_since.map(|at| format_timestamp(&at)),
        };
        if inner.changes.len() == MAX_CHANGES {
            inner.changes.pop_front();
        }
        inner.changes.push_back(change.clone());
        inner.dirty = true;
        inner.unsaved.insert((index, team.clone()));
        if inner.unsaved_changes.len() == MAX_CHANGES {
            inner.unsaved_changes.pop_front();
        }
        inner.unsaved_changes.push_back(change.clone());
        Some(change)
    }

    /// Alerts firing now, oldest first.
    pub fn firing(&self) -> Vec<FiringAlert> {
        self.in_phase(Phase::Firing, None)
    }

    /// Alerts pending now (holding, not yet for the rule's `for`).
    pub fn pending(&self) -> Vec<FiringAlert> {
        self.in_phase(Phase::Pending, None)
    }

    /// Alerts firing now for one team.
    pub fn firing_for(&self, team: &TeamId) -> Vec<FiringAlert> {
        self.in_phase(Phase::Firing, Some(team))
    }

    fn in_phase(&self, phase: Phase, team: Option<&TeamId>) -> Vec<FiringAlert> {
        let inner = self.lock();
        let mut out: Vec<FiringAlert> = inner
            .entries
            .iter()
            .filter(|((_, id), e)| e.phase == phase && team.is_none_or(|t| t == id))
            .map(|((index, id), e)| {
                let rule = &self.rules[*index];
                FiringAlert {
                    rule: rule.name.clone(),
                    severity: rule.severity,
                    team_id: id.to_string(),
                    team_name: e.team_name.clone(),
                    condition: rule.condition.to_string(),
                    value: e.value,
                    since: format_timestamp(&e.since),
                }
            })
            .collect();
        out.sort_by(|a, b| a.since.cmp(&b.since));
        out
    }

    /// The newest `limit` changes, newest first.
    pub fn changes(&self, limit: usize) -> Vec<Change> {
        self.lock()
            .changes
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect()
    }
}

mod kept;
#[cfg(test)]
mod tests;
