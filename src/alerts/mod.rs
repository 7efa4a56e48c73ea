//! Threshold alerts: rules over the derived metrics, their state per team, and
//! their delivery to Feishu, DingTalk, WeCom, Slack and generic webhooks.
//!
//! - [`rules`]: the `[[rule]]` sections (`when = "p99_latency > 200"`, `for`,
//!   `teams`, `severity`), checked;
//! - [`engine`]: per (rule, team) ok → pending → firing → resolved, evaluated on
//!   every report and every tick, with the value and time of each change;
//! - [`persist`]: the state file in the data directory, so restarts keep it;
//! - [`notify`]: the `[[notify]]` sections and each platform's message and signature;
//! - [`sender`]: one thread that delivers, off the ingest path, with a bounded
//!   queue, retries and each platform's rate limits ([`transport`]: the HTTP request);
//!
//! Time is read through [`clock::Clock`] so tests never sleep.

pub mod clock;
pub mod engine;
pub mod notify;
pub mod persist;
pub mod rules;
pub mod sender;
pub mod service;
pub mod transport;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{AlertEngine, Change, FiringAlert, Phase, TeamActivity};
pub use notify::{Destination, NotifyConfig, NotifyError};
pub use rules::{Rule, RuleConfig, RuleError, Severity};
pub use sender::{AlertSender, DeliveryStatus, SenderOptions};
pub use service::AlertService;

use serde::Deserialize;

/// The `[[rule]]` and `[[notify]]` sections of the contest file, as written; the
/// contest file's loader reads them with the rest of the file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AlertSections {
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleConfig>,
    #[serde(default, rename = "notify")]
    pub notify: Vec<NotifyConfig>,
}

/// Checked rules and destinations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertSettings {
    pub rules: Vec<Rule>,
    pub destinations: Vec<Destination>,
}

/// Why the alert sections are refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlertConfigError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

impl AlertSections {
    /// Checks the rules, then the destinations against them.
    pub fn check(&self) -> Result<AlertSettings, AlertConfigError> {
        let rules = rules::check_rules(&self.rules)?;
        let destinations = notify::check_destinations(&self.notify, &rules)?;
        Ok(AlertSettings {
            rules,
            destinations,
        })
    }
}
