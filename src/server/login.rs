//! The private board's login (`[viewers]` in the contest file): a page that asks a
//! browser for the viewer token, and the form's `POST /login`, which sets the one
//! cookie BenchBoard uses (HttpOnly, SameSite=Strict, Secure over HTTPS, direct or
//! behind a TLS proxy; its value is derived from the token, never the token: see
//! `trust::CookieKey`). Scripts
//! send the token as `Authorization: Bearer` instead. The cookie opens reads only:
//! no write endpoint looks at it.

use std::io::Read;

use tiny_http::Request;

use super::App;
use super::error::ApiError;
use super::pages::escape_html;
use super::reply::Reply;
use super::trust::{Refusal, cleared_viewer_cookie, viewer_cookie};

const LOGIN_HTML: &str = include_str!("../../static/login.html");
/// Largest login form body.
const MAX_FORM_BYTES: u64 = 4096;

/// The login page, answered with the refusal's status (401 asks for the token, 403
/// says it was wrong, 429 to wait) to a browser that opened `next` without it.
pub fn page(next: &str, refusal: &Refusal) -> Reply {
    let error = match refusal {
        Refusal::Unauthorized(_) => "",
        Refusal::Forbidden(_) => "令牌不正确 · Wrong token",
        Refusal::TooMany { .. } => "尝试次数过多，请稍后再试 · Too many attempts; try again later",
    };
    let body = LOGIN_HTML
        .replace("{{NEXT}}", &escape_html(&safe_next(next)))
        .replace("{{ERROR}}", error);
    let mut reply = Reply::bytes(
        refusal.status(),
        "text/html; charset=utf-8",
        body.into_bytes(),
    );
    reply.headers.push(("Cache-Control", "no-store".into()));
    reply.headers.extend(
        refusal
            .headers()
            .into_iter()
            .filter(|(name, _)| *name == "Retry-After"),
    );
    reply
}

/// `POST /login` (form fields `token` and `next`): sets the cookie and goes back to
/// `next`, or shows the page again with the reason.
pub fn submit(app: &App, request: &mut Request) -> Result<Reply, ApiError> {
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_FORM_BYTES)
        .read_to_end(&mut body)
        .map_err(|e| ApiError::BadRequest(format!("could not read the login form: {e}")))?;
    let field = |name: &str| {
        form_urlencoded::parse(&body)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    let next = safe_next(&field("next").unwrap_or_default());
    let token = field("token").unwrap_or_default();
    let Some(value) = app.trust.viewer_cookie_value() else {
        return Ok(redirect(&next, None));
    };
    match app.trust.check_viewer_token(request, token.trim()) {
        Ok(()) => Ok(redirect(
            &next,
            Some(viewer_cookie(&value, behind_https(request))),
        )),
        Err(refusal) => Ok(page(&next, &refusal)),
    }
}

/// True when the browser talks HTTPS: to this server directly (`--tls-cert`), or to a
/// TLS reverse proxy that says so in `X-Forwarded-Proto`. The cookie is then `Secure`
/// (a forged header only makes it stricter).
fn behind_https(request: &Request) -> bool {
    request.secure()
        || super::reply::header(request, "X-Forwarded-Proto")
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// `POST /logout`: removes the cookie.
pub fn logout() -> Reply {
    redirect("/", Some(cleared_viewer_cookie()))
}

fn redirect(to: &str, cookie: Option<String>) -> Reply {
    let mut reply = Reply::bytes(303, "text/plain; charset=utf-8", Vec::new());
    reply.headers.push(("Location", to.to_string()));
    reply.headers.push(("Cache-Control", "no-store".into()));
    if let Some(cookie) = cookie {
        reply.headers.push(("Set-Cookie", cookie));
    }
    reply
}

/// A path of this server to go back to after the login (never another site).
fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        next.to_string()
    } else {
        "/".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_server_are_gone_back_to() {
        assert_eq!(safe_next("/team/t1/history"), "/team/t1/history");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil",
            "",
            "/a b",
            "javascript:x",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
