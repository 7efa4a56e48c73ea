//! The dashboard and the history page in a real browser: headless Chromium (Debian's
//! `chromium`) driven over the DevTools protocol, with tungstenite as the client.
//!
//! The tests post reports while the page is open and poll the rendered DOM until the
//! new values appear, check that a hostile team name shows as text, and keep
//! screenshots under `target/screenshots/` for a human to look at.

mod common;

use std::time::Duration;

use common::browser::Browser;
use common::{TestServer, fixture};
use serde_json::{Value, json};

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// A valid report with the given completed QPS, average latency (ms) and elapsed time (s).
fn report(qps: f64, avg_latency_ms: f64, elapsed_s: f64) -> Vec<u8> {
    let mut value: Value =
        serde_json::from_slice(&std::fs::read(fixture("valid/full-13-buckets.json")).unwrap())
            .unwrap();
    value["performanceMetrics"]["avgCompletedQPS"] = json!(qps);
    value["performanceMetrics"]["avgSentQPS"] = json!(qps * 1.02);
    value["totalAvgLatency"] = json!(avg_latency_ms);
    value["totalElapsed"] = json!(elapsed_s);
    serde_json::to_vec(&value).unwrap()
}

fn post(server: &TestServer, id: &str, name: &str, body: &[u8]) {
    let encoded = benchboard::team::encode_team_name(name);
    let (status, answer) = server.post_report(
        &[("X-Team-ID", id), ("X-Team-Name", encoded.as_str())],
        body,
    );
    assert_eq!(status, 200, "{answer}");
}

/// Five teams that already reported, so the board looks like a real event.
fn seed_teams(server: &TestServer) {
    let teams = [
        ("team1", "第一小组", 1520.4, 12.6),
        ("team2", "第二小组", 980.2, 25.1),
        ("team3", "Rustaceans", 2210.9, 8.4),
        ("team4", "第四小组 · 数据库优化", 640.0, 48.9),
        ("team5", "Team Five", 1205.5, 15.2),
    ];
    for round in 0..3 {
        for (id, name, qps, latency) in teams {
            let grow = 1.0 + round as f64 * 0.05;
            post(
                server,
                id,
                name,
                &report(qps * grow, latency, 60.0 * (round + 1) as f64),
            );
        }
    }
}

/// JavaScript: the card of `id`, as text fields.
fn card_js(id: &str) -> String {
    format!(
        "(() => {{ const c = document.querySelector('.card[data-team-id=\"{id}\"]'); \
         return c && {{ name: c.querySelector('.team-name').textContent, \
         qps: c.querySelector('[data-field=qps]').textContent, text: c.innerText }}; }})()"
    )
}

#[test]
fn dashboard_shows_a_live_update_and_a_hostile_name_as_text() {
    let server = TestServer::start();
    seed_teams(&server);
    let browser = Browser::launch(&server.url("/"));
    let mut page = browser.page();
    page.set_viewport(1920, 1080, false, false);
    page.navigate(&server.url("/"));
    page.wait_for(
        "the WebSocket to go live",
        "document.getElementById('conn').dataset.state === 'live' && document.querySelectorAll('.card').length === 5",
        Duration::from_secs(20),
    );
    assert_eq!(page.eval("document.documentElement.lang"), "zh-CN");
    assert_eq!(
        page.eval("document.getElementById('conn-text').textContent"),
        "实时推送"
    );

    // A new team reports while the page is open: its card appears through the push.
    post(&server, "hostile", HOSTILE, &report(3456.7, 4.25, 30.0));
    page.wait_for(
        "the hostile team's card",
        "!!document.querySelector('.card[data-team-id=\"hostile\"]')",
        Duration::from_secs(10),
    );
    let card = page.eval(&card_js("hostile"));
    assert_eq!(card["name"], HOSTILE, "the name shows as text");
    assert_eq!(card["qps"], "3,457");
    assert!(card["text"].as_str().unwrap().contains("4.25"), "{card}");
    assert_eq!(page.eval("document.querySelectorAll('img').length"), 0);
    assert_eq!(
        page.eval("document.querySelector('#ranking tbody tr').dataset.teamId"),
        "hostile",
        "the fastest team leads the ranking"
    );
    // An existing team's numbers change in place.
    post(&server, "team2", "第二小组", &report(2500.0, 9.5, 240.0));
    page.wait_for(
        "team2's new QPS",
        "document.querySelector('.card[data-team-id=\"team2\"] [data-field=qps]').textContent === '2,500'",
        Duration::from_secs(10),
    );
    // Six teams fill the board: the limit of --max-teams (default 6).
    post(&server, "team6", "第六小组", &report(300.0, 80.0, 30.0));
    post(&server, "team7", "第七小组", &report(200.0, 90.0, 30.0));
    page.wait_for(
        "eight teams ranked, six cards",
        "document.querySelectorAll('#ranking tbody tr').length === 8 && document.querySelectorAll('.card').length === 6",
        Duration::from_secs(10),
    );
    page.screenshot("dashboard-1920x1080-light");
    page.set_viewport(1920, 1080, false, true);
    page.screenshot("dashboard-1920x1080-dark");
    page.set_viewport(390, 844, true, false);
    page.screenshot("dashboard-390x844-light");
    page.set_viewport(390, 844, true, true);
    page.screenshot("dashboard-390x844-dark");

    // The English switch is remembered across a reload.
    page.eval("document.getElementById('lang').click()");
    page.navigate(&server.url("/?again"));
    page.wait_for(
        "the page in English",
        "document.documentElement.lang === 'en' && document.getElementById('conn-text').textContent === 'Live (WebSocket)'",
        Duration::from_secs(20),
    );
    page.set_viewport(1920, 1080, false, false);
    page.screenshot("dashboard-1920x1080-en");
}

