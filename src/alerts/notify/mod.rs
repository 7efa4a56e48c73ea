//! Where alerts go: the `[[notify]]` sections, and each platform's message.
//!
//! ```toml
//! [[notify]]
//! name = "organisers"            # optional, default: the kind
//! kind = "feishu"                # webhook | feishu | dingtalk | wecom | slack
//! url = "https://open.feishu.cn/open-apis/bot/v2/hook/…"
//! secret = "…"                   # feishu and dingtalk signing; webhook: X-BenchBoard-Signature
//! rules = ["*"]                  # optional, default: every rule
//! language = "zh"                # zh (default) or en
//! board_url = "http://board.example:8080/"   # optional, default: the server's own URL
//! ```
//!
//! Each kind builds its body and signature as its platform documents it
//! (`../shared/research/alerts-and-delivery.md`): [`feishu`], [`dingtalk`],
//! [`wecom`], [`slack`], and our own [`webhook`] JSON. Building is pure (the time
//! is a parameter), so tests recompute every signature.

pub mod dingtalk;
pub mod feishu;
pub mod message;
pub mod slack;
pub mod webhook;
pub mod wecom;

use std::fmt;

use serde::Deserialize;

use super::engine::Change;
use super::rules::Rule;

/// Why a `[[notify]]` section is refused; each message names the section and field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotifyError {
    /// `url` is not an http(s) URL.
    #[error("[[notify]] {name:?}: url {url:?} {reason}")]
    Url {
        name: String,
        url: String,
        reason: String,
    },
    /// A secret where the kind has no use for one, or an empty one.
    #[error("[[notify]] {name:?}: secret: {reason}")]
    Secret { name: String, reason: String },
    /// `rules` names a rule that does not exist, or is empty.
    #[error("[[notify]] {name:?}: rules: {reason}")]
    Rules { name: String, reason: String },
    /// Two destinations share a name (`--test-notify NAME` and the delivery status use it).
    #[error("[[notify]] {0:?} is defined twice: give each a distinct name")]
    Duplicate(String),
    /// `name` is empty or too long.
    #[error("[[notify]] number {index}: name must be 1 to 100 characters, found {found:?}")]
    BadName { index: usize, found: String },
}

/// The platforms alerts can go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyKind {
    Webhook,
    Feishu,
    Dingtalk,
    Wecom,
    Slack,
}

impl NotifyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Webhook => "webhook",
            NotifyKind::Feishu => "feishu",
            NotifyKind::Dingtalk => "dingtalk",
            NotifyKind::Wecom => "wecom",
            NotifyKind::Slack => "slack",
        }
    }
}

/// The language of the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Zh,
    En,
}

/// One `[[notify]]` section as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    #[serde(default)]
    pub name: Option<String>,
    pub kind: NotifyKind,
    pub url: String,
    #[serde(default)]
    pub secret: Option<Secret>,
    #[serde(default)]
    pub rules: Option<Vec<String>>,
    #[serde(default)]
    pub language: Language,
    #[serde(default)]
    pub board_url: Option<String>,
}

/// A signing secret: never shown by `Debug` (configs get logged).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret itself, for signing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A checked destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    pub name: String,
    pub kind: NotifyKind,
    pub url: String,
    pub secret: Option<Secret>,
    /// Rule names this destination gets; `None`: every rule.
    pub rules: Option<Vec<String>>,
    pub language: Language,
    /// The board's URL to link to; `None`: the server's own.
    pub board_url: Option<String>,
}

impl Destination {
    /// True when alerts of `rule` go here.
    pub fn wants(&self, rule: &str) -> bool {
        self.rules
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == rule))
    }
}

impl NotifyConfig {
    /// Checks the section against the checked rules; `index` counts from 1.
    pub fn check(&self, index: usize, rules: &[Rule]) -> Result<Destination, NotifyError> {
        let name = match &self.name {
            Some(name) => name.trim().to_string(),
            None => self.kind.as_str().to_string(),
        };
        if name.is_empty() || name.chars().count() > 100 {
            return Err(NotifyError::BadName {
                index,
                found: self.name.clone().unwrap_or_default(),
            });
        }
        check_url(&self.url).map_err(|reason| NotifyError::Url {
            name: name.clone(),
            url: self.url.clone(),
            reason,
        })?;
        if let Some(url) = &self.board_url {
            check_url(url).map_err(|reason| NotifyError::Url {
                name: name.clone(),
                url: url.clone(),
                reason: format!("(board_url) {reason}"),
            })?;
        }
        self.check_secret(&name)?;
        let rules = self.check_rules(&name, rules)?;
        Ok(Destination {
            name,
            kind: self.kind,
            url: self.url.trim().to_string(),
            secret: self.secret.clone(),
            rules,
            language: self.language,
            board_url: self.board_url.clone(),
        })
    }

