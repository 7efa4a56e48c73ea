//! The server's side of [`crate::auth`]: which token a request carries, who it may
//! act as, the two rate limits, and the contest file's trust sections in force
//! (replaced as a whole on reload, so a request sees either the old or the new).
//!
//! Tokens are read from `Authorization: Bearer <token>` (also `X-Team-Token` for
//! teams) and, for reads of a private board only, from the viewers' cookie. None of
//! them is ever logged or put into an answer.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use tiny_http::Request;

use crate::auth::{
    Access, DEFAULT_MAX_AUTH_FAILURES_PER_MIN, DEFAULT_MAX_REPORT_RATE, Denied, RateLimiter,
    RegisteredTeam, RetryAfter, auth_failure_limiter, report_rate_limiter,
};
use crate::config::{ConfigError, ContestFile, ServerSection};
use crate::team::TeamId;

/// Name of the one cookie BenchBoard sets: the viewer token of a private board.
pub const VIEWER_COOKIE: &str = "benchboard_viewer";

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
}

/// One version of the contest file's settings.
#[derive(Debug)]
pub struct TrustState {
    pub access: Access,
    pub limits: Limits,
    /// The `[server]` section as read, to tell at a reload what needs a restart.
    pub server: ServerSection,
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
        }
    }

    /// The settings in force.
    pub fn state(&self) -> Arc<TrustState> {
        Arc::clone(&self.state.read().expect("trust lock poisoned"))
    }

    /// The contest file the server was started with.
    pub fn contest_file(&self) -> Option<&Path> {
        self.contest_file.as_deref()
    }

    /// Reads the contest file again and puts its trust sections in force; a file
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
        let new = TrustState::of(Some(&file), self.flags);
        let mut state = self.state.write().expect("trust lock poisoned");
        let restart_needed = restart_needed(&state.server, &new.server);
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
        let client = client_addr(request);
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
        let client = client_addr(request);
        self.not_locked_out(client)?;
        let state = self.state();
        state
            .access
            .admin(bearer(request))
            .map_err(|denied| self.failed(client, denied))
    }

    /// May this request read the board (always, unless it is private)? The viewers'
    /// cookie counts here, and only here.
    pub fn check_viewer(&self, request: &Request) -> Result<(), Refusal> {
        let state = self.state();
        if state.access.viewers.is_none() {
            return Ok(());
        }
        let client = client_addr(request);
        self.not_locked_out(client)?;
        let cookie = cookie(request, VIEWER_COOKIE);
        let presented = bearer(request).or(cookie.as_deref());
        state
            .access
            .viewer(presented)
            .map_err(|denied| self.failed(client, denied))
    }

    /// Checks a token typed into the private board's login form.
    pub fn check_viewer_token(&self, request: &Request, token: &str) -> Result<(), Refusal> {
        let client = client_addr(request);
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
        }
    }
}

