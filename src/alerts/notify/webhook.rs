//! The generic webhook: BenchBoard's own JSON, shaped like Grafana's webhook
//! notifier (`status`, `alerts[]` with `startsAt`/`endsAt` and a `fingerprint`,
//! `truncatedAlerts`, `externalURL`), with our fields named plainly:
//!
//! ```json
//! {"version": "1", "source": "benchboard", "receiver": "ops", "status": "firing",
//!  "title": "…", "message": "…", "externalURL": "http://board/", "truncatedAlerts": 0,
//!  "time": "2025-08-01T02:00:05.123Z",
//!  "alerts": [{"status": "firing", "rule": "P99 under 200 ms", "severity": "warning",
//!    "condition": "p99_latency > 200", "metric": "p99_latency", "threshold": 200,
//!    "value": 250.3, "team_id": "team1", "team_name": "第一小组",
//!    "time": "…", "startsAt": "…", "endsAt": "0001-01-01T00:00:00Z",
//!    "fingerprint": "9f0c…", "boardURL": "http://board/",
//!    "historyURL": "http://board/team/team1/history"}]}
//! ```
//!
//! `status` is `firing` when any listed alert fires, else `resolved` (`test` for
//! `--test-notify`). With a `secret`, the header `X-BenchBoard-Signature:
//! sha256=<hex HMAC-SHA256(key = secret, message = body)>` lets the receiver check it.

use serde_json::{Value, json};

use super::message;
use super::{Destination, Notice, Outgoing, hmac_sha256};
use crate::alerts::engine::{Change, Phase};

/// `endsAt` of an alert still firing, as Grafana writes it.
pub const NOT_ENDED: &str = "0001-01-01T00:00:00Z";

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "X-BenchBoard-Signature";

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex(&hmac_sha256(secret.as_bytes(), body)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The same (rule, team) always has the same fingerprint: 16 hex digits.
pub fn fingerprint(rule: &str, team_id: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{rule}\u{0}{team_id}").as_bytes());
    hex(&digest[..8])
}

/// The request for `notice`, dated `now_ms`.
pub fn build(destination: &Destination, notice: &Notice<'_>, now_ms: i64) -> Outgoing {
    let text = message::text(notice, destination.language, usize::MAX);
    let status = if notice.test {
        "test"
    } else if notice.changes.iter().any(|c| c.to == Phase::Firing) {
        "firing"
    } else {
        "resolved"
    };
    let time = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let alerts: Vec<Value> = notice
        .changes
        .iter()
        .map(|c| alert(c, notice.board_url))
        .collect();
    let body = json!({
        "version": "1",
        "source": "benchboard",
        "receiver": destination.name,
        "status": status,
        "title": text.title,
        "message": text.plain(),
        "externalURL": notice.board_url,
        "truncatedAlerts": notice.left_out,
        "time": time,
        "alerts": alerts,
    });
    let mut out = Outgoing::json(destination.url.clone(), &body);
    if let Some(secret) = &destination.secret {
        out.headers.push((
            SIGNATURE_HEADER.into(),
            signature(secret.expose(), &out.body),
        ));
    }
    out
}

fn alert(change: &Change, board_url: &str) -> Value {
    let firing = change.to == Phase::Firing;
    let separator = if board_url.ends_with('/') { "" } else { "/" };
    json!({
        "status": if firing { "firing" } else { "resolved" },
        "rule": change.rule,
        "severity": change.severity,
        "condition": change.condition,
        "metric": change.metric,
        "threshold": change.threshold,
        "value": change.value,
        "team_id": change.team_id,
        "team_name": change.team_name,
        "time": change.at,
        "startsAt": change.active_since.as_deref().unwrap_or(&change.at),
        "endsAt": if firing { NOT_ENDED } else { &change.at },
        "fingerprint": fingerprint(&change.rule, &change.team_id),
        "boardURL": board_url,
        "historyURL": format!("{board_url}{separator}team/{}/history", change.team_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::notify::message::tests::change;
    use crate::alerts::notify::{Language, NotifyKind, Secret};

    #[test]
    fn signature_matches_an_independent_computation() {
        // python3: hmac.new(b"whsec", b'{"a":1}', sha256).hexdigest()
        assert_eq!(
            signature("whsec", br#"{"a":1}"#),
            "sha256=19373ef0e8c66f206e49d251e4402291615bbce6ef00922e94a47a213fb76ee1"
        );
    }

    #[test]
    fn body_lists_each_alert_with_its_times_and_a_stable_fingerprint() {
        let destination = Destination {
            name: "ops".into(),
            kind: NotifyKind::Webhook,
            url: "http://127.0.0.1:9/hook".into(),
            secret: Some(Secret::new("whsec")),
            rules: None,
            language: Language::En,
            board_url: None,
        };
        let changes = [
            change("P99", "第一小组", Phase::Firing, 250.0),
            change("P99", "第一小组", Phase::Resolved, 150.0),
        ];
        let notice = Notice {
            changes: &changes,
            left_out: 2,
            board_url: "http://board",
            test: false,
        };
        let out = build(&destination, &notice, 0);
        let body: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(body["status"], "firing");
        assert_eq!(body["truncatedAlerts"], 2);
        assert_eq!(body["time"], "1970-01-01T00:00:00.000Z");
        let (firing, resolved) = (&body["alerts"][0], &body["alerts"][1]);
        assert_eq!(firing["endsAt"], NOT_ENDED);
        assert_eq!(firing["startsAt"], "2025-08-01T09:59:30.000+08:00");
        assert_eq!(resolved["endsAt"], resolved["time"]);
        assert_eq!(firing["fingerprint"], resolved["fingerprint"]);
        assert_eq!(firing["fingerprint"].as_str().unwrap().len(), 16);
        assert_eq!(firing["historyURL"], "http://board/team/team1/history");
        assert_eq!(
            (firing["value"].as_f64(), firing["threshold"].as_f64()),
            (Some(250.0), Some(200.0))
        );
        let header = out
            .headers
            .iter()
            .find(|(k, _)| k == SIGNATURE_HEADER)
            .unwrap();
        assert_eq!(header.1, signature("whsec", &out.body));
    }
}
