//! Who may do what: team, admin and viewer tokens, compared as SHA-256 digests in
//! constant time, and the two rate limits of registered mode (reports per team,
//! failed authentications per client address).
//!
//! A token is never kept in memory longer than it takes to hash it, and never
//! written anywhere: the contest file may hold it in plain text (`token = "…"`,
//! hashed when the file is read) or as its digest (`token_sha256 = "…"`).
//!
//! ```
//! use benchboard::auth::{new_token, TokenDigest};
//! let token = new_token();
//! let digest = TokenDigest::of(&token);
//! assert!(digest.matches(&token));
//! assert!(!digest.matches("guess"));
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::team::TeamId;

/// Random bytes in a new token: 192 bits, well above the 128 the contest needs.
pub const TOKEN_BYTES: usize = 24;
/// Tokens written by hand shorter than this draw a warning (too easy to guess).
pub const MIN_TOKEN_CHARS: usize = 16;

/// A new random token from the operating system's generator: [`TOKEN_BYTES`] bytes,
/// URL-safe base64 without padding (32 characters of `A-Z a-z 0-9 - _`).
pub fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).expect("the operating system's random generator is available");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 digest of a token: what the server keeps and compares.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// The digest of a token as presented (surrounding whitespace is not trimmed).
    pub fn of(token: &str) -> TokenDigest {
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }

    /// Reads a digest written as 64 hex digits (either case), as `sha256sum` prints it.
    pub fn from_hex(hex: &str) -> Option<TokenDigest> {
        let hex = hex.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        let mut digest = [0u8; 32];
        for (i, pair) in hex.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).ok()?;
            digest[i] = u8::from_str_radix(text, 16).ok()?;
        }
        Some(TokenDigest(digest))
    }

    /// The digest as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// True when `presented` is the token of this digest; the comparison of the two
    /// digests takes the same time wherever they differ.
    pub fn matches(&self, presented: &str) -> bool {
        TokenDigest::of(presented).0.ct_eq(&self.0).into()
    }

    /// A value standing for this digest under a secret `key` (URL-safe base64 of
    /// SHA-256 over `purpose`, `key` and the digest): it tells nothing about the token
    /// and is worth nothing without the key.
    pub fn keyed(&self, purpose: &[u8], key: &[u8; 32]) -> String {
        let mut hasher = Sha256::new();
        hasher.update(purpose);
        hasher.update([0]);
        hasher.update(key);
        hasher.update(self.0);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hasher.finalize())
    }
}

/// Never shows the digest: a digest of a short hand-written token can be reversed
/// by trying, so it stays out of logs and error messages too.
impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigest(…)")
    }
}

/// True when two secrets are equal, in time independent of where they differ and of
/// their lengths (both are hashed first, so only equal-length digests are compared).
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    let a: [u8; 32] = Sha256::digest(a).into();
    let b: [u8; 32] = Sha256::digest(b).into();
    a.ct_eq(&b).into()
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// How soon to try again after a refusal (the `Retry-After` header, whole seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// The wait in whole seconds, rounded up, at least 1 (what `Retry-After` carries).
    pub fn secs(&self) -> u64 {
        let secs = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        secs.max(1)
    }
}

/// Most keys a limiter tracks; past it, keys whose bucket is full again are dropped
/// (they would be allowed anyway), so memory stays bounded under a flood of addresses.
pub const MAX_TRACKED_KEYS: usize = 100_000;

/// Token buckets per key (a team, a client address), with the clock given by the
/// caller so that tests can move it.
#[derive(Debug)]
pub struct RateLimiter<K> {
    /// Tokens added per second; 0 turns the limit off.
    rate_per_sec: f64,
    burst: f64,
    buckets: HashMap<K, Bucket>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// A limiter allowing `rate_per_sec` on average with bursts of `burst`; a rate of 0
    /// allows everything.
    pub fn new(rate_per_sec: f64, burst: u32) -> RateLimiter<K> {
        RateLimiter {
            rate_per_sec: rate_per_sec.max(0.0),
            burst: f64::from(burst.max(1)),
            buckets: HashMap::new(),
        }
    }

    /// True when the limit is off.
    pub fn is_off(&self) -> bool {
        self.rate_per_sec == 0.0
    }

