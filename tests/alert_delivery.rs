//! Alert delivery over real HTTP: a receiver on port 0 checks each platform's body
//! and recomputes its signature; retries, final refusals, batching under a rate
//! limit, and a receiver that never answers.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use benchboard::alerts::sender::{DeliveryState, SenderOptions, send_test};
use benchboard::alerts::{AlertSections, AlertSender, Change, DeliveryStatus, Phase, Severity};
use common::receiver::{Answer, Received, Receiver};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn change(rule: &str, to: Phase, value: f64) -> Change {
    Change {
        rule: rule.into(),
        severity: Severity::Critical,
        condition: "p99_latency > 200".into(),
        metric: "p99_latency".into(),
        threshold: 200.0,
        team_id: "team1".into(),
        team_name: "第一小组".into(),
        from: Phase::Pending,
        to,
        value: Some(value),
        at: "2025-08-01T10:00:05.123+08:00".into(),
        active_since: Some("2025-08-01T10:00:00.000+08:00".into()),
    }
}

fn sender(toml_text: &str, options: SenderOptions) -> AlertSender {
    let sections: AlertSections = toml::from_str(toml_text).unwrap();
    let settings = sections.check().unwrap();
    AlertSender::start(
        settings.destinations,
        "http://board.example/".into(),
        options,
    )
}

fn quick() -> SenderOptions {
    SenderOptions {
        timeout: Duration::from_secs(30),
        first_backoff: Duration::from_millis(20),
        ..SenderOptions::default()
    }
}

/// Waits (up to 60 s) until `check` holds for the statuses.
fn wait_for_status(
    sender: &AlertSender,
    check: impl Fn(&[DeliveryStatus]) -> bool,
) -> Vec<DeliveryStatus> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let statuses = sender.statuses();
        if check(&statuses) {
            return statuses;
        }
        assert!(
            Instant::now() < deadline,
            "statuses never got there: {statuses:?}"
        );
        std::thread::yield_now();
    }
}

fn platform_answer(request: &Received) -> Answer {
    let path = request.url.split('?').next().unwrap_or("");
    let text = match path {
        "/feishu" => r#"{"code":0,"msg":"success","data":{}}"#,
        "/ding" => r#"{"errcode":0,"errmsg":"ok"}"#,
        "/wecom" => r#"{"errcode":0,"errmsg":"ok"}"#,
        "/slack" => "ok",
        _ => "",
    };
    Answer::Reply(200, text.into())
}

