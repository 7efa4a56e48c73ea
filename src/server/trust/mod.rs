//! The server's side of [`crate::auth`]: which token a request carries, who it may
//! act as, the two rate limits, and the contest file's trust sections in force
//! (replaced as a whole on reload, so a request sees either the old or the new).
//!
//! Tokens are read from `Authorization: Bearer <token>` (also `X-Team-Token` for
//! teams) and, for reads of a private board only, from the viewers' cookie. None of
//! them is ever logged or put into an answer.

mod credentials;

use super::client_addr::{TrustedProxies, client_address};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use tiny_http::Request;

use crate::alerts::AlertSettings;
use crate::auth::{
    Access, DEFAULT_MAX_AUTH_FAILURES_PER_MIN, DEFAULT_MAX_REPORT_RATE, Denied, RateLimiter,
    RegisteredTeam, RetryAfter, auth_failure_limiter, report_rate_limiter,
};
use crate::config::{ConfigError, ContestFile, ServerSection};
use crate::contest::ranking::RankingRule;
use crate::contest::schedule::Schedule;
use crate::team::TeamId;
pub use credentials::{CookieKey, VIEWER_COOKIE, bearer, cleared_viewer_cookie, viewer_cookie};
use credentials::{cookie, header};

/// Why a request was refused by the trust checks; each has one status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// No token: 401 with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(Denied),
    /// A token that does not fit: 403.
    #[error("{0}")]
    Forbidden(Denied),
    /// Over a rate limit: 429 with `Retry-After`.
    #[error("{what}; retry after {} s", retry_after.secs())]
    TooMany {
        what: &'static str,
        retry_after: RetryAfter,
    },
}

impl Refusal {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Unauthorized(_) => 401,
            Refusal::Forbidden(_) => 403,
            Refusal::TooMany { .. } => 429,
        }
    }

    /// Headers the answer carries (`WWW-Authenticate`, `Retry-After`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Refusal::Unauthorized(_) => {
                vec![("WWW-Authenticate", "Bearer realm=\"benchboard\"".into())]
            }
            Refusal::Forbidden(_) => Vec::new(),
            Refusal::TooMany { retry_after, .. } => {
                vec![("Retry-After", retry_after.secs().to_string())]
            }
        }
    }
}

/// Per-team and per-address limits as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Reports per second per team (burst twice that); 0 is off.
    pub max_report_rate: u32,
    /// Failed authentications a minute per client address; 0 is off.
    pub max_auth_failures: u32,
}

/// The limits given on the command line (`None`: not given, the file or the
/// default decides).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitFlags {
    pub max_report_rate: Option<u32>,
    pub max_auth_failures: Option<u32>,
}

/// The trust settings in force and the limiters' state.
pub struct Trust {
    contest_file: Option<PathBuf>,
    flags: LimitFlags,
    state: RwLock<Arc<TrustState>>,
    report_limiter: Mutex<RateLimiter<TeamId>>,
    failure_limiter: Mutex<RateLimiter<IpAddr>>,
    cookie_key: CookieKey,
    /// Whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    trusted_proxies: TrustedProxies,
}

/// One version of the contest file's settings.
#[derive(Debug)]
pub struct TrustState {
    pub access: Access,
    pub limits: Limits,
    /// The `[server]` section as read, to tell at a reload what needs a restart.
    pub server: ServerSection,
    /// The alert sections the server started with (they change only at a restart).
    pub alerts: AlertSettings,
    /// `[contest]`: the schedule in force (a reload changes it at once).
    pub schedule: Option<Schedule>,
    /// `[ranking]`: the rule in force (a reload changes it at once); `None`: the
    /// original board's order.
    pub ranking: Option<RankingRule>,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq)]
pub struct Reloaded {
    /// Warnings of the new file (short tokens...).
    pub warnings: Vec<String>,
    /// `[server]` keys whose new value only applies at the next start.
    pub restart_needed: Vec<String>,
}