/// The `[server]` keys that differ between two versions of the file and are read
/// only at start (the limits are applied at once).
fn restart_needed(old: &ServerSection, new: &ServerSection) -> Vec<String> {
    let (old, new) = (old.set_keys(), new.set_keys());
    let mut keys: Vec<String> = old
        .keys()
        .chain(new.keys())
        .filter(|key| old.get(*key) != new.get(*key))
        .filter(|key| !matches!(key.as_str(), "max_report_rate" | "max_auth_failures"))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// A request header's value without surrounding spaces, if sent.
fn header<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    super::reply::header(request, name).map(str::trim)
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case).
pub fn bearer(request: &Request) -> Option<&str> {
    let value = header(request, "Authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The value of a cookie the request carries.
fn cookie<'a>(request: &'a Request, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    request
        .headers()
        .iter()
        .filter(|h| h.field.equiv("Cookie"))
        .flat_map(|h| h.value.as_str().split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| {
            percent_encoding::percent_decode_str(value.trim())
                .decode_utf8()
                .ok()
        })
}

/// The client's address for the per-address limits: the peer of the connection.
pub fn client_addr(request: &Request) -> Option<IpAddr> {
    request.remote_addr().map(|addr| addr.ip())
}

/// The `Set-Cookie` value that keeps a browser's viewer token (the one cookie
/// BenchBoard sets): HttpOnly, SameSite=Strict, Secure over TLS.
pub fn viewer_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    // Encoded: a token written by hand may hold characters a cookie cannot.
    let token = percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC);
    format!("{VIEWER_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value that removes it again.
pub fn cleared_viewer_cookie() -> String {
    format!("{VIEWER_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiny_http::{Header, TestRequest};

    const TEAM1: &str = "team1-token-0123456789";
    const ADMIN: &str = "admin-token-0123456789";
    const VIEWER: &str = "viewer-token-012345678";

    fn contest(dir: &Path, extra: &str) -> ContestFile {
        let path = dir.join("contest.toml");
        std::fs::write(
            &path,
            format!(
                "[admin]\ntoken = \"{ADMIN}\"\n[[team]]\nid = \"team1\"\nname = \"一\"\ntoken = \"{TEAM1}\"\n{extra}"
            ),
        )
        .unwrap();
        ContestFile::load(&path).unwrap()
    }

    fn limits() -> LimitFlags {
        LimitFlags::default()
    }

    fn request(headers: &[(&str, &str)], from: &str) -> Request {
        let mut test =
            TestRequest::new().with_remote_addr(format!("{from}:40000").parse().unwrap());
        for (name, value) in headers {
            test = test.with_header(Header::from_bytes(*name, *value).unwrap());
        }
        test.into()
    }

    fn team1() -> TeamId {
        TeamId::parse("team1").unwrap()
    }

    #[test]
    fn open_mode_lets_every_report_in_without_a_limit() {
        let trust = Trust::new(None, limits());
        for _ in 0..100 {
            assert_eq!(
                trust.check_report(&request(&[], "10.0.0.1"), &team1()),
                Ok(None)
            );
        }
        assert_eq!(trust.state().limits.max_report_rate, 0);
        assert!(trust.check_viewer(&request(&[], "10.0.0.1")).is_ok());
    }

    #[test]
    fn a_team_token_is_read_from_bearer_or_x_team_token() {
        let dir = tempfile::tempdir().unwrap();
        let trust = Trust::new(Some(&contest(dir.path(), "")), limits());
        let bearer = format!("Bearer {TEAM1}");
        let ok = trust
            .check_report(
                &request(&[("Authorization", &bearer)], "10.0.0.1"),
                &team1(),
            )
            .unwrap();
        assert_eq!(ok.unwrap().name, "一");
        let lower = format!("bearer {TEAM1}");
        assert!(
            trust
                .check_report(&request(&[("Authorization", &lower)], "10.0.0.1"), &team1())
                .is_ok()
        );
        assert!(
            trust
                .check_report(&request(&[("X-Team-Token", TEAM1)], "10.0.0.1"), &team1())
                .is_ok()
        );
        let missing = trust
            .check_report(&request(&[], "10.0.0.1"), &team1())
            .unwrap_err();
        assert_eq!(missing.status(), 401);
        assert_eq!(missing.headers()[0].0, "WWW-Authenticate");
        // Wrong token, unlisted team, admin token: one 403 with one message.
        let other = TeamId::parse("team9").unwrap();
        let refusals = [
            trust.check_report(&request(&[("X-Team-Token", "wrong")], "10.0.0.2"), &team1()),
            trust.check_report(&request(&[("X-Team-Token", TEAM1)], "10.0.0.2"), &other),
            trust.check_report(&request(&[("X-Team-Token", ADMIN)], "10.0.0.2"), &team1()),
        ];
        for refusal in &refusals {
            assert_eq!(refusal.as_ref().unwrap_err().status(), 403);
            assert_eq!(
                refusal.as_ref().unwrap_err().to_string(),
                refusals[0].as_ref().unwrap_err().to_string()
            );
        }
        assert!(
            !refusals[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("wrong")
        );
    }

    #[test]
    fn failed_authentications_lock_an_address_out_but_not_others() {
        let dir = tempfile::tempdir().unwrap();
        let trust = Trust::new(Some(&contest(dir.path(), "")), limits());
        for _ in 0..10 {
            let refused =
                trust.check_admin(&request(&[("Authorization", "Bearer guess")], "10.0.0.3"));
            assert_eq!(refused.unwrap_err().status(), 403);
        }
        let bearer = format!("Bearer {ADMIN}");
        let locked = trust
            .check_admin(&request(&[("Authorization", &bearer)], "10.0.0.3"))
            .unwrap_err();
        assert_eq!(locked.status(), 429);
        assert!(locked.headers()[0].0 == "Retry-After");
        assert!(
            trust
                .check_admin(&request(&[("Authorization", &bearer)], "10.0.0.4"))
                .is_ok()
        );
        // Sending no token at all is not counted.
        for _ in 0..20 {
            assert_eq!(
                trust
                    .check_admin(&request(&[], "10.0.0.5"))
                    .unwrap_err()
                    .status(),
                401
            );
        }
    }

    #[test]
    fn reports_over_the_rate_get_429() {
        let dir = tempfile::tempdir().unwrap();
        let trust = Trust::new(Some(&contest(dir.path(), "")), limits());
        let accepted = (0..100)
            .filter(|_| {
                trust
                    .check_report(&request(&[("X-Team-Token", TEAM1)], "10.0.0.1"), &team1())
                    .is_ok()
            })
            .count();
        // The burst of 40, plus what 20/s refilled while the loop ran.
        assert!((40..60).contains(&accepted), "{accepted}");
        let refused = trust
            .check_report(&request(&[("X-Team-Token", TEAM1)], "10.0.0.1"), &team1())
            .unwrap_err();
        assert_eq!(refused.status(), 429);
    }

    #[test]
    fn the_viewer_cookie_opens_a_private_board_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let extra = format!("[viewers]\ntoken = \"{VIEWER}\"\n");
        let trust = Trust::new(Some(&contest(dir.path(), &extra)), limits());
        assert_eq!(
            trust
                .check_viewer(&request(&[], "10.0.0.1"))
                .unwrap_err()
                .status(),
            401
        );
        let set = viewer_cookie(VIEWER, false);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        let sent = set.split(';').next().unwrap().to_string();
        assert!(
            trust
                .check_viewer(&request(&[("Cookie", &format!("a=b; {sent}"))], "10.0.0.1"))
                .is_ok()
        );
        let bearer = format!("Bearer {VIEWER}");
        assert!(
            trust
                .check_viewer(&request(&[("Authorization", &bearer)], "10.0.0.1"))
                .is_ok()
        );
        // The cookie is never a team's or the admin's credential.
        assert_eq!(
            trust
                .check_admin(&request(&[("Cookie", &sent)], "10.0.0.1"))
                .unwrap_err()
                .status(),
            401
        );
        assert_eq!(
            trust
                .check_report(&request(&[("Cookie", &sent)], "10.0.0.1"), &team1())
                .unwrap_err()
                .status(),
            401
        );
    }

    #[test]
    fn a_bad_file_on_reload_is_refused_and_the_old_settings_stay() {
        let dir = tempfile::tempdir().unwrap();
        let file = contest(dir.path(), "");
        let trust = Trust::new(Some(&file), limits());
        std::fs::write(&file.path, "[[team]]\nid = \"bad id\"\n").unwrap();
        let error = trust.reload().unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
        assert!(
            trust
                .check_report(&request(&[("X-Team-Token", TEAM1)], "10.0.0.1"), &team1())
                .is_ok()
        );
        std::fs::write(
            &file.path,
            "[server]\nport = 1234\nmax_report_rate = 5\n[[team]]\nid = \"team2\"\ntoken = \"short\"\n",
        )
        .unwrap();
        let reloaded = trust.reload().unwrap();
        assert_eq!(reloaded.restart_needed, ["port"]);
        assert_eq!(reloaded.warnings.len(), 1);
        assert_eq!(trust.state().limits.max_report_rate, 5);
        assert_eq!(
            trust
                .check_report(&request(&[("X-Team-Token", TEAM1)], "10.0.0.1"), &team1())
                .unwrap_err()
                .status(),
            403
        );
        assert!(
            trust
                .check_admin(&request(&[("Authorization", "Bearer x")], "10.0.0.9"))
                .is_err()
        );
    }
}
