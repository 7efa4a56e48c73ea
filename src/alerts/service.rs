//! The alerts as the server runs them: the engine, its state file and the sender.

use std::path::Path;
use std::sync::Arc;

use super::AlertSettings;
use super::clock::Clock;
use super::engine::{AlertEngine, Change, FiringAlert, MAX_CHANGES, TeamActivity};
use super::persist::{self, AlertTable, Announced, PersistError};
use super::rules::TeamFilter;
use super::sender::{AlertSender, SenderOptions};
use crate::api;
use crate::metrics::Metrics;
use crate::team::TeamId;

/// Rules evaluated on every report and tick, their changes sent to the destinations.
pub struct AlertService {
    engine: AlertEngine,
    /// `None` without `[[notify]]` sections.
    sender: Option<AlertSender>,
}

impl AlertService {
    /// Takes up the state saved in `data_dir`, or kept in the store's `table`
    /// (PostgreSQL), when there are rules, and starts the sender thread (when there
    /// are destinations). `board_url` is linked from the messages of destinations
    /// without a `board_url` of their own.
    pub fn start(
        settings: &AlertSettings,
        clock: Arc<dyn Clock>,
        kept: (Option<&Path>, Option<Arc<dyn AlertTable>>),
        board_url: &str,
        options: SenderOptions,
    ) -> Result<AlertService, PersistError> {
        // Without rules the state of an earlier contest is left as it is.
        let (data_dir, table) = kept;
        let rules = settings.rules.clone();
        let engine = match table.filter(|_| !rules.is_empty()) {
            Some(table) => AlertEngine::in_table(rules, clock, table)?,
            None => {
                let state_file = data_dir.filter(|_| !rules.is_empty()).map(persist::path_in);
                AlertEngine::new(rules, clock, state_file)?
            }
        };
        let sender = (!settings.destinations.is_empty()).then(|| {
            AlertSender::start(
                settings.destinations.clone(),
                board_url.to_string(),
                options,
            )
        });
        Ok(AlertService { engine, sender })
    }

    /// True when there are no rules (nothing to evaluate, show or send).
    pub fn is_idle(&self) -> bool {
        self.engine.rules().is_empty()
    }

    /// Evaluates the rules on a team's new report; the changes are on their way to
    /// the destinations when this returns (without waiting for them).
    pub fn observe(&self, team: &TeamId, team_name: &str, metrics: &Metrics) -> Vec<Change> {
        self.observe_sending(team, team_name, metrics, true)
    }

    /// [`AlertService::observe`]; with `send` false the changes go to no destination
    /// (during a freeze with `notify_during_freeze = false`).
    pub fn observe_sending(
        &self,
        team: &TeamId,
        team_name: &str,
        metrics: &Metrics,
        send: bool,
    ) -> Vec<Change> {
        let changes = self.engine.observe(team, team_name, metrics);
        if send {
            self.send(&changes);
        }
        changes
    }

    /// Takes up a change another instance announced (kept in the shared database):
    /// the change to show, not to send (the instance that made it sends it).
    pub fn adopt_announced(&self, announced: &serde_json::Value) -> Option<Change> {
        let announced: Announced = serde_json::from_value(announced.clone()).ok()?;
        self.engine.adopt(announced)
    }

    /// Evaluates what time alone changes (`silent`, pending alerts whose `for` passed).
    pub fn tick(&self, teams: &[TeamActivity]) -> Vec<Change> {
        self.tick_sending(teams, true)
    }

    /// [`AlertService::tick`]; with `send` false the changes go to no destination.
    pub fn tick_sending(&self, teams: &[TeamActivity], send: bool) -> Vec<Change> {
        let changes = self.engine.tick(teams);
        if send {
            self.send(&changes);
        }
        changes
    }

    fn send(&self, changes: &[Change]) {
        if let Some(sender) = &self.sender
            && !changes.is_empty()
        {
            sender.send(changes);
        }
    }

    /// Alerts firing now.
    pub fn firing(&self) -> Vec<FiringAlert> {
        self.engine.firing()
    }

    /// Writes the state file if anything changed; a failure is logged (the next
    /// change tries again).
    pub fn save(&self) {
        if let Err(e) = self.engine.save_if_changed() {
            log::warn!("{e}");
        }
    }

    /// Alert messages taken by their destinations and given up on, all destinations
    /// together (for `/metrics`).
    pub fn delivery_totals(&self) -> (u64, u64) {
        let statuses = self.sender.as_ref().map(AlertSender::statuses);
        statuses
            .unwrap_or_default()
            .iter()
            .fold((0, 0), |(taken, failed), s| {
                (taken + s.delivered, failed + s.failed)
            })
    }

    /// `GET /api/alerts`.
    pub fn answer(&self) -> api::Alerts {
        let rules = self
            .engine
            .rules()
            .iter()
            .map(|rule| api::RuleInfo {
                name: rule.name.clone(),
                when: rule.condition.to_string(),
                for_secs: rule.hold_for.as_secs_f64(),
                teams: match &rule.teams {
                    TeamFilter::All => vec!["*".to_string()],
                    TeamFilter::Only(ids) => ids.iter().map(|id| id.to_string()).collect(),
                },
                severity: rule.severity,
            })
            .collect();
        api::Alerts {
            rules,
            firing: self.engine.firing(),
            pending: self.engine.pending(),
            changes: self.engine.changes(MAX_CHANGES),
            deliveries: self
                .sender
                .as_ref()
                .map(AlertSender::statuses)
                .unwrap_or_default(),
        }
    }
}
