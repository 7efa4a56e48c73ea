//! Feishu (飞书) / Lark custom bot: a `post` (rich text) message, signed in the body.
//!
//! Signing, as Feishu documents it: `timestamp` in **seconds**;
//! `string_to_sign = timestamp + "\n" + secret`;
//! `sign = Base64(HMAC-SHA256(key = string_to_sign, message = ""))` — the key is
//! the string and the message is empty; `timestamp` (a string) and `sign` go in
//! the JSON body next to `msg_type`. Limits: 5/s and 100/min per bot, body ≤ 20 KB.

use serde_json::{Map, Value, json};

use super::message::{self, Text};
use super::{Destination, Language, Notice, Outgoing, base64, hmac_sha256};

/// The text's share of Feishu's 20 KB body limit (the rest is JSON around it).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// `sign` for `timestamp_s` (Unix seconds).
pub fn sign(secret: &str, timestamp_s: i64) -> String {
    let string_to_sign = format!("{timestamp_s}\n{secret}");
    base64(&hmac_sha256(string_to_sign.as_bytes(), b""))
}

/// The request for `notice`, signed at `now_ms` when the destination has a secret.
pub fn build(destination: &Destination, notice: &Notice<'_>, now_ms: i64) -> Outgoing {
    let text = message::text(notice, destination.language, MAX_TEXT_BYTES);
    let mut body = Map::new();
    if let Some(secret) = &destination.secret {
        let timestamp_s = now_ms.div_euclid(1000);
        body.insert("timestamp".into(), Value::String(timestamp_s.to_string()));
        body.insert(
            "sign".into(),
            Value::String(sign(secret.expose(), timestamp_s)),
        );
    }
    body.insert("msg_type".into(), Value::String("post".into()));
    body.insert(
        "content".into(),
        json!({ "post": post(&text, destination.language) }),
    );
    Outgoing::json(destination.url.clone(), &Value::Object(body))
}

/// `{"zh_cn": {"title", "content": [[...], ...]}}`: one paragraph per line (plain
/// `text` tags, so nothing a team sent can become markup), the link last.
fn post(text: &Text, language: Language) -> Value {
    let mut paragraphs: Vec<Value> = text
        .lines
        .iter()
        .map(|line| json!([{ "tag": "text", "text": line }]))
        .collect();
    paragraphs.push(json!([
        { "tag": "text", "text": text.link_label },
        { "tag": "a", "text": text.link, "href": text.link },
    ]));
    let locale = match language {
        Language::Zh => "zh_cn",
        Language::En => "en_us",
    };
    json!({ locale: { "title": text.title, "content": paragraphs } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::engine::Phase;
    use crate::alerts::notify::message::tests::change;
    use crate::alerts::notify::{NotifyKind, Secret};

    #[test]
    fn sign_matches_an_independent_computation() {
        // python3: base64.b64encode(hmac.new(b"1700000000\ndemo-secret", b"", sha256).digest())
        assert_eq!(
            sign("demo-secret", 1_700_000_000),
            "mYHw2R2SOm8Rw/sne3lQdmz4sOfntKR+1P/8RKKTwmA="
        );
    }

    #[test]
    fn body_carries_timestamp_in_seconds_sign_and_a_post() {
        let destination = Destination {
            name: "organisers".into(),
            kind: NotifyKind::Feishu,
            url: "https://open.feishu.cn/open-apis/bot/v2/hook/x".into(),
            secret: Some(Secret::new("demo-secret")),
            rules: None,
            language: Language::Zh,
            board_url: None,
        };
        let changes = [change("P99", "第一小组", Phase::Firing, 250.0)];
        let notice = Notice {
            changes: &changes,
            left_out: 0,
            board_url: "http://b/",
            test: false,
        };
        let out = build(&destination, &notice, 1_700_000_000_999);
        let body: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(body["timestamp"], "1700000000");
        assert_eq!(body["sign"], "mYHw2R2SOm8Rw/sne3lQdmz4sOfntKR+1P/8RKKTwmA=");
        assert_eq!(body["msg_type"], "post");
        let post = &body["content"]["post"]["zh_cn"];
        assert_eq!(post["title"], "BenchBoard 告警：P99");
        assert_eq!(
            post["content"][1][1],
            json!({"tag": "a", "text": "http://b/", "href": "http://b/"})
        );
        assert_eq!(out.url, destination.url);
    }
}
