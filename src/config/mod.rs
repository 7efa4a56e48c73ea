//! The contest file (TOML, `benchboard-serve --config contest.toml`): every server
//! flag (section `[server]`; flags win over the file), the admin token (`[admin]`),
//! the registered teams (`[[team]]`) and the viewer token of a private board
//! (`[viewers]`), the alert rules (`[[rule]]`) and their destinations (`[[notify]]`).
//! Other features add their sections here, each as one serde struct plus its checks,
//! listed in [`RawFile`].
//!
//! A file that cannot be used is refused as a whole with one [`ConfigError`] naming
//! the file, the line and the key; what is doubtful but usable (a short token) is a
//! warning. Tokens are hashed as soon as the file is read: only their SHA-256
//! digests are kept, and no message ever shows a token or a digest.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the file as a whole: loading, line numbers in errors, `--check-config`'s description |
//! | `server.rs` | `[server]` and the value types shared with the flags |
//! | `contest.rs` | `[contest]` and `[ranking]` in `--check-config` (their checks: [`crate::contest`]) |
//! | `teams.rs` | `[admin]`, `[[team]]`, `[viewers]` and their checks |
//! | `token.rs` | `benchboard-serve token` |
//! | [`crate::alerts`] | `[[rule]]` ([`crate::alerts::rules`]) and `[[notify]]` ([`crate::alerts::notify`]) |
//!
//! Reloading (SIGHUP, `POST /api/admin/reload`) is [`crate::server::trust::Trust::reload`]:
//! the trust sections and limits at once; changed alert sections only at the next
//! start (the reload checks them and lists them in `restart_needed`).
//!
//! ```
//! let file = benchboard::config::ContestFile::parse(
//!     "contest.toml".as_ref(),
//!     r#"
//!     [server]
//!     port = 9000
//!     [[team]]
//!     id = "team1"
//!     name = "第一小组"
//!     token = "0123456789abcdef-team1"
//!     "#,
//! )
//! .unwrap();
//! assert!(!file.access.is_open());
//! assert!(file.describe().contains("第一小组"));
//! ```

mod contest;
mod server;
mod teams;
mod token;

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::alerts::notify::NotifyConfig;
use crate::alerts::rules::{RuleConfig, TeamFilter};
use crate::alerts::{AlertSections, AlertSettings};
use crate::auth::Access;
use crate::contest::ranking::{RankingRule, RankingSection};
use crate::contest::schedule::{ContestSection, Schedule};
use contest::describe_contest;
pub use server::{LogLevel, ProxyNet, Seconds, ServerSection, Size, StoreUrl};
use teams::check_access;
pub use teams::{SecretSection, TeamSection};
pub use token::{NewToken, TokenFor};

/// Why a contest file cannot be used; the message names the file, line and key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the contest file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a value of the wrong type,
    /// or breaks a rule of its section.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

/// The file as written: one field per section. Unknown sections and keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    #[serde(default)]
    pub server: ServerSection,
    pub admin: Option<Spanned<SecretSection>>,
    #[serde(default, rename = "team")]
    pub teams: Vec<Spanned<TeamSection>>,
    pub viewers: Option<Spanned<SecretSection>>,
    /// `[[rule]]`: alert rules.
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleConfig>,
    /// `[[notify]]`: where alerts go.
    #[serde(default)]
    pub notify: Vec<NotifyConfig>,
    /// `[contest]`: the schedule.
    pub contest: Option<Spanned<ContestSection>>,
    /// `[ranking]`: the ranking rule.
    pub ranking: Option<Spanned<RankingSection>>,
}

/// A checked contest file.
#[derive(Debug, Clone, PartialEq)]
pub struct ContestFile {
    pub path: PathBuf,
    pub server: ServerSection,
    pub access: Access,
    /// The alert rules and their destinations.
    pub alerts: AlertSettings,
    /// `[contest]`: the schedule; `None`: the contest features are off.
    pub schedule: Option<Schedule>,
    /// `[ranking]`: the ranking rule; `None`: the original board's (the latest QPS),
    /// as [`ContestFile::ranking_rule`] gives it.
    pub ranking: Option<RankingRule>,
    /// `[contest] notify_during_freeze`: alert changes during the freeze go to the
    /// destinations (default true; the public board never shows them).
    pub notify_during_freeze: bool,
    /// Doubtful but usable settings, one line each (file and line included).
    pub warnings: Vec<String>,
}

