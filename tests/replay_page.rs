//! The replay page (`/replay`) in headless Chromium on a hand-made contest of six
//! teams: it loads the timeline, seeks (the scrubber moved to a time shows that time's
//! ranking and numbers, as `/api/replay` gives them), plays, marks the ranking changes
//! on the timeline, shows a hostile name as text, and fits the screen from 1280×720 to
//! 3840×2160 (a scrolling page on a phone). Screenshots go to `target/screenshots/`.

mod common;

use std::time::Duration;

use common::TestServer;
use common::browser::{Browser, Page};
use common::replay::{At, server_with};
use serde_json::{Value, json};

/// 2026-11-30T10:00:00Z, in ms.
const BASE: i64 = 1_796_032_800_000;
const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// Six teams reporting every 5 s for 10 minutes, their QPS waving so that places change.
fn contest() -> TestServer {
    let names = [
        "第一小组",
        "Rustaceans",
        "第三小组 · 数据库优化",
        HOSTILE,
        "Team Five",
        "Night Owls 夜猫子",
    ];
    let histories: Vec<(String, String, Vec<At>)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let reports = (0..120)
                .map(|k| {
                    let wave = ((k as f64) / 9.0 + i as f64 * 1.3).sin();
                    (
                        BASE + k * 5000 + i as i64 * 300,
                        1000.0 + 60.0 * i as f64 + 300.0 * wave,
                        0.1 * i as f64,
                    )
                })
                .collect();
            (format!("team{}", i + 1), name.to_string(), reports)
        })
        .collect();
    let teams: Vec<(&str, &str, &[At])> = histories
        .iter()
        .map(|(id, name, reports)| (id.as_str(), name.as_str(), reports.as_slice()))
        .collect();
    server_with(&teams)
}

fn open(server: &TestServer) -> (Browser, Page) {
    let browser = Browser::launch(&server.url("/static/none"));
    let mut page = browser.page();
    page.set_viewport(1280, 720, false, false);
    page.navigate(&server.url("/replay"));
    page.wait_for(
        "the timeline to load",
        "document.getElementById('replay-bar').dataset.state === 'ready'",
        Duration::from_secs(20),
    );
    (browser, page)
}