    /// Takes one token for `key` at `now`, or says how long until one is there.
    pub fn take(&mut self, key: &K, now: Instant) -> Result<(), RetryAfter> {
        if self.is_off() {
            return Ok(());
        }
        let bucket = self.refilled(key, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let missing = 1.0 - bucket.tokens;
        Err(RetryAfter(Duration::from_secs_f64(
            missing / self.rate_per_sec,
        )))
    }

    /// Whether `key` has a token at `now`, without taking it.
    pub fn check(&mut self, key: &K, now: Instant) -> Result<(), RetryAfter> {
        if self.is_off() {
            return Ok(());
        }
        let bucket = self.refilled(key, now);
        if bucket.tokens >= 1.0 {
            return Ok(());
        }
        let missing = 1.0 - bucket.tokens;
        Err(RetryAfter(Duration::from_secs_f64(
            missing / self.rate_per_sec,
        )))
    }

    fn refilled(&mut self, key: &K, now: Instant) -> &mut Bucket {
        if self.buckets.len() >= MAX_TRACKED_KEYS && !self.buckets.contains_key(key) {
            self.forget_full_buckets(now);
        }
        let (rate, burst) = (self.rate_per_sec, self.burst);
        let bucket = self.buckets.entry(key.clone()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = bucket.updated.max(now);
        bucket
    }

    /// Drops the buckets that have refilled completely by `now` (or, if none has,
    /// every bucket: a flood of new keys must not grow memory without bound).
    fn forget_full_buckets(&mut self, now: Instant) {
        let (rate, burst) = (self.rate_per_sec, self.burst);
        self.buckets.retain(|_, b| {
            let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
            b.tokens + elapsed * rate < burst
        });
        if self.buckets.len() >= MAX_TRACKED_KEYS {
            self.buckets.clear();
        }
    }
}

/// Reports a team may send per second by default in registered mode.
pub const DEFAULT_MAX_REPORT_RATE: u32 = 20;
/// Failed authentications a client address may have per minute by default.
pub const DEFAULT_MAX_AUTH_FAILURES_PER_MIN: u32 = 10;

/// Reports per team: `rate` a second with bursts of twice that (20/s, burst 40 by
/// default); a rate of 0 turns it off.
pub fn report_rate_limiter<K: Hash + Eq + Clone>(rate_per_sec: u32) -> RateLimiter<K> {
    RateLimiter::new(f64::from(rate_per_sec), rate_per_sec.saturating_mul(2))
}

/// Failed authentications per client address: `per_minute` with all of them
/// allowed at once, then one more every `60 s / per_minute`; 0 turns it off.
pub fn auth_failure_limiter<K: Hash + Eq + Clone>(per_minute: u32) -> RateLimiter<K> {
    RateLimiter::new(f64::from(per_minute) / 60.0, per_minute)
}

/// A team of the contest file: its id, its name on the board, its token's digest.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredTeam {
    pub id: TeamId,
    /// The name the board shows (a sent `X-Team-Name` is ignored in registered mode).
    pub name: String,
    pub token: TokenDigest,
}

/// Why a request was refused; the HTTP layer gives each its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No token was sent: 401 with `WWW-Authenticate: Bearer`.
    #[error("a token is required: send Authorization: Bearer <token>")]
    Missing,
    /// A wrong token, another team's token or a team the contest file does not list:
    /// one 403 for all three, so that the answer tells nothing about which ids exist.
    #[error("this token may not report for this team")]
    NotThisTeam,
    /// A wrong admin (or viewer) token: 403.
    #[error("wrong token")]
    Wrong,
    /// The admin API is off: the contest file has no `[admin]` section.
    #[error(
        "the admin API is off: give the contest file an [admin] section with token_sha256 (see benchboard-serve token --admin)"
    )]
    NoAdmin,
}

/// Who may report, administer and watch: the trust sections of the contest file.
/// Without teams it is open mode (anyone reports as any team, as the original).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Access {
    pub admin: Option<TokenDigest>,
    pub teams: BTreeMap<TeamId, RegisteredTeam>,
    /// Set: the board is private, every read needs this token (or the admin's).
    pub viewers: Option<TokenDigest>,
}

/// The digest compared against when a team is not listed, so that an unlisted id
/// costs the same work as a listed one.
fn unlisted_digest() -> &'static TokenDigest {
    static UNLISTED: std::sync::OnceLock<TokenDigest> = std::sync::OnceLock::new();
    UNLISTED.get_or_init(|| TokenDigest::of(&new_token()))
}

impl Access {
    /// True in open mode: no team is listed.
    pub fn is_open(&self) -> bool {
        self.teams.is_empty()
    }

    /// True when any token is configured (teams, admin or viewers).
    pub fn has_tokens(&self) -> bool {
        !self.teams.is_empty() || self.admin.is_some() || self.viewers.is_some()
    }

    /// May `presented` report for team `id`? Open mode: yes, with no registration
    /// (`Ok(None)`); registered mode: the team's entry when its token matches.
    pub fn team(
        &self,
        id: &TeamId,
        presented: Option<&str>,
    ) -> Result<Option<&RegisteredTeam>, Denied> {
        if self.is_open() {
            return Ok(None);
        }
        let presented = presented.ok_or(Denied::Missing)?;
        let team = self.teams.get(id);
        let digest = team.map_or(unlisted_digest(), |t| &t.token);
        match team {
            Some(team) if digest.matches(presented) => Ok(Some(team)),
            _ => {
                // Same work for a listed and an unlisted id.
                let _ = digest.matches(presented);
                Err(Denied::NotThisTeam)
            }
        }
    }

    /// May `presented` use the admin API?
    pub fn admin(&self, presented: Option<&str>) -> Result<(), Denied> {
        let admin = self.admin.as_ref().ok_or(Denied::NoAdmin)?;
        let presented = presented.ok_or(Denied::Missing)?;
        if admin.matches(presented) {
            Ok(())
        } else {
            Err(Denied::Wrong)
        }
    }

    /// May `presented` read the board? Always on a public board; on a private one
    /// with the viewer token or the admin token.
    pub fn viewer(&self, presented: Option<&str>) -> Result<(), Denied> {
        let Some(viewers) = self.viewers.as_ref() else {
            return Ok(());
        };
        let presented = presented.ok_or(Denied::Missing)?;
        let admin = self.admin.as_ref().is_some_and(|a| a.matches(presented));
        if viewers.matches(presented) || admin {
            Ok(())
        } else {
            Err(Denied::Wrong)
        }
    }

    /// The name the board shows for a registered team.
    pub fn team_name(&self, id: &TeamId) -> Option<&str> {
        self.teams.get(id).map(|t| t.name.as_str())
    }
}

#[cfg(test)]
mod tests;
