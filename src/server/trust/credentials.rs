//! Where a request's credentials are: `Authorization: Bearer`, `X-Team-Token`, the
//! private board's cookie, and the client's address for the per-address limit.
//!
//! The cookie never holds the viewer token: it holds a value derived from the
//! token's digest under a key drawn at the server's start ([`CookieKey`]), so an
//! answer never carries a token, the cookie cannot be used as a Bearer token by a
//! script, it stops working when the viewer token changes, and a restart asks
//! browsers to log in again.

use std::borrow::Cow;

use tiny_http::Request;

use crate::auth::{TokenDigest, secrets_equal};

/// Name of the one cookie BenchBoard sets: a private board's viewers.
pub const VIEWER_COOKIE: &str = "benchboard_viewer";

/// A request header's value without surrounding spaces, if sent.
pub(super) fn header<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    crate::server::reply::header(request, name).map(str::trim)
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
pub(super) fn cookie<'a>(request: &'a Request, name: &str) -> Option<Cow<'a, str>> {
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

/// The random key the viewers' cookie values are derived under (one per server
/// process).
pub struct CookieKey([u8; 32]);

impl CookieKey {
    /// A new key from the operating system's generator.
    pub fn new() -> CookieKey {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random generator is available");
        CookieKey(key)
    }

    /// The cookie value that stands for the viewer token of `digest`.
    pub fn value(&self, digest: &TokenDigest) -> String {
        digest.keyed(b"benchboard viewer cookie", &self.0)
    }

    /// True when `sent` is the cookie value of `digest` (compared in constant time).
    pub fn matches(&self, digest: &TokenDigest, sent: &str) -> bool {
        secrets_equal(self.value(digest).as_bytes(), sent.as_bytes())
    }
}

impl Default for CookieKey {
    fn default() -> CookieKey {
        CookieKey::new()
    }
}

/// The `Set-Cookie` value that keeps a browser logged in to a private board (the
/// one cookie BenchBoard sets): HttpOnly, SameSite=Strict, Secure over TLS.
pub fn viewer_cookie(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{VIEWER_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value that removes it again.
pub fn cleared_viewer_cookie() -> String {
    format!("{VIEWER_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}
