//! Slack incoming webhook: `text` (the notification's fallback) plus one `section`
//! block in mrkdwn. Slack answers the plain text `ok`.
//!
//! Everything that came from a team (its name) or the contest file is escaped as
//! Slack asks (`&`, `<`, `>`), so it cannot become a link or a mention.

use serde_json::json;

use super::message;
use super::{Destination, Notice, Outgoing};

/// A section block's text is at most 3000 characters; bytes are a safe bound.
pub const MAX_TEXT_BYTES: usize = 2900;

/// Escapes text for mrkdwn.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The request for `notice`.
pub fn build(destination: &Destination, notice: &Notice<'_>) -> Outgoing {
    let text = message::text(notice, destination.language, MAX_TEXT_BYTES);
    let mut mrkdwn = format!("*{}*", escape(&text.title));
    for line in &text.lines {
        mrkdwn.push('\n');
        mrkdwn.push_str(&escape(line));
    }
    mrkdwn.push_str(&format!(
        "\n<{}|{}>",
        escape(&text.link),
        escape(text.link_label.trim_end_matches([':', '：', ' ']))
    ));
    let body = json!({
        "text": text.title,
        "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": mrkdwn } }],
    });
    Outgoing::json(destination.url.clone(), &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::engine::Phase;
    use crate::alerts::notify::message::tests::change;
    use crate::alerts::notify::{Language, NotifyKind};

    #[test]
    fn team_names_cannot_become_links_or_mentions() {
        let destination = Destination {
            name: "slack".into(),
            kind: NotifyKind::Slack,
            url: "https://hooks.slack.com/services/T/B/x".into(),
            secret: None,
            rules: None,
            language: Language::En,
            board_url: None,
        };
        let changes = [change("P99", "<!channel> & co", Phase::Resolved, 150.0)];
        let notice = Notice {
            changes: &changes,
            left_out: 0,
            board_url: "http://b/",
            test: false,
        };
        let body: serde_json::Value =
            serde_json::from_slice(&build(&destination, &notice).body).unwrap();
        assert_eq!(body["text"], "BenchBoard alert resolved: P99");
        let mrkdwn = body["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(mrkdwn.contains("&lt;!channel&gt; &amp; co"), "{mrkdwn}");
        assert!(mrkdwn.ends_with("\n<http://b/|Board>"), "{mrkdwn}");
    }
}
