//! The frozen board and the reveal in headless Chromium, nine teams, the contest's
//! phases moved by a `ManualClock`: the banner says "frozen" and the page shows no
//! number of a later report; the reveal shows the standings with the step's team
//! highlighted, and a viewer that opens the page mid-reveal sees the same step.
//! Screenshots at 1280×720, 1920×1080, 3840×2160 and 390×844 go to
//! `target/screenshots/` (`freeze-*`, `reveal-*`).

mod common;

use std::sync::Arc;
use std::time::Duration;

use benchboard::clock::ManualClock;
use benchboard::config::ContestFile;
use benchboard::server::Config;
use chrono::{DateTime, FixedOffset, TimeDelta};
use common::TestServer;
use common::browser::{Browser, Page};
use common::contest::{ADMIN, report_with_qps};
use serde_json::json;

const TEAMS: [(&str, &str, f64, Option<f64>); 9] = [
    ("team1", "第一小组", 1210.0, Some(4321.5)),
    ("team2", "第二小组", 1490.0, None),
    ("team3", "Rustaceans", 1730.0, Some(3987.25)),
    ("team4", "第四小组 · 数据库优化", 980.0, None),
    ("team5", "Team Five", 1105.0, Some(1188.75)),
    ("team6", "第六小组", 1650.0, None),
    ("team7", "第七小组", 870.0, Some(2765.5)),
    ("team8", "Night Owls 夜猫子", 1320.0, None),
    ("team9", "第九小组", 760.0, None),
];

const SIZES: [(u32, u32, bool); 4] = [
    (1280, 720, false),
    (1920, 1080, false),
    (3840, 2160, false),
    (390, 844, true),
];

fn post(server: &TestServer, id: &str, name: &str, qps: f64) {
    let name = benchboard::team::encode_team_name(name);
    let (status, answer) = server.post_report(
        &[("X-Team-ID", id), ("X-Team-Name", &name)],
        &report_with_qps(qps),
    );
    assert_eq!(status, 200, "{answer}");
}

fn start(clock: &Arc<ManualClock>, t0: DateTime<FixedOffset>) -> TestServer {
    let at = |minutes: i64| (t0 + TimeDelta::minutes(minutes)).to_rfc3339();
    let dir = tempfile::tempdir().unwrap().keep();
    let text = format!(
        "[admin]\ntoken = \"{ADMIN}\"\n\n[contest]\nstart = \"{}\"\nfreeze = \"{}\"\nend = \"{}\"\n",
        at(-60),
        at(10),
        at(20)
    );
    std::fs::write(dir.join("contest.toml"), text).unwrap();
    let file = ContestFile::load(&dir.join("contest.toml")).unwrap();
    let clock = clock.clone();
    TestServer::start_on(dir.join("data"), move |config: &mut Config| {
        config.contest = Some(file);
        config.clock = clock;
        config.max_teams = 9;
    })
}

fn open(server: &TestServer) -> (Browser, Page) {
    let browser = Browser::launch(&server.url("/static/none"));
    let mut page = browser.page();
    page.set_viewport(1280, 720, false, false);
    page.navigate(&server.url("/"));
    page.wait_for(
        "the WebSocket to go live",
        "document.getElementById('conn').dataset.state === 'live'",
        Duration::from_secs(20),
    );
    (browser, page)
}

fn reveal(server: &TestServer, body: serde_json::Value) {
    let answer = common::contest::admin(server, "POST", "/api/admin/reveal", Some(body));
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// The page's text carries none of the later reports' numbers, however formatted.
fn assert_shows_no_later_number(page: &mut Page, what: &str) {
    let text = page.eval("document.body.innerText").to_string();
    for (_, _, _, later) in TEAMS {
        let Some(later) = later else { continue };
        for whole in [later.floor() as u64, later.round() as u64] {
            let grouped = format!("{},{:03}", whole / 1000, whole % 1000);
            assert!(
                !text.contains(&whole.to_string()) && !text.contains(&grouped),
                "{what} shows {later}: {text}"
            );
        }
    }
}

#[test]
fn the_frozen_board_and_a_reveal_step_at_every_screen_size() {
    let t0 = chrono::Local::now().fixed_offset();
    let clock = Arc::new(ManualClock::new(t0));
    let server = start(&clock, t0);
    for (id, name, qps, _) in TEAMS {
        post(&server, id, name, qps);
    }
    let (_browser, mut page) = open(&server);
    clock.set(t0 + TimeDelta::minutes(10) + TimeDelta::seconds(1));
    page.wait_for(
        "the frozen banner",
        "!document.getElementById('freeze-banner').hidden && document.body.dataset.phase === 'frozen'",
        Duration::from_secs(20),
    );
    for (id, name, _, later) in TEAMS {
        if let Some(later) = later {
            post(&server, id, name, later);
        }
    }
    for (width, height, phone) in SIZES {
        page.set_viewport(width, height, phone, false);
        page.wait_for(
            "the cards and the ranking of nine",
            "document.querySelectorAll('.card').length > 0 && document.querySelectorAll('#ranking tbody tr').length === 9",
            Duration::from_secs(20),
        );
        assert_shows_no_later_number(&mut page, "the frozen board");
        let banner = page.eval(
            "(() => { const r = document.getElementById('freeze-banner').getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight && r.width > 0; })()",
        );
        assert_eq!(
            banner,
            json!(true),
            "the banner is on screen at {width}×{height}"
        );
        page.screenshot(&format!("freeze-frozen-{width}x{height}"));
    }

    clock.set(t0 + TimeDelta::minutes(20) + TimeDelta::seconds(1));
    reveal(&server, json!({"action": "start"}));
    reveal(&server, json!({"action": "next"}));
    reveal(&server, json!({"action": "next"}));
    page.set_viewport(1280, 720, false, false);
    page.wait_for(
        "reveal step 2",
        "!document.getElementById('reveal').hidden && document.getElementById('reveal-step').textContent.includes('2')",
        Duration::from_secs(20),
    );
    // A viewer that opens the page now sees the same step.
    let (_late_browser, mut late) = open(&server);
    late.wait_for(
        "the same step",
        "!document.getElementById('reveal').hidden && document.querySelectorAll('#reveal-rows li').length === 9 && document.querySelector('#reveal-rows li.current') !== null",
        Duration::from_secs(20),
    );
    let current = late.eval("document.querySelector('#reveal-rows li.current .name').textContent");
    assert_eq!(
        current,
        page.eval("document.querySelector('#reveal-rows li.current .name').textContent")
    );
    for (width, height, phone) in SIZES {
        page.set_viewport(width, height, phone, false);
        let fits = page.eval(
            "(() => { const r = document.querySelector('#reveal-rows li.current').getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })()",
        );
        assert_eq!(
            fits,
            json!(true),
            "the step's row is on screen at {width}×{height}"
        );
        page.screenshot(&format!("reveal-step-{width}x{height}"));
    }
    // The two last steps, then the board is thawed.
    reveal(&server, json!({"action": "next"}));
    reveal(&server, json!({"action": "next"}));
    page.wait_for(
        "the thaw",
        "getComputedStyle(document.getElementById('reveal')).display === 'none' && getComputedStyle(document.getElementById('freeze-banner')).display === 'none'",
        Duration::from_secs(20),
    );
    page.wait_for(
        "the final numbers",
        "document.body.innerText.includes('4,322')",
        Duration::from_secs(20),
    );
}
