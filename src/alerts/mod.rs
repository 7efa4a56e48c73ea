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
//!   queue, retries and each platform's rate limits.
//!
//! Time is read through [`clock::Clock`] so tests never sleep.

pub mod clock;
pub mod engine;
pub mod persist;
pub mod rules;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{AlertEngine, Change, FiringAlert, Phase, TeamActivity};
pub use rules::{Rule, RuleConfig, RuleError, Severity};
