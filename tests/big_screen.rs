//! The board on a big screen and in the kiosk, in headless Chromium with nine demo
//! teams: from 1280×720 to 3840×2160 everything fits the viewport (no scrolling,
//! every card and every team's name in the ranking on screen), a phone keeps a
//! scrolling page, and the kiosk hides its controls, rotates pages of cards and shows
//! a QR code drawn by the server. The alert list (a strip under the ranking) and the
//! cards' warning badges stay on screen, and a banner above the board (a phase
//! header, the frozen banner, the storage notice) takes its own height while the board
//! still fits. Screenshots go to `target/screenshots/`.

mod common;

use std::time::Duration;

use benchboard::simulate::{Profile, SimulatedTeam};
use common::TestServer;
use common::browser::{Browser, Page};
use serde_json::{Value, json};

/// Nine teams as a real event names them: Chinese, English, long, mixed.
const TEAMS: [(&str, &str); 9] = [
    ("team1", "第一小组"),
    ("team2", "第二小组"),
    ("team3", "Rustaceans"),
    ("team4", "第四小组 · 数据库优化"),
    ("team5", "Team Five"),
    ("team6", "第六小组"),
    ("team7", "第七小组"),
    ("team8", "Night Owls 夜猫子"),
    ("team9", "第九小组"),
];

/// Posts `rounds` reports of every team of `teams`, 5 s of simulated run apart.
fn post_demo_teams(server: &TestServer, teams: &[(String, String)], rounds: u64) {
    let mut simulated: Vec<SimulatedTeam> = teams
        .iter()
        .enumerate()
        .map(|(i, (id, name))| SimulatedTeam::new(id, name, Profile::for_team(i), i as u64))
        .collect();
    for round in 1..=rounds {
        for team in &mut simulated {
            let body = team.report_at(Duration::from_secs(5 * round)).to_string();
            let name = benchboard::team::encode_team_name(&team.name);
            let (status, answer) = server.post_report(
                &[("X-Team-ID", &team.id), ("X-Team-Name", &name)],
                body.as_bytes(),
            );
            assert_eq!(status, 200, "{answer}");
        }
    }
}

/// A board in trouble: team4 slows down past the rule (an alert fires) and team2
/// sends a negative count (a warning badge), as in any real event.
fn post_trouble(server: &TestServer) {
    let mut slow = SimulatedTeam::new("team4", TEAMS[3].1, Profile::for_team(3), 3);
    let mut report = slow.report_at(Duration::from_secs(60));
    report["totalAvgLatency"] = json!(9000.0);
    let mut odd = SimulatedTeam::new("team2", TEAMS[1].1, Profile::for_team(1), 1);
    let mut negative = odd.report_at(Duration::from_secs(60));
    negative["totalErrors"] = json!(-5);
    for (id, name, body) in [
        ("team4", TEAMS[3].1, report),
        ("team2", TEAMS[1].1, negative),
    ] {
        let name = benchboard::team::encode_team_name(name);
        let (status, answer) = server.post_report(
            &[("X-Team-ID", id), ("X-Team-Name", &name)],
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{answer}");
    }
}

/// A server whose rule fires when a team's average latency passes 5 s.
fn server_with_a_rule(max_teams: usize) -> TestServer {
    let rules = "[[rule]]\nname = \"平均延迟超过 5 秒\"\nwhen = \"avg_latency > 5000\"\nseverity = \"critical\"\n";
    let settings = toml::from_str::<benchboard::alerts::AlertSections>(rules)
        .unwrap()
        .check()
        .unwrap();
    TestServer::start_with(move |c| {
        c.max_teams = max_teams;
        c.alerts = settings;
    })
}

fn nine_teams() -> Vec<(String, String)> {
    TEAMS
        .iter()
        .map(|(id, name)| (id.to_string(), name.to_string()))
        .collect()
}

/// JavaScript: what a person sees of the board, measured.
const LAYOUT: &str = r#"(() => {
  const inside = (r) => r.width > 0 && r.height > 0 && r.left >= -1 && r.top >= -1 && r.right <= innerWidth + 1 && r.bottom <= innerHeight + 1;
  const cards = [...document.querySelectorAll('.card')].filter((c) => getComputedStyle(c).display !== 'none');
  const rows = [...document.querySelectorAll('#ranking tbody tr')].filter((r) => getComputedStyle(r).display !== 'none');
  const badName = rows.map((r) => r.querySelector('td.team')).filter((cell) => {
    const link = cell.querySelector('a');
    return !inside(link.getBoundingClientRect()) || cell.scrollWidth > cell.clientWidth + 1 || link.scrollWidth > link.clientWidth + 1;
  }).map((cell) => cell.textContent);
  const clippedCards = cards.filter((c) => !inside(c.getBoundingClientRect())
    || c.firstElementChild.scrollHeight > c.firstElementChild.clientHeight + 1).map((c) => c.dataset.teamId);
  return {
    scrollW: document.documentElement.scrollWidth, scrollH: document.documentElement.scrollHeight,
    innerW: innerWidth, innerH: innerHeight,
    cards: cards.length, rows: rows.length, names: rows.map((r) => r.querySelector('td.team').textContent),
    badName, clippedCards,
    clock: inside(document.getElementById('clock').getBoundingClientRect()),
    alert: (() => { const item = document.querySelector('#alert-list li');
      return item ? inside(item.getBoundingClientRect()) && item.textContent : null; })(),
    warnings: [...document.querySelectorAll('.card .warn-badge:not([hidden])')].filter((b) => inside(b.getBoundingClientRect())).length,
    rootFont: parseFloat(getComputedStyle(document.documentElement).fontSize),
  };
})()"#;