#[test]
fn dashboard_polls_when_the_push_is_off() {
    let server = TestServer::start_with(|c| c.websocket = false);
    post(&server, "team1", "第一小组", &report(100.0, 20.0, 10.0));
    let browser = Browser::launch(&server.url("/"));
    let mut page = browser.page();
    page.navigate(&server.url("/"));
    page.wait_for(
        "the polling indicator and the first card",
        "document.getElementById('conn').dataset.state === 'polling' && document.querySelectorAll('.card').length === 1",
        Duration::from_secs(20),
    );
    post(&server, "team1", "第一小组", &report(777.7, 20.0, 20.0));
    page.wait_for(
        "the polled update",
        "document.querySelector('.card [data-field=qps]').textContent === '777.7'",
        Duration::from_secs(15),
    );
}

#[test]
fn dashboard_falls_back_to_polling_when_the_server_refuses_the_websocket() {
    // No viewer slot at all: every WebSocket is refused with a close frame.
    let server = TestServer::start_with(|c| c.max_viewers = 0);
    post(&server, "team1", "第一小组", &report(100.0, 20.0, 10.0));
    let browser = Browser::launch(&server.url("/"));
    let mut page = browser.page();
    page.navigate(&server.url("/"));
    page.wait_for(
        "the page to poll after the refusals",
        "document.getElementById('conn').dataset.state === 'polling' && document.querySelectorAll('.card').length === 1",
        Duration::from_secs(20),
    );
    post(&server, "team1", "第一小组", &report(555.5, 20.0, 20.0));
    page.wait_for(
        "the polled update",
        "document.querySelector('.card [data-field=qps]').textContent === '555.5'",
        Duration::from_secs(15),
    );
}

#[test]
fn history_page_shows_summary_chart_histogram_and_pages_of_reports() {
    let server = TestServer::start();
    for i in 0..45 {
        let qps = 1000.0 + (i as f64 * 0.7).sin() * 200.0 + i as f64 * 10.0;
        post(
            &server,
            "team1",
            HOSTILE,
            &report(qps, 10.0 + (i % 7) as f64, 5.0 * i as f64),
        );
    }
    let url = server.url("/team/team1/history");
    let browser = Browser::launch(&url);
    let mut page = browser.page();
    page.set_viewport(1920, 1080, false, false);
    page.navigate(&url);
    page.wait_for(
        "the history to load",
        "document.querySelectorAll('#history tbody tr').length === 20 && !!document.querySelector('#chart svg polyline') && document.querySelectorAll('#histogram svg rect.bar').length === 13",
        Duration::from_secs(20),
    );
    assert_eq!(page.eval("document.title"), format!("{HOSTILE} - 历史数据"));
    assert_eq!(page.eval("document.querySelectorAll('img').length"), 0);
    assert_eq!(
        page.eval("document.getElementById('total-reports').textContent"),
        "45"
    );
    assert_eq!(
        page.eval("document.getElementById('export').getAttribute('href')"),
        "/api/teams/team1/export.csv"
    );
    page.screenshot("history-1920x1080-light");
    page.eval("document.getElementById('next').click()");
    page.wait_for(
        "page 2 of the table",
        "document.getElementById('page-info').textContent.includes('2 / 3')",
        Duration::from_secs(10),
    );
    page.set_viewport(390, 844, true, true);
    page.screenshot("history-390x844-dark");
}