impl Trust {
    /// The settings of a checked contest file (or open mode without one); limits
    /// given on the command line win over the file's.
    pub fn new(file: Option<&ContestFile>, flags: LimitFlags) -> Trust {
        let state = TrustState::of(file, flags);
        Trust {
            contest_file: file.map(|f| f.path.clone()),
            flags,
            report_limiter: Mutex::new(report_rate_limiter(state.limits.max_report_rate)),
            failure_limiter: Mutex::new(auth_failure_limiter(state.limits.max_auth_failures)),
            state: RwLock::new(Arc::new(state)),
            cookie_key: CookieKey::new(),
            trusted_proxies: TrustedProxies::default(),
        }
    }

    /// Counts per-address limits behind these proxies (`--trusted-proxy`): the client
    /// is then the address their `X-Forwarded-For` names.
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> Trust {
        self.trusted_proxies = proxies;
        self
    }

    /// The client address of `request` for the per-address limits (one function for
    /// every limit: [`client_address`]).
    pub fn client(&self, request: &Request) -> Option<IpAddr> {
        client_address(request, &self.trusted_proxies)
    }

    /// The settings in force.
    pub fn state(&self) -> Arc<TrustState> {
        Arc::clone(&self.state.read().expect("trust lock poisoned"))
    }

    /// The contest file the server was started with.
    pub fn contest_file(&self) -> Option<&Path> {
        self.contest_file.as_deref()
    }

    /// Reads the contest file again and puts its trust sections, `[contest]` and
    /// `[ranking]` in force; a file
    /// that does not pass its checks is refused and the settings stay as they were.
    pub fn reload(&self) -> Result<Reloaded, ConfigError> {
        let Some(path) = &self.contest_file else {
            return Err(ConfigError::Invalid {
                path: PathBuf::from("(none)"),
                line: None,
                message:
                    "the server was started without --config: there is no contest file to reload"
                        .into(),
            });
        };
        let file = ContestFile::load(path)?;
        let mut new = TrustState::of(Some(&file), self.flags);
        let mut state = self.state.write().expect("trust lock poisoned");
        let mut restart_needed = restart_needed(&state.server, &new.server);
        // Alert state is per (rule, team) and the sender's lanes per destination:
        // changed sections are checked now but apply at the next start.
        if new.alerts.rules != state.alerts.rules {
            restart_needed.push("[[rule]]".to_string());
        }
        if new.alerts.destinations != state.alerts.destinations {
            restart_needed.push("[[notify]]".to_string());
        }
        new.alerts = state.alerts.clone();
        if new.limits.max_report_rate != state.limits.max_report_rate {
            *self.report_limiter.lock().expect("limiter lock poisoned") =
                report_rate_limiter(new.limits.max_report_rate);
        }
        if new.limits.max_auth_failures != state.limits.max_auth_failures {
            *self.failure_limiter.lock().expect("limiter lock poisoned") =
                auth_failure_limiter(new.limits.max_auth_failures);
        }
        *state = Arc::new(new);
        Ok(Reloaded {
            warnings: file.warnings,
            restart_needed,
        })
    }

    /// May this request report for `id`? Open mode: `Ok(None)`. Registered mode: the
    /// team's entry, after its token and its rate limit.
    pub fn check_report(
        &self,
        request: &Request,
        id: &TeamId,
    ) -> Result<Option<RegisteredTeam>, Refusal> {
        let state = self.state();
        if state.access.is_open() {
            return Ok(None);
        }
        let client = self.client(request);
        self.not_locked_out(client)?;
        let presented = bearer(request).or_else(|| header(request, "X-Team-Token"));
        let team = state
            .access
            .team(id, presented)
            .map_err(|denied| self.failed(client, denied))?
            .cloned();
        self.report_limiter
            .lock()
            .expect("limiter lock poisoned")
            .take(id, Instant::now())
            .map_err(|retry_after| Refusal::TooMany {
                what: "too many reports from this team (max_report_rate)",
                retry_after,
            })?;
        Ok(team)
    }

    /// May this request use the admin API?
    pub fn check_admin(&self, request: &Request) -> Result<(), Refusal> {
        let client = self.client(request);
        self.not_locked_out(client)?;
        let state = self.state();
        state
            .access
            .admin(bearer(request))
            .map_err(|denied| self.failed(client, denied))
    }