/// Waits until the board has `cards` cards and `rows` ranking rows and two frames
/// have passed (fit.js lays out on the next frame), then measures it.
fn settled_layout(page: &mut Page, cards: usize, rows: usize) -> Value {
    page.wait_for(
        "the cards and the ranking",
        &format!(
            "document.querySelectorAll('.card').length === {cards} && document.querySelectorAll('#ranking tbody tr').length === {rows}"
        ),
        Duration::from_secs(20),
    );
    page.eval("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))");
    page.eval(LAYOUT)
}

fn open_board(server: &TestServer, path: &str) -> (Browser, Page) {
    let browser = Browser::launch(&server.url("/static/none"));
    let mut page = browser.page();
    page.set_viewport(1280, 720, false, false);
    page.navigate(&server.url(path));
    page.wait_for(
        "the WebSocket to go live",
        "document.getElementById('conn').dataset.state === 'live'",
        Duration::from_secs(20),
    );
    (browser, page)
}

#[test]
fn board_fits_every_landscape_screen_and_scrolls_on_a_phone() {
    let server = server_with_a_rule(9);
    post_demo_teams(&server, &nine_teams(), 4);
    post_trouble(&server);
    let (_browser, mut page) = open_board(&server, "/");
    let mut fonts = Vec::new();
    for (width, height) in [
        (1280, 720),
        (1920, 1080),
        (2560, 1440),
        (3840, 2160),
        (1366, 768),
        (2560, 1080),
    ] {
        page.set_viewport(width, height, false, false);
        let layout = settled_layout(&mut page, 9, 9);
        assert_eq!(
            layout["scrollW"], width,
            "no sideways scrolling at {width}×{height}: {layout}"
        );
        assert_eq!(
            layout["scrollH"], height,
            "no scrolling at {width}×{height}: {layout}"
        );
        assert_eq!(
            layout["cards"], 9,
            "all nine cards at once at {width}×{height}: {layout}"
        );
        assert_eq!(
            layout["clippedCards"],
            Value::Array(vec![]),
            "{width}×{height}: {layout}"
        );
        assert_eq!(
            layout["badName"],
            Value::Array(vec![]),
            "every name whole at {width}×{height}: {layout}"
        );
        let mut names: Vec<String> = layout["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        names.sort();
        let mut expected: Vec<String> = TEAMS.iter().map(|(_, n)| n.to_string()).collect();
        expected.sort();
        assert_eq!(names, expected, "{width}×{height}");
        assert_eq!(layout["clock"], true, "the clock shows at {width}×{height}");
        // The alert on screen, newest first, and team2's warning badge on its card.
        let alert = layout["alert"].as_str().unwrap_or_default();
        assert!(
            alert.contains("平均延迟超过 5 秒") && alert.contains("第四小组"),
            "the firing alert in the list at {width}×{height}: {layout}"
        );
        assert_eq!(layout["warnings"], 1, "{width}×{height}: {layout}");
        fonts.push(layout["rootFont"].as_f64().unwrap());
        page.screenshot(&format!("board-9-teams-{width}x{height}"));
    }
    // Type scales with the screen: 16 px at 1280×720, three times that at 4K.
    for (font, wanted) in fonts.iter().zip([16.0, 24.0, 32.0, 48.0]) {
        assert!(
            (font - wanted).abs() < 0.01,
            "root font {font} px, wanted {wanted}: {fonts:?}"
        );
    }

    // A phone: one column, the page scrolls, nothing wider than the screen.
    page.set_viewport(390, 844, true, false);
    let layout = settled_layout(&mut page, 9, 9);
    assert_eq!(layout["scrollW"], 390, "{layout}");
    assert!(
        layout["scrollH"].as_u64().unwrap() > 3 * 844,
        "a scrolling page: {layout}"
    );
    page.screenshot("board-9-teams-390x844");
    // Further down the phone's page: the ranking and the alert list.
    page.eval("document.getElementById('alert-list').scrollIntoView({block: 'center'}); true");
    page.screenshot("board-9-teams-390x844-alerts");
    page.eval("scrollTo(0, 0); true");
    page.set_viewport(390, 844, true, true);
    page.screenshot("board-9-teams-390x844-dark");
}

/// What the other contest branches put above the board (a phase header, the frozen
/// banner) or the storage notice: the board measures the height left, it assumes none.
#[test]
fn a_banner_above_the_board_takes_its_height_and_the_board_still_fits() {
    let server = server_with_a_rule(9);
    post_demo_teams(&server, &nine_teams(), 3);
    post_trouble(&server);
    let (_browser, mut page) = open_board(&server, "/");
    for (width, height) in [(1280, 720), (3840, 2160)] {
        page.set_viewport(width, height, false, false);
        settled_layout(&mut page, 9, 9);
        page.eval(
            "(() => { const banner = document.createElement('p'); banner.id = 'test-banner'; \
             banner.textContent = '封榜 · Frozen'; banner.style.cssText = 'margin:0;padding:1.2rem;font-size:1.6rem;background:#1e3a8a;color:#fff;text-align:center'; \
             document.querySelector('main.board').before(banner); \
             document.getElementById('storage-notice').hidden = false; return true; })()",
        );
        let layout = settled_layout(&mut page, 9, 9);
        assert_eq!(layout["scrollH"], height, "{width}×{height}: {layout}");
        assert_eq!(layout["cards"], 9, "{width}×{height}: {layout}");
        assert_eq!(
            layout["clippedCards"],
            Value::Array(vec![]),
            "{width}×{height}: {layout}"
        );
        assert_eq!(
            layout["badName"],
            Value::Array(vec![]),
            "{width}×{height}: {layout}"
        );
        assert!(layout["alert"].is_string(), "{width}×{height}: {layout}");
        page.screenshot(&format!("board-banner-{width}x{height}"));
        page.eval("document.getElementById('test-banner').remove(); document.getElementById('storage-notice').hidden = true; true");
    }
}

#[test]
fn six_cards_and_the_ranking_of_nine_fit_a_projector() {
    // The default --max-teams: six cards, every team in the ranking.
    let server = TestServer::start();
    post_demo_teams(&server, &nine_teams(), 3);
    let (_browser, mut page) = open_board(&server, "/");
    for (width, height) in [(1280, 720), (1920, 1080), (3840, 2160)] {
        page.set_viewport(width, height, false, false);
        let layout = settled_layout(&mut page, 6, 9);
        assert_eq!(layout["scrollH"], height, "{layout}");
        assert_eq!(layout["scrollW"], width, "{layout}");
        assert_eq!(layout["clippedCards"], Value::Array(vec![]), "{layout}");
        assert_eq!(layout["badName"], Value::Array(vec![]), "{layout}");
        assert_eq!(layout["rows"], 9, "{layout}");
        page.screenshot(&format!("board-6-cards-{width}x{height}"));
    }
}

#[test]
fn kiosk_hides_controls_rotates_pages_and_shows_a_qr_code() {
    let server = TestServer::start_with(|c| c.max_teams = 30);
    let teams: Vec<(String, String)> = (1..=30)
        .map(|i| (format!("t{i:02}"), format!("第{i}队")))
        .collect();
    post_demo_teams(&server, &teams, 2);
    let phone_url = "http://192.0.2.7:8080/";
    let (_browser, mut page) = open_board(
        &server,
        &format!("/?kiosk&rotate=3&url={}", urlencode(phone_url)),
    );
    page.set_viewport(1280, 720, false, false);
    let layout = settled_layout(&mut page, 30, 30);
    assert_eq!(layout["scrollH"], 720, "{layout}");
    assert_eq!(layout["clippedCards"], Value::Array(vec![]), "{layout}");
    assert_eq!(layout["badName"], Value::Array(vec![]), "{layout}");
    let shown = layout["cards"].as_u64().unwrap();
    assert!((2..30).contains(&shown), "a page of the 30 cards: {layout}");
    // No controls and no cursor.
    assert_eq!(
        page.eval("getComputedStyle(document.getElementById('lang')).display"),
        "none"
    );
    assert_eq!(
        page.eval("getComputedStyle(document.querySelector('.card-link')).cursor"),
        "none"
    );
    assert_eq!(
        page.eval("getComputedStyle(document.querySelector('.card-link')).pointerEvents"),
        "none"
    );
    // The QR code: drawn by the server for the address phones can reach.
    page.wait_for(
        "the QR code",
        "(() => { const img = document.querySelector('.qr-box img'); return !!img && img.complete && img.naturalWidth > 0; })()",
        Duration::from_secs(10),
    );
    assert_eq!(
        page.eval("document.querySelector('.qr-box .qr-url').textContent"),
        phone_url
    );
    page.screenshot("kiosk-30-teams-1280x720");
    // The cards on screen change within a rotation.
    let first_page = page.eval(VISIBLE_CARDS);
    page.wait_for(
        "the next page of cards",
        &format!(
            "JSON.stringify({VISIBLE_CARDS}) !== {}",
            Value::String(first_page.to_string())
        ),
        Duration::from_secs(20),
    );
    page.screenshot("kiosk-30-teams-1280x720-page-2");
    page.set_viewport(3840, 2160, false, true);
    let layout = settled_layout(&mut page, 30, 30);
    assert_eq!(layout["scrollH"], 2160, "{layout}");
    assert_eq!(layout["badName"], Value::Array(vec![]), "{layout}");
    page.screenshot("kiosk-30-teams-3840x2160-dark");
}

const VISIBLE_CARDS: &str = "[...document.querySelectorAll('.card')].filter((c) => getComputedStyle(c).display !== 'none').map((c) => c.dataset.teamId)";

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[test]
fn qr_code_is_an_svg_of_the_given_or_the_requested_address() {
    let server = TestServer::start();
    let (status, svg) = server.get("/qr.svg?url=http%3A%2F%2F192.0.2.7%3A8080%2F");
    assert_eq!(status, 200);
    assert!(
        svg.starts_with("<?xml") && svg.contains("<svg") && svg.contains("<path"),
        "{svg}"
    );
    let response = common::agent().get(&server.url("/qr.svg")).call().unwrap();
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "image/svg+xml"
    );
    let (status, answer) = server.get_json("/qr.svg?url=javascript%3Aalert(1)");
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("http:// or https://"),
        "{answer}"
    );
}
