//! WeCom (企业微信) group robot: a `text` message. It has no signature: the `key` in
//! its URL is the secret. Limits: 20 messages/min per robot; text ≤ 2048 bytes.

use serde_json::json;

use super::message;
use super::{Destination, Notice, Outgoing};

/// WeCom's limit for a text message's content, in bytes.
pub const MAX_TEXT_BYTES: usize = 2048;

/// The request for `notice`.
pub fn build(destination: &Destination, notice: &Notice<'_>) -> Outgoing {
    let text = message::text(notice, destination.language, MAX_TEXT_BYTES);
    let body = json!({ "msgtype": "text", "text": { "content": text.plain() } });
    Outgoing::json(destination.url.clone(), &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::engine::Phase;
    use crate::alerts::notify::message::tests::change;
    use crate::alerts::notify::{Language, NotifyKind};

    #[test]
    fn many_alerts_fit_in_2048_bytes() {
        let destination = Destination {
            name: "wecom".into(),
            kind: NotifyKind::Wecom,
            url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k".into(),
            secret: None,
            rules: None,
            language: Language::Zh,
            board_url: None,
        };
        let changes: Vec<_> = (0..20)
            .map(|i| change(&format!("规则{i}"), "第一小组", Phase::Firing, 1.0))
            .collect();
        let notice = Notice {
            changes: &changes,
            left_out: 0,
            board_url: "http://b/",
            test: false,
        };
        let body: serde_json::Value =
            serde_json::from_slice(&build(&destination, &notice).body).unwrap();
        let content = body["text"]["content"].as_str().unwrap();
        assert!(content.len() <= MAX_TEXT_BYTES, "{}", content.len());
        assert!(content.starts_with("BenchBoard 告警：20 条触发，0 条恢复\n"));
        assert!(content.contains("条未列出"));
        assert_eq!(body["msgtype"], "text");
    }
}