/// The ranking's team names, top first, as the page shows them.
fn shown_ranking(page: &mut Page) -> Vec<String> {
    let names = page.eval(
        "[...document.querySelectorAll('#ranking tbody td.team')].map((td) => td.textContent)",
    );
    names
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

/// The order `/api/replay` gives at `at_ms`, as team names.
fn ranking_at(answer: &Value, at_ms: i64) -> Vec<String> {
    let orders = answer["orders"].as_array().unwrap();
    let order = orders
        .iter()
        .rev()
        .find(|o| o["t"].as_i64().unwrap() <= at_ms)
        .expect("an order by then");
    let name = |id: &Value| {
        let team = answer["teams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["team_id"] == *id)
            .unwrap();
        team["team_name"].as_str().unwrap().to_string()
    };
    order["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(name)
        .collect()
}

/// Moves the scrubber to the frame of `at_ms` as a person would (an `input` event).
fn scrub_to(page: &mut Page, answer: &Value, at_ms: i64) {
    let frame = (at_ms - answer["from_ms"].as_i64().unwrap()) / answer["step_ms"].as_i64().unwrap();
    page.eval(&format!(
        "(() => {{ const s = document.getElementById('replay-scrubber'); s.value = '{frame}'; s.dispatchEvent(new Event('input')); return true; }})()"
    ));
    page.eval("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))");
}

#[test]
fn scrubbing_to_a_time_shows_that_times_ranking_and_numbers() {
    let server = contest();
    let (status, answer) = server.get_json("/api/replay");
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["changes"].as_array().unwrap().len() > 6,
        "the waves change places"
    );
    let (_browser, mut page) = open(&server);
    let step = answer["step_ms"].as_i64().unwrap();
    let from = answer["from_ms"].as_i64().unwrap();
    // Three times, each the frame of a ranking change and one between.
    let changes = answer["orders"].as_array().unwrap();
    let times = [
        changes[2]["t"].as_i64().unwrap(),
        changes[changes.len() / 2]["t"].as_i64().unwrap() + step,
        from + 590_000,
    ];
    for at in times {
        scrub_to(&mut page, &answer, at);
        let wanted = ranking_at(&answer, at);
        page.wait_for(
            "the ranking of the time scrubbed to",
            &format!("JSON.stringify([...document.querySelectorAll('#ranking tbody td.team')].map((td) => td.textContent)) === {}", json!(json!(wanted).to_string())),
            Duration::from_secs(10),
        );
        assert_eq!(shown_ranking(&mut page), wanted, "at {at}");
        // The card of the leader shows its QPS of then.
        let leader = answer["orders"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|o| o["t"].as_i64().unwrap() <= at)
            .unwrap()["order"][0]
            .clone();
        let team = answer["teams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["team_id"] == leader)
            .unwrap();
        let point = team["points"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|p| p[0].as_i64().unwrap() <= at)
            .unwrap();
        let shown = page.eval(&format!(
            "document.querySelector('.card[data-team-id={}] [data-field=qps]').firstChild.textContent",
            json!(leader.as_str().unwrap())
        ));
        let shown: f64 = shown.as_str().unwrap().replace(',', "").parse().unwrap();
        assert!(
            (shown - point[1].as_f64().unwrap()).abs() < 1.0,
            "{shown} vs {point}"
        );
    }
    // One mark per frame where the ranking changed.
    let mut change_times: Vec<i64> = answer["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["t"].as_i64().unwrap())
        .collect();
    change_times.dedup();
    assert_eq!(
        page.eval("document.querySelectorAll('#replay-marks .mark').length"),
        change_times.len()
    );
    // A hostile name is text: no element came from it.
    assert_eq!(page.eval("document.querySelectorAll('img').length"), 0);
    assert!(shown_ranking(&mut page).iter().any(|n| n == HOSTILE));
}

#[test]
fn plays_from_the_start_and_stops_at_the_end() {
    let server = contest();
    let (_browser, mut page) = open(&server);
    let start = page
        .eval("Number(document.getElementById('replay-bar').dataset.at)")
        .as_f64()
        .unwrap();
    page.eval("(() => { document.getElementById('replay-speed').value = '600'; document.getElementById('replay-play').click(); return true; })()");
    assert_eq!(
        page.eval("document.getElementById('replay-bar').dataset.playing"),
        "true"
    );
    // Ten minutes at 600×: about a second of real time; the ranking moves meanwhile.
    page.wait_for(
        "the replay to reach the end",
        "document.getElementById('replay-bar').dataset.playing === 'false'",
        Duration::from_secs(30),
    );
    let end = page
        .eval("Number(document.getElementById('replay-bar').dataset.at)")
        .as_f64()
        .unwrap();
    assert!(end > start + 590_000.0, "{start} -> {end}");
    let scrubber = page.eval("[document.getElementById('replay-scrubber').value, document.getElementById('replay-scrubber').max]");
    assert_eq!(scrubber[0], scrubber[1], "the scrubber follows the play");
}

#[test]
fn fits_the_big_screens_and_scrolls_on_a_phone_with_screenshots() {
    let server = contest();
    let (status, answer) = server.get_json("/api/replay");
    assert_eq!(status, 200);
    let (_browser, mut page) = open(&server);
    scrub_to(&mut page, &answer, BASE + 400_000);
    for (width, height) in [(1280, 720), (1920, 1080), (3840, 2160)] {
        page.set_viewport(width, height, false, false);
        page.eval("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))");
        let size = page.eval("[document.documentElement.scrollWidth, document.documentElement.scrollHeight, document.querySelectorAll('.card').length]");
        assert_eq!(
            size,
            json!([width, height, 6]),
            "{width}×{height}: no scrolling, six cards"
        );
        let bar = page.eval("(() => { const r = document.getElementById('replay-bar').getBoundingClientRect(); return r.bottom <= innerHeight + 1 && r.height > 0; })()");
        assert_eq!(bar, true, "the player bar is on screen at {width}×{height}");
        page.screenshot(&format!("replay-{width}x{height}"));
    }
    page.set_viewport(390, 844, true, false);
    page.eval("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))");
    assert_eq!(page.eval("document.documentElement.scrollWidth"), 390);
    page.screenshot("replay-390x844");
}

#[test]
fn the_board_links_to_the_replay() {
    let server = TestServer::start();
    let (status, page) = server.get("/");
    assert_eq!(status, 200);
    assert!(page.contains("href=\"/replay\""), "{page}");
    let (status, page) = server.get("/replay");
    assert_eq!(status, 200);
    assert!(page.contains("/static/replay.js") && page.contains("data-mode=\"replay\""));
}
