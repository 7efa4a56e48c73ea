//! DingTalk (钉钉) custom robot: a `text` message, signed in the URL's query.
//!
//! Signing, as DingTalk documents it: `timestamp` in **milliseconds**;
//! `string_to_sign = timestamp + "\n" + secret`;
//! `sign = urlEncode(Base64(HMAC-SHA256(key = secret, message = string_to_sign)))`
//! — the key is the secret, the opposite of Feishu; `&timestamp=…&sign=…` is
//! appended to the webhook URL. Limit: 20 messages/min per robot (over it, the
//! robot is throttled for 10 minutes).

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;

use super::message;
use super::{Destination, Notice, Outgoing, base64, hmac_sha256};

/// The text's budget: DingTalk refuses bodies of about 20 KB.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// `sign` for `timestamp_ms` (Unix milliseconds), Base64, before URL encoding.
pub fn sign(secret: &str, timestamp_ms: i64) -> String {
    let string_to_sign = format!("{timestamp_ms}\n{secret}");
    base64(&hmac_sha256(secret.as_bytes(), string_to_sign.as_bytes()))
}

/// The request for `notice`; with a secret the URL carries `timestamp` and `sign`.
pub fn build(destination: &Destination, notice: &Notice<'_>, now_ms: i64) -> Outgoing {
    let text = message::text(notice, destination.language, MAX_TEXT_BYTES);
    let body = json!({
        "msgtype": "text",
        "text": { "content": text.plain() },
        "at": { "atMobiles": [], "atUserIds": [], "isAtAll": false },
    });
    let url = match &destination.secret {
        None => destination.url.clone(),
        Some(secret) => {
            let sign = sign(secret.expose(), now_ms);
            let separator = if destination.url.contains('?') {
                '&'
            } else {
                '?'
            };
            format!(
                "{}{separator}timestamp={now_ms}&sign={}",
                destination.url,
                utf8_percent_encode(&sign, NON_ALPHANUMERIC)
            )
        }
    };
    Outgoing::json(url, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::notify::{Language, NotifyKind, Secret};

    #[test]
    fn sign_matches_an_independent_computation() {
        // python3: base64.b64encode(hmac.new(b"SECdemo+/=", b"1700000000000\nSECdemo+/=", sha256).digest())
        assert_eq!(
            sign("SECdemo+/=", 1_700_000_000_000),
            "LRx/rvJ0DODf9ceysskiZfa9RnsGscolThsuaycjbjw="
        );
    }

    #[test]
    fn url_gets_timestamp_in_ms_and_the_url_encoded_sign() {
        let destination = Destination {
            name: "dingtalk".into(),
            kind: NotifyKind::Dingtalk,
            url: "https://oapi.dingtalk.com/robot/send?access_token=abc".into(),
            secret: Some(Secret::new("SECdemo+/=")),
            rules: None,
            language: Language::En,
            board_url: None,
        };
        let notice = Notice {
            changes: &[],
            left_out: 0,
            board_url: "http://b/",
            test: true,
        };
        let out = build(&destination, &notice, 1_700_000_000_000);
        assert_eq!(
            out.url,
            "https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000\
             &sign=LRx%2FrvJ0DODf9ceysskiZfa9RnsGscolThsuaycjbjw%3D"
        );
        let body: serde_json::Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(body["msgtype"], "text");
        assert!(
            body["text"]["content"]
                .as_str()
                .unwrap()
                .starts_with("BenchBoard test message\n")
        );
        assert_eq!(body["at"]["isAtAll"], false);
    }
}