    /// May this request read the board (always, unless it is private)? The viewers'
    /// cookie counts here, and only here. A cookie that no longer fits (the server
    /// restarted, the viewer token changed) asks for the login again (401) and costs
    /// no failed authentication: its value cannot be guessed anyway.
    pub fn check_viewer(&self, request: &Request) -> Result<(), Refusal> {
        let state = self.state();
        let Some(viewers) = state.access.viewers.as_ref() else {
            return Ok(());
        };
        let client = self.client(request);
        self.not_locked_out(client)?;
        if let Some(token) = bearer(request) {
            return state
                .access
                .viewer(Some(token))
                .map_err(|denied| self.failed(client, denied));
        }
        match cookie(request, VIEWER_COOKIE) {
            Some(sent) if self.cookie_key.matches(viewers, &sent) => Ok(()),
            _ => Err(Refusal::Unauthorized(Denied::Missing)),
        }
    }

    /// The viewers' cookie value of a private board (none on a public one).
    pub fn viewer_cookie_value(&self) -> Option<String> {
        let state = self.state();
        let viewers = state.access.viewers.as_ref()?;
        Some(self.cookie_key.value(viewers))
    }

    /// Checks a token typed into the private board's login form.
    pub fn check_viewer_token(&self, request: &Request, token: &str) -> Result<(), Refusal> {
        let client = self.client(request);
        self.not_locked_out(client)?;
        self.state()
            .access
            .viewer(Some(token))
            .map_err(|denied| self.failed(client, denied))
    }

    fn not_locked_out(&self, client: Option<IpAddr>) -> Result<(), Refusal> {
        let Some(client) = client else {
            return Ok(());
        };
        self.failure_limiter
            .lock()
            .expect("limiter lock poisoned")
            .check(&client, Instant::now())
            .map_err(|retry_after| Refusal::TooMany {
                what: "too many failed authentications from this address",
                retry_after,
            })
    }

    /// Counts a failed authentication (a missing token costs nothing: browsers and
    /// scripts try without one first).
    fn failed(&self, client: Option<IpAddr>, denied: Denied) -> Refusal {
        if denied == Denied::Missing {
            return Refusal::Unauthorized(denied);
        }
        if let Some(client) = client {
            let _ = self
                .failure_limiter
                .lock()
                .expect("limiter lock poisoned")
                .take(&client, Instant::now());
        }
        Refusal::Forbidden(denied)
    }
}

impl TrustState {
    fn of(file: Option<&ContestFile>, flags: LimitFlags) -> TrustState {
        let access = file.map(|f| f.access.clone()).unwrap_or_default();
        let server = file.map(|f| f.server.clone()).unwrap_or_default();
        let alerts = file.map(|f| f.alerts.clone()).unwrap_or_default();
        // Ids cost nothing in open mode, so a per-team limit would stop nobody there.
        let max_report_rate = if access.is_open() {
            0
        } else {
            flags
                .max_report_rate
                .or(server.max_report_rate)
                .unwrap_or(DEFAULT_MAX_REPORT_RATE)
        };
        let max_auth_failures = flags
            .max_auth_failures
            .or(server.max_auth_failures)
            .unwrap_or(DEFAULT_MAX_AUTH_FAILURES_PER_MIN);
        TrustState {
            access,
            limits: Limits {
                max_report_rate,
                max_auth_failures,
            },
            server,
            alerts,
            schedule: file.and_then(|f| f.schedule),
            ranking: file.and_then(|f| f.ranking.clone()),
        }
    }
}

/// The `[server]` keys that differ between two versions of the file and are read
/// only at start (the limits are applied at once).
fn restart_needed(old: &ServerSection, new: &ServerSection) -> Vec<String> {
    let (old_keys, new_keys) = (old.set_keys(), new.set_keys());
    let mut keys: Vec<String> = old_keys
        .keys()
        .chain(new_keys.keys())
        .filter(|key| old_keys.get(*key) != new_keys.get(*key))
        .filter(|key| !matches!(key.as_str(), "max_report_rate" | "max_auth_failures"))
        .cloned()
        .collect();
    // The keys compare as shown, the store's URL without its password: a change of
    // the password alone is found on the URLs themselves (and named, never shown).
    if old.store != new.store {
        keys.push("store".into());
    }
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests;