/// Where in the file a check is: turns byte offsets into line numbers for errors.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn line_of(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// A TOML or type error, with the key of its line when the message lacks it
    /// (`port: invalid type: string "eighty", expected u16`).
    fn toml_error(&self, error: &toml::de::Error) -> ConfigError {
        let message = error.message().trim();
        let Some(span) = error.span() else {
            return ConfigError::Invalid {
                path: self.path.to_path_buf(),
                line: None,
                message: message.to_string(),
            };
        };
        let line_start = self.text[..span.start.min(self.text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let key = self.text[line_start..]
            .lines()
            .next()
            .and_then(|line| line.split_once('='))
            .map(|(key, _)| key.trim().trim_matches('"'))
            .filter(|key| !key.is_empty() && !message.contains(&format!("`{key}`")));
        match key {
            Some(key) => self.error(&span, format!("{key}: {message}")),
            None => self.error(&span, message),
        }
    }

    fn error(&self, span: &Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: Some(self.line_of(span)),
            message: message.into(),
        }
    }

    /// The line where `key = …` is written (the first one), for keys without a span.
    fn line_of_key(&self, key: &str) -> Option<usize> {
        self.text
            .lines()
            .position(|line| {
                line.trim_start()
                    .strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
            .map(|index| index + 1)
    }

    fn warning(&self, span: &Range<usize>, message: &str) -> String {
        format!(
            "warning: {} line {}: {message}",
            self.path.display(),
            self.line_of(span)
        )
    }
}

/// `tls_cert` and `tls_key`: both or neither.
fn check_tls_keys(server: &ServerSection, source: &Source) -> Result<(), ConfigError> {
    let (set, missing) = match (&server.tls_cert, &server.tls_key) {
        (Some(_), None) => ("tls_cert", "tls_key"),
        (None, Some(_)) => ("tls_key", "tls_cert"),
        _ => return Ok(()),
    };
    Err(ConfigError::Invalid {
        path: source.path.to_path_buf(),
        line: source.line_of_key(set),
        message: format!("{set}: [server] needs {missing} too (HTTPS takes both or neither)"),
    })
}

impl ContestFile {
    /// Reads the `[server]` HTTPS files (`tls_cert`, `tls_key`) as the server would
    /// at start, for `--check-config`: a file that cannot be served with is an error.
    pub fn check_tls(&self) -> Result<(), ConfigError> {
        let Some(files) = self.server.tls_files() else {
            return Ok(());
        };
        crate::server::tls::load(&files)
            .map(|_| ())
            .map_err(|e| ConfigError::Invalid {
                path: self.path.clone(),
                line: None,
                message: format!("[server] tls_cert/tls_key cannot be served with: {e}"),
            })
    }

    /// Reads and checks a contest file.
    pub fn load(path: &Path) -> Result<ContestFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        ContestFile::parse(path, &text)
    }

    /// Checks the text of a contest file (`path` is only used in messages).
    pub fn parse(path: &Path, text: &str) -> Result<ContestFile, ConfigError> {
        let source = Source { path, text };
        let raw: RawFile = toml::from_str(text).map_err(|e| source.toml_error(&e))?;
        let mut warnings = Vec::new();
        let mut server = raw.server.clone();
        check_tls_keys(&server, &source)?;
        server.resolve_paths(path.parent().unwrap_or(Path::new("")));
        let access = check_access(&raw, &source, &mut warnings)?;
        let schedule = raw
            .contest
            .as_ref()
            .map(|c| c.get_ref().check().map_err(|e| source.error(&c.span(), e)))
            .transpose()?;
        let ranking = raw
            .ranking
            .as_ref()
            .map(|r| {
                r.get_ref()
                    .check()
                    .map_err(|e| source.error(&r.span(), e.to_string()))
            })
            .transpose()?;
        let alerts = check_alerts(path, raw.rules, raw.notify)?;
        Ok(ContestFile {
            path: path.to_path_buf(),
            server,
            access,
            alerts,
            schedule,
            ranking,
            notify_during_freeze: raw
                .contest
                .as_ref()
                .and_then(|c| c.get_ref().notify_during_freeze)
                .unwrap_or(true),
            warnings,
        })
    }

    /// What the server would do with this file, for `--check-config`: the mode, the
    /// teams, the admin API, the board's privacy, the limits and the `[server]` keys.
    pub fn describe(&self) -> String {
        let mut out = format!("contest file {}: valid\n", self.path.display());
        let access = &self.access;
        if access.is_open() {
            out.push_str("mode: open (no [[team]]): anyone can report as any team\n");
        } else {
            out.push_str(&format!(
                "mode: registered: {} team(s) may report, each with its own token:\n",
                access.teams.len()
            ));
            for team in access.teams.values() {
                out.push_str(&format!("  {}  {}\n", team.id, team.name));
            }
        }
        out.push_str(match access.admin {
            Some(_) => "admin API: on (/api/admin/ and the page /admin, with the admin token)\n",
            None => "admin API: off (no [admin] section)\n",
        });
        out.push_str(match access.viewers {
            Some(_) => {
                "board: private: every read needs the viewer token (Bearer or the login form)\n"
            }
            None => "board: public: anyone may read it\n",
        });
        out.push_str(&self.describe_limits());
        out.push_str(&describe_contest(
            self.schedule.as_ref(),
            self.ranking.as_ref(),
        ));
        if self.schedule.is_some_and(|s| s.freeze.is_some()) {
            out.push_str(if self.notify_during_freeze {
                "  during the freeze: admin and each team (own token) see live; alerts still go to [[notify]]; reveal after the end from /admin\n"
            } else {
                "  during the freeze: admin and each team (own token) see live; alerts are not sent (notify_during_freeze = false); reveal after the end from /admin\n"
            });
        }
        out.push_str(&describe_alerts(&self.alerts));
        out.push_str(&self.describe_server_keys());
        for warning in &self.warnings {
            out.push_str(warning);
            out.push('\n');
        }
        out
    }

    /// The ranking rule in force: the file's `[ranking]`, or the original board's.
    pub fn ranking_rule(&self) -> RankingRule {
        self.ranking.clone().unwrap_or_default()
    }

    fn describe_limits(&self) -> String {
        let mut out = String::new();
        if !self.access.is_open() {
            let rate = self
                .server
                .max_report_rate
                .unwrap_or(crate::auth::DEFAULT_MAX_REPORT_RATE);
            out.push_str(&match rate {
                0 => "report rate: unlimited (max_report_rate = 0)\n".to_string(),
                rate => format!(
                    "report rate: at most {rate} per second per team, bursts of {}\n",
                    rate.saturating_mul(2)
                ),
            });
        }
        if self.access.has_tokens() {
            let failures = self
                .server
                .max_auth_failures
                .unwrap_or(crate::auth::DEFAULT_MAX_AUTH_FAILURES_PER_MIN);
            out.push_str(&format!(
                "failed authentications: at most {failures} a minute per client address\n"
            ));
        }
        match self.server.tls_files() {
            Some(files) => out.push_str(&format!(
                "TLS: HTTPS (and wss:// for /ws) with {} and {} (a --tls-cert/--tls-key flag wins)\n",
                files.cert.display(),
                files.key.display()
            )),
            None if self.access.has_tokens() => out.push_str(
                "TLS: tokens travel in clear unless tls_cert/tls_key are set or clients reach the server through a TLS reverse proxy (README: nginx)\n",
            ),
            None => {}
        }
        out
    }

    fn describe_server_keys(&self) -> String {
        let shown = toml::to_string(&self.server.set_keys()).unwrap_or_default();
        if shown.trim().is_empty() {
            return String::new();
        }
        let mut out = "[server] settings (a flag given on the command line wins):\n".to_string();
        for line in shown.lines() {
            out.push_str(&format!("  {line}\n"));
        }
        out
    }
}

/// The alert sections, checked: the rules, then the destinations against them.
pub fn check_alerts(
    path: &Path,
    rules: Vec<RuleConfig>,
    notify: Vec<NotifyConfig>,
) -> Result<AlertSettings, ConfigError> {
    AlertSections { rules, notify }
        .check()
        .map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: None,
            message: e.to_string(),
        })
}