#[test]
fn every_kind_gets_its_documented_body_and_a_signature_that_checks_out() {
    let receiver = Receiver::start(|_, r| platform_answer(r));
    let base = &receiver.base;
    let sender = sender(
        &format!(
            r#"
            [[rule]]
            name = "P99 under 200 ms"
            when = "p99_latency > 200"
            [[notify]]
            kind = "feishu"
            url = "{base}/feishu"
            secret = "feishu-secret"
            [[notify]]
            kind = "dingtalk"
            url = "{base}/ding?access_token=tok"
            secret = "SECding+/="
            language = "en"
            [[notify]]
            kind = "wecom"
            url = "{base}/wecom?key=k"
            [[notify]]
            kind = "slack"
            url = "{base}/slack"
            language = "en"
            [[notify]]
            name = "ops"
            kind = "webhook"
            url = "{base}/hook"
            secret = "hook-secret"
            "#
        ),
        quick(),
    );
    let before_s = chrono::Utc::now().timestamp();
    sender.send(&[change("P99 under 200 ms", Phase::Firing, 250.5)]);
    let mut requests: Vec<Received> = (0..5).map(|_| receiver.next()).collect();
    requests.sort_by(|a, b| a.url.cmp(&b.url));
    let after_s = chrono::Utc::now().timestamp();
    let [ding, feishu, hook, slack, wecom] = &requests[..] else {
        panic!("{requests:?}")
    };

    // Feishu: timestamp (seconds, a string) and sign in the body; key = "ts\nsecret", message "".
    let body = feishu.json();
    let timestamp = body["timestamp"].as_str().unwrap();
    let seconds: i64 = timestamp.parse().unwrap();
    assert!((before_s..=after_s).contains(&seconds), "{seconds}");
    let string_to_sign = format!("{timestamp}\nfeishu-secret");
    assert_eq!(
        body["sign"],
        b64(&hmac_sha256(string_to_sign.as_bytes(), b""))
    );
    assert_eq!(body["msg_type"], "post");
    let post = &body["content"]["post"]["zh_cn"];
    assert_eq!(post["title"], "BenchBoard 告警：P99 under 200 ms");
    let first_line = post["content"][0][0]["text"].as_str().unwrap();
    assert!(
        first_line.contains("第一小组（team1）触发「P99 under 200 ms」")
            && first_line.contains("250.5"),
        "{first_line}"
    );

    // DingTalk: timestamp (ms) and sign in the query; key = secret, message = "ts\nsecret".
    assert!(
        ding.url.starts_with("/ding?access_token=tok&timestamp="),
        "{}",
        ding.url
    );
    let timestamp = ding.query("timestamp").unwrap();
    let ms: i64 = timestamp.parse().unwrap();
    assert!(
        (before_s * 1000..=(after_s + 1) * 1000).contains(&ms),
        "{ms}"
    );
    let string_to_sign = format!("{timestamp}\nSECding+/=");
    assert_eq!(
        ding.query("sign").unwrap(),
        b64(&hmac_sha256(b"SECding+/=", string_to_sign.as_bytes()))
    );
    let body = ding.json();
    assert_eq!(body["msgtype"], "text");
    let content = body["text"]["content"].as_str().unwrap();
    assert!(
        content
            .starts_with("BenchBoard alert: P99 under 200 ms\n[CRITICAL] 第一小组 (team1) fired"),
        "{content}"
    );
    assert!(
        content.ends_with("Board: http://board.example/"),
        "{content}"
    );

    let body = wecom.json();
    assert_eq!(body["msgtype"], "text");
    assert!(
        body["text"]["content"]
            .as_str()
            .unwrap()
            .contains("【严重】第一小组（team1）")
    );

    let body = slack.json();
    assert_eq!(body["text"], "BenchBoard alert: P99 under 200 ms");
    assert_eq!(body["blocks"][0]["text"]["type"], "mrkdwn");

    // The generic webhook: our JSON, signed with HMAC-SHA256 of the body.
    let wanted = format!("sha256={}", hex(&hmac_sha256(b"hook-secret", &hook.body)));
    assert_eq!(hook.header("X-BenchBoard-Signature"), Some(wanted.as_str()));
    let body = hook.json();
    assert_eq!(
        (body["status"].as_str(), body["receiver"].as_str()),
        (Some("firing"), Some("ops"))
    );
    let alert = &body["alerts"][0];
    assert_eq!(alert["rule"], "P99 under 200 ms");
    assert_eq!(
        (alert["team_id"].as_str(), alert["team_name"].as_str()),
        (Some("team1"), Some("第一小组"))
    );
    assert_eq!(
        (alert["value"].as_f64(), alert["threshold"].as_f64()),
        (Some(250.5), Some(200.0))
    );
    assert_eq!(alert["time"], "2025-08-01T10:00:05.123+08:00");
    assert_eq!(alert["boardURL"], "http://board.example/");

    let statuses = wait_for_status(&sender, |s| {
        s.iter().all(|d| d.state == DeliveryState::Delivered)
    });
    assert_eq!(
        statuses[0].answer.as_deref(),
        Some(r#"HTTP 200 {"code":0,"msg":"success","data":{}}"#)
    );
    assert!(statuses.iter().all(|s| s.delivered == 1 && s.failed == 0));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const ONE_WEBHOOK: &str =
    "[[rule]]\nname = \"r\"\nwhen = \"qps < 1\"\n[[notify]]\nkind = \"webhook\"\nurl = \"{url}\"\n";

fn one_webhook(receiver: &Receiver, options: SenderOptions) -> AlertSender {
    sender(
        &ONE_WEBHOOK.replace("{url}", &format!("{}/hook", receiver.base)),
        options,
    )
}

#[test]
fn a_failed_delivery_is_retried_until_it_is_taken() {
    let receiver = Receiver::start(|n, _| match n {
        0 => Answer::Reply(500, "busy".into()),
        _ => Answer::Reply(200, "thanks".into()),
    });
    let sender = one_webhook(&receiver, quick());
    sender.send(&[change("r", Phase::Firing, 0.5)]);
    let (first, second) = (receiver.next(), receiver.next());
    assert_eq!(first.json()["alerts"], second.json()["alerts"]);
    let statuses = wait_for_status(&sender, |s| s[0].state == DeliveryState::Delivered);
    assert_eq!(statuses[0].answer.as_deref(), Some("HTTP 200 thanks"));
    assert_eq!((statuses[0].delivered, statuses[0].failed), (1, 0));
}

#[test]
fn a_refused_request_is_not_retried_and_the_status_says_what_came_back() {
    let receiver = Receiver::replying(400, "invalid_payload");
    let sender = one_webhook(&receiver, quick());
    sender.send(&[change("r", Phase::Resolved, 3.0)]);
    receiver.next();
    let statuses = wait_for_status(&sender, |s| s[0].state == DeliveryState::Failed);
    assert_eq!(
        statuses[0].answer.as_deref(),
        Some("HTTP 400 invalid_payload")
    );
    // A 400 is final: the next message carries only the next change, no retry of it.
    sender.send(&[change("next", Phase::Firing, 1.0)]);
    let rules: Vec<Value> = receiver.next().json()["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].clone())
        .collect();
    assert_eq!(rules, [json!("next")], "a 400 is final");
}

#[test]
fn pending_changes_are_not_sent_and_over_the_limit_changes_go_together() {
    static ONE_PER_3S: [(Duration, usize); 1] = [(Duration::from_secs(3), 1)];
    let receiver = Receiver::replying(200, "");
    let options = SenderOptions {
        rate_limits: Some(&ONE_PER_3S),
        ..quick()
    };
    let sender = one_webhook(&receiver, options);
    sender.send(&[change("r", Phase::Pending, 0.5)]);
    sender.send(&[change("r", Phase::Firing, 0.5)]);
    let first = receiver.next().json();
    assert_eq!(first["alerts"].as_array().unwrap().len(), 1);
    sender.send(&[change("r", Phase::Resolved, 2.0)]);
    sender.send(&[change("r", Phase::Firing, 0.25)]);
    let second = receiver.next().json();
    let statuses: Vec<&str> = second["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["resolved", "firing"],
        "both waited for the window and went as one message"
    );
    assert_eq!(second["status"], "firing");
}

#[test]
fn a_receiver_that_never_answers_holds_up_nothing() {
    let receiver = Receiver::start(|_, _| Answer::Hang);
    let options = SenderOptions {
        queue: 4,
        ..quick()
    };
    let sender = one_webhook(&receiver, options);
    sender.send(&[change("r", Phase::Firing, 0.5)]);
    receiver.next();
    // The sender thread now waits for an answer that never comes.
    let started = Instant::now();
    for _ in 0..1000 {
        sender.send(&[change("r", Phase::Resolved, 2.0)]);
    }
    let statuses = sender.statuses();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "send waited: {:?}",
        started.elapsed()
    );
    assert!(statuses[0].dropped >= 990, "{statuses:?}");
    let stopping = Instant::now();
    drop(sender);
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "dropping the sender hung"
    );
}

#[test]
fn test_notify_says_what_the_destination_answered() {
    let receiver = Receiver::replying(
        200,
        r#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour"}"#,
    );
    let sections: AlertSections = toml::from_str(&format!(
        "[[notify]]\nname = \"organisers\"\nkind = \"feishu\"\nurl = \"{}/feishu\"\nsecret = \"s\"\n",
        receiver.base
    ))
    .unwrap();
    let destination = &sections.check().unwrap().destinations[0];
    let answer = send_test(destination, "http://board/", Duration::from_secs(30));
    assert_eq!(
        answer.unwrap_err(),
        r#"HTTP 200 {"code":19021,"msg":"sign match fail or timestamp is not within one hour"}"#
    );
    let body = receiver.next().json();
    assert_eq!(
        body["content"]["post"]["zh_cn"]["title"],
        "BenchBoard 测试消息"
    );
    let unreachable = send_test(
        &benchboard::alerts::Destination {
            url: "http://127.0.0.1:9/nothing-listens".into(),
            ..destination.clone()
        },
        "http://board/",
        Duration::from_secs(30),
    );
    assert!(
        unreachable.unwrap_err().contains("onnect"),
        "connection refused or failed"
    );
}