    fn check_secret(&self, name: &str) -> Result<(), NotifyError> {
        let error = |reason: &str| NotifyError::Secret {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        match (&self.secret, self.kind) {
            (Some(_), NotifyKind::Wecom | NotifyKind::Slack) => Err(error(
                "this kind is not signed (the key in its URL is the secret): remove the secret",
            )),
            (Some(secret), _) if secret.expose().trim().is_empty() => Err(error(
                "it is empty: remove it, or paste the secret the platform gave",
            )),
            _ => Ok(()),
        }
    }

    fn check_rules(&self, name: &str, rules: &[Rule]) -> Result<Option<Vec<String>>, NotifyError> {
        let error = |reason: String| NotifyError::Rules {
            name: name.to_string(),
            reason,
        };
        let Some(wanted) = &self.rules else {
            return Ok(None);
        };
        match wanted.as_slice() {
            [] => Err(error(
                "the list is empty: write [\"*\"] for every rule".into(),
            )),
            [all] if all == "*" => Ok(None),
            _ => {
                for rule in wanted {
                    if !rules.iter().any(|r| &r.name == rule) {
                        let known: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
                        return Err(error(format!(
                            "no [[rule]] is named {rule:?} (rules: {known:?})"
                        )));
                    }
                }
                Ok(Some(wanted.clone()))
            }
        }
    }
}

/// Checks every `[[notify]]` section; names must be unique.
pub fn check_destinations(
    configs: &[NotifyConfig],
    rules: &[Rule],
) -> Result<Vec<Destination>, NotifyError> {
    let mut out: Vec<Destination> = Vec::with_capacity(configs.len());
    for (i, config) in configs.iter().enumerate() {
        let destination = config.check(i + 1, rules)?;
        if out.iter().any(|d| d.name == destination.name) {
            return Err(NotifyError::Duplicate(destination.name));
        }
        out.push(destination);
    }
    Ok(out)
}

fn check_url(url: &str) -> Result<(), String> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("must start with https:// (or http:// for a receiver of your own)")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err("has no host".into());
    }
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return Err("contains spaces or control characters".into());
    }
    Ok(())
}

/// What one message says: some changes (or a test), and where the board is.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    /// The changes listed in the message (firing and resolved ones).
    pub changes: &'a [Change],
    /// Changes left out of the message (over [`message::MAX_LISTED`] or its size limit).
    pub left_out: usize,
    pub board_url: &'a str,
    /// A test message (`--test-notify`): no changes.
    pub test: bool,
}

/// An HTTP request ready to go.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Outgoing {
    fn json(url: String, body: &serde_json::Value) -> Outgoing {
        Outgoing {
            url,
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: serde_json::to_vec(body).expect("a message is plain JSON"),
        }
    }
}

/// The request that delivers `notice` to `destination`, signed at `now_ms` (Unix
/// time in milliseconds; Feishu signs with seconds, DingTalk with milliseconds).
pub fn build(destination: &Destination, notice: &Notice<'_>, now_ms: i64) -> Outgoing {
    match destination.kind {
        NotifyKind::Webhook => webhook::build(destination, notice, now_ms),
        NotifyKind::Feishu => feishu::build(destination, notice, now_ms),
        NotifyKind::Dingtalk => dingtalk::build(destination, notice, now_ms),
        NotifyKind::Wecom => wecom::build(destination, notice),
        NotifyKind::Slack => slack::build(destination, notice),
    }
}