/// `--check-config`'s lines on the rules and the destinations (never a URL or secret:
/// a webhook URL is a credential).
fn describe_alerts(alerts: &AlertSettings) -> String {
    if alerts.rules.is_empty() {
        return "alerts: none (no [[rule]])\n".to_string();
    }
    let mut out = format!("alerts: {} rule(s):\n", alerts.rules.len());
    for rule in &alerts.rules {
        let teams = match &rule.teams {
            TeamFilter::All => "every team".to_string(),
            TeamFilter::Only(ids) => ids
                .iter()
                .map(|id| id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        };
        out.push_str(&format!(
            "  {:?}: {} for {}s, {}, {}\n",
            rule.name,
            rule.condition,
            rule.hold_for.as_secs_f64(),
            teams,
            rule.severity.as_str()
        ));
    }
    match alerts.destinations.len() {
        0 => out.push_str("alert destinations: none (no [[notify]]): shown on the board only\n"),
        n => out.push_str(&format!("alert destinations: {n}:\n")),
    }
    for d in &alerts.destinations {
        // The host only: a webhook's path and query are its credential.
        let host = d.url.split('/').nth(2).unwrap_or("?");
        let rules = d
            .rules
            .as_ref()
            .map_or("every rule".to_string(), |r| r.join(", "));
        let signed = if d.secret.is_some() { ", signed" } else { "" };
        out.push_str(&format!(
            "  {:?}: {} to {host}{signed}, {rules}\n",
            d.name,
            d.kind.as_str()
        ));
    }
    out
}

#[cfg(test)]
mod tests;
