//! `GET /healthz` and `GET /metrics` on a real server: scraped over HTTP and parsed
//! as OpenMetrics (and as the older Prometheus text format).

mod common;

use common::{TestServer, agent, fixture};
use openmetrics_parser::{MetricsExposition, OpenMetricsType, OpenMetricsValue, PrometheusValue};

/// `GET /metrics` with this `Accept` header: (content type, body).
fn scrape(server: &TestServer, accept: &str) -> (String, String) {
    let mut response = agent()
        .get(&server.url("/metrics"))
        .header("Accept", accept)
        .call()
        .expect("GET /metrics answered");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (content_type, response.body_mut().read_to_string().unwrap())
}

/// A counter's or a gauge's value, in either format.
trait Number {
    fn number(&self) -> f64;
}

impl Number for OpenMetricsValue {
    fn number(&self) -> f64 {
        match self {
            OpenMetricsValue::Counter(c) => c.value.as_f64(),
            OpenMetricsValue::Gauge(n) | OpenMetricsValue::Unknown(n) => n.as_f64(),
            other => panic!("not a counter or gauge: {other:?}"),
        }
    }
}

impl Number for PrometheusValue {
    fn number(&self) -> f64 {
        match self {
            PrometheusValue::Counter(c) => c.value.as_f64(),
            PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => n.as_f64(),
            other => panic!("not a counter or gauge: {other:?}"),
        }
    }
}

/// The value of the sample of a counter or gauge family with these labels.
fn value<T: Clone, V: Number + openmetrics_parser::RenderableMetricValue + Clone>(
    exposition: &MetricsExposition<T, V>,
    family: &str,
    labels: &[(&str, &str)],
) -> f64 {
    let family = exposition
        .families
        .get(family)
        .unwrap_or_else(|| panic!("no family {family}"));
    let sample = family
        .iter_samples()
        .find(|sample| {
            let set = sample.get_labelset().expect("a label set");
            labels
                .iter()
                .all(|(name, value)| set.get_label_value(name) == Some(*value))
        })
        .unwrap_or_else(|| panic!("no sample {labels:?} in {}", family.family_name));
    sample.value.number()
}

#[test]
fn healthz_answers_cheap_json() {
    let server = TestServer::start();
    let (status, body) = server.get_json("/healthz");
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime_secs"].is_u64());
    assert_eq!(body["viewers"], 0);
    assert_eq!(body["disk"]["full"], false);
    assert!(body["disk"]["min_free_bytes"].is_u64());
}

#[test]
fn metrics_count_open_connections() {
    let server = TestServer::start();
    let idle: Vec<_> = (0..5)
        .map(|_| std::net::TcpStream::connect(server.base.trim_start_matches("http://")).unwrap())
        .collect();
    // The reactor counts a connection once it has accepted it: poll with a deadline.
    let deadline = std::time::Instant::now() + common::PATIENCE;
    loop {
        let (_, text) = scrape(&server, "text/plain");
        let exposition = openmetrics_parser::prometheus::parse_prometheus(&text).unwrap();
        let open = value(&exposition, "benchboard_open_connections", &[]);
        if open >= idle.len() as f64 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{open} open connections counted with {} idle ones held",
            idle.len()
        );
    }
}

#[test]
fn metrics_count_reports_by_outcome_and_parse_as_openmetrics_without_team_data() {
    let server = TestServer::start_with(|c| c.max_body_bytes = 8 * 1024);
    let report = std::fs::read(fixture("valid/full-13-buckets.json")).unwrap();
    for _ in 0..2 {
        assert_eq!(server.post_for("secret-team-7", &report).0, 200);
    }
    assert_eq!(
        server.post_for("secret-team-7", b"{\"totalSent\": 1}").0,
        400
    );
    assert_eq!(server.post_for("secret-team-7", &vec![b' '; 9000]).0, 413);
    assert_eq!(server.post_report(&[], &report).0, 400);
    assert_eq!(server.get("/api/nope").0, 404);

    // What Prometheus asks for.
    let (content_type, text) = scrape(
        &server,
        "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3",
    );
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(text.ends_with("# EOF\n"));
    let exposition = openmetrics_parser::openmetrics::parse_openmetrics(&text)
        .unwrap_or_else(|e| panic!("not OpenMetrics: {e:?}\n{text}"));
    // What curl gets.
    let (content_type, plain) = scrape(&server, "*/*");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let plain_exposition = openmetrics_parser::prometheus::parse_prometheus(&plain)
        .unwrap_or_else(|e| panic!("not Prometheus text 0.0.4: {e:?}\n{plain}"));
    assert_eq!(
        value(&plain_exposition, "benchboard_reports_accepted_total", &[]),
        2.0
    );

    assert_eq!(value(&exposition, "benchboard_reports_accepted", &[]), 2.0);
    let refused = |reason| {
        value(
            &exposition,
            "benchboard_reports_refused",
            &[("reason", reason)],
        )
    };
    assert_eq!(refused("invalid"), 1.0);
    assert_eq!(refused("too_large"), 1.0);
    assert_eq!(refused("bad_request"), 1.0);
    let requests = |endpoint, code| {
        value(
            &exposition,
            "benchboard_http_requests",
            &[("endpoint", endpoint), ("code", code)],
        )
    };
    assert_eq!(requests("submit_report", "200"), 2.0);
    assert_eq!(requests("none", "404"), 1.0);
    assert!(value(&exposition, "benchboard_stored_bytes", &[]) >= 2.0 * report.len() as f64);
    assert_eq!(value(&exposition, "benchboard_teams_known", &[]), 1.0);
    assert_eq!(value(&exposition, "benchboard_viewers", &[]), 0.0);
    assert!(value(&exposition, "benchboard_resident_memory_bytes", &[]) > 1e6);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        value(
            &exposition,
            "benchboard_build_info",
            &[("version", version)]
        ),
        1.0
    );
    let ingest = &exposition.families["benchboard_ingest_duration_seconds"];
    assert_eq!(ingest.family_type, OpenMetricsType::Histogram);
    let samples: Vec<_> = ingest.iter_samples().collect();
    match &samples[0].value {
        OpenMetricsValue::Histogram(h) => {
            assert_eq!(h.count, Some(2));
            assert!(h.buckets.len() > 10);
        }
        other => panic!("not a histogram: {other:?}"),
    }
    assert!(
        exposition
            .families
            .keys()
            .all(|name| name.starts_with("benchboard_"))
    );
    assert!(!text.contains("secret-team-7"), "a team id in /metrics");
    assert!(!plain.contains("secret-team-7"), "a team id in /metrics");
    // Legitimate requests are answered after the scrape.
    assert_eq!(server.get("/api/teams/secret-team-7").0, 200);
}