/// Whether the platform took the message, from its answer: `Ok` with a short
/// description, or `Err` with what it said. Feishu, DingTalk and WeCom answer 200
/// with an error code in the body; Slack answers the text `ok`.
pub fn judge(kind: NotifyKind, status: u16, body: &str) -> Result<String, String> {
    let summary = format!("HTTP {status} {}", message::clip(body.trim(), 200));
    if !(200..300).contains(&status) {
        return Err(summary);
    }
    let code = |field: &str| -> Option<i64> {
        let json: serde_json::Value = serde_json::from_str(body).ok()?;
        json.get(field)?.as_i64()
    };
    let accepted = match kind {
        NotifyKind::Webhook => true,
        NotifyKind::Feishu => code("code") == Some(0) || code("StatusCode") == Some(0),
        NotifyKind::Dingtalk | NotifyKind::Wecom => code("errcode") == Some(0),
        NotifyKind::Slack => body.trim() == "ok",
    };
    if accepted { Ok(summary) } else { Err(summary) }
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Standard Base64 with padding, as both Chinese platforms want it.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::{RuleConfig, check_rules};

    fn destinations(toml_text: &str) -> Result<Vec<Destination>, String> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            rule: Vec<RuleConfig>,
            notify: Vec<NotifyConfig>,
        }
        let file: File = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        let rules = check_rules(&file.rule).map_err(|e| e.to_string())?;
        check_destinations(&file.notify, &rules).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_the_issue_example_with_defaults() {
        let out = destinations(
            "[[rule]]\nname = \"P99\"\nwhen = \"p99_latency > 200\"\n\
             [[notify]]\nname = \"organisers\"\nkind = \"feishu\"\nurl = \"https://open.feishu.cn/x\"\nsecret = \"s\"\nrules = [\"*\"]\n\
             [[notify]]\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/x\"\nrules = [\"P99\"]\nlanguage = \"en\"\n",
        )
        .unwrap();
        assert_eq!(out[0].name, "organisers");
        assert_eq!(out[0].rules, None);
        assert_eq!(out[0].language, Language::Zh);
        assert_eq!(out[1].name, "slack", "the name defaults to the kind");
        assert!(out[1].wants("P99") && !out[1].wants("other"));
        assert_eq!(out[1].language, Language::En);
        assert_eq!(
            format!("{:?}", out[0].secret),
            "Some(Secret(***))",
            "Debug never shows a secret"
        );
    }

    #[test]
    fn refuses_bad_sections_naming_them() {
        for (section, wanted) in [
            (
                "kind = \"teams\"\nurl = \"https://x\"",
                "unknown variant `teams`",
            ),
            (
                "kind = \"feishu\"\nurl = \"ftp://x\"",
                "[[notify]] \"feishu\": url \"ftp://x\" must start with https://",
            ),
            ("kind = \"feishu\"\nurl = \"https:///x\"", "has no host"),
            (
                "kind = \"slack\"\nurl = \"https://x\"\nsecret = \"s\"",
                "secret: this kind is not signed",
            ),
            (
                "kind = \"dingtalk\"\nurl = \"https://x\"\nsecret = \" \"",
                "secret: it is empty",
            ),
            (
                "kind = \"wecom\"\nurl = \"https://x\"\nrules = [\"nope\"]",
                "rules: no [[rule]] is named \"nope\"",
            ),
            (
                "kind = \"wecom\"\nurl = \"https://x\"\nrules = []",
                "rules: the list is empty",
            ),
            (
                "kind = \"wecom\"\nurl = \"https://x\"\nlanguage = \"fr\"",
                "unknown variant `fr`",
            ),
            (
                "kind = \"wecom\"\nurl = \"https://x\"\ntoken = \"t\"",
                "unknown field `token`",
            ),
            (
                "kind = \"wecom\"\nurl = \"https://x\"\nboard_url = \"board\"",
                "(board_url) must start with",
            ),
        ] {
            let error = destinations(&format!("[[notify]]\n{section}\n")).unwrap_err();
            assert!(error.contains(wanted), "{section}: {error}");
        }
        let twice = "[[notify]]\nkind = \"wecom\"\nurl = \"https://x\"\n[[notify]]\nkind = \"wecom\"\nurl = \"https://y\"\n";
        assert_eq!(
            destinations(twice).unwrap_err(),
            "[[notify]] \"wecom\" is defined twice: give each a distinct name"
        );
    }

    #[test]
    fn judges_each_platforms_answer() {
        assert!(
            judge(
                NotifyKind::Feishu,
                200,
                r#"{"code":0,"msg":"success","data":{}}"#
            )
            .is_ok()
        );
        let refused = judge(
            NotifyKind::Feishu,
            200,
            r#"{"code":19021,"msg":"sign match fail"}"#,
        );
        assert_eq!(
            refused.unwrap_err(),
            r#"HTTP 200 {"code":19021,"msg":"sign match fail"}"#
        );
        assert!(judge(NotifyKind::Dingtalk, 200, r#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
        assert!(
            judge(
                NotifyKind::Wecom,
                200,
                r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#
            )
            .is_err()
        );
        assert!(judge(NotifyKind::Slack, 200, "ok").is_ok());
        assert!(judge(NotifyKind::Slack, 400, "invalid_payload").is_err());
        assert!(judge(NotifyKind::Webhook, 204, "").is_ok());
        assert!(judge(NotifyKind::Webhook, 500, "").is_err());
    }
}
