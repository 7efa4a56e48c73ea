//! The board in contest mode, in headless Chromium: the countdown with the registered
//! teams before the start (by the server's clock, years away from the browser's),
//! the time left and the ranking by the contest's rule (places, score, the reason of
//! a disqualified team) during the contest, "final standings" after the end. The
//! phases are driven by a `ManualClock`; screenshots of each at 1280×720, 1920×1080,
//! 3840×2160 and 390×844 go to `target/screenshots/`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use benchboard::clock::ManualClock;
use benchboard::config::ContestFile;
use common::TestServer;
use common::browser::{Browser, Page};
use serde_json::{Value, json};

/// Six teams as a real event names them; the last one's name tries to be HTML.
const TEAMS: [(&str, &str); 6] = [
    ("team1", "第一小组"),
    ("team2", "Rustaceans"),
    ("team3", "第三小组 · 数据库优化"),
    ("team4", "Night Owls 夜猫子"),
    ("team5", "第五小组"),
    ("team6", "<b>Bold</b> & co"),
];

const SIZES: [(u32, u32, bool); 4] = [
    (1280, 720, false),
    (1920, 1080, false),
    (3840, 2160, false),
    (390, 844, true),
];

fn token(id: &str) -> String {
    format!("{id}-secret-token-0123456789")
}

fn contest_file(dir: &std::path::Path) -> ContestFile {
    let mut text = String::from(
        "[contest]\nstart = \"2030-06-01T14:00:00+00:00\"\nfreeze = \"2030-06-01T17:00:00+00:00\"\nend = \"2030-06-01T18:00:00+00:00\"\n\n[ranking]\nscore = \"qps * (1 - data_loss_rate / 100)\"\ndisqualify = [\"data_loss_rate > 1\"]\n",
    );
    for (id, name) in TEAMS {
        text.push_str(&format!(
            "\n[[team]]\nid = \"{id}\"\nname = {}\ntoken = \"{}\"\n",
            json!(name),
            token(id)
        ));
    }
    let path = dir.join("contest.toml");
    std::fs::write(&path, text).unwrap();
    ContestFile::load(&path).unwrap()
}

/// A report with this QPS and this many requests lost out of 5,000.
fn report(qps: f64, lost: i64) -> Vec<u8> {
    let text = std::fs::read_to_string(common::fixture("valid/full-13-buckets.json")).unwrap();
    let mut report: Value = serde_json::from_str(&text).unwrap();
    report["performanceMetrics"]["avgCompletedQPS"] = json!(qps);
    report["totalSent"] = json!(5000);
    report["pending"] = json!(0);
    report["totalOps"] = json!(5000 - lost);
    serde_json::to_vec(&report).unwrap()
}

fn post(server: &TestServer, id: &str, body: &[u8]) {
    let bearer = format!("Bearer {}", token(id));
    let (status, answer) =
        server.post_report(&[("X-Team-ID", id), ("Authorization", &bearer)], body);
    assert_eq!(status, 200, "{answer}");
}

fn frames(page: &mut Page) {
    page.eval("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))");
}

/// Screenshots of the page at every size, named `contest-<phase>-<w>x<h>`; on a
/// landscape screen the board must not scroll.
fn shoot_every_size(page: &mut Page, phase: &str) {
    for (width, height, mobile) in SIZES {
        page.set_viewport(width, height, mobile, false);
        frames(page);
        let scroll = page
            .eval("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]");
        assert_eq!(
            scroll[0], width,
            "no sideways scrolling at {width}×{height} ({phase})"
        );
        if !mobile {
            assert_eq!(
                scroll[1], height,
                "no scrolling at {width}×{height} ({phase})"
            );
        }
        let pill = page.eval("(() => { const r = document.getElementById('phase').getBoundingClientRect(); return r.width > 0 && r.bottom <= innerHeight; })()");
        assert_eq!(pill, true, "the phase shows at {width}×{height} ({phase})");
        page.screenshot(&format!("contest-{phase}-{width}x{height}"));
    }
    page.set_viewport(1280, 720, false, false);
    frames(page);
}

#[test]
fn countdown_live_and_final_standings_follow_the_server_clock() {
    let dir = tempfile::tempdir().unwrap();
    let file = contest_file(dir.path());
    let at = chrono::DateTime::parse_from_rfc3339("2030-06-01T13:00:00+00:00").unwrap();
    let clock = Arc::new(ManualClock::new(at));
    let server_clock = clock.clone();
    let server = TestServer::start_with(move |c| {
        c.contest = Some(file);
        c.clock = server_clock;
        c.max_teams = 6;
    });
    let browser = Browser::launch(&server.url("/static/none"));
    let mut page = browser.page();
    page.set_viewport(1280, 720, false, false);
    page.navigate(&server.url("/"));
    page.wait_for(
        "the countdown",
        "document.body.dataset.phase === 'countdown' && document.querySelectorAll('#contest-teams li').length === 6 && !document.getElementById('contest-countdown').textContent.startsWith('-')",
        Duration::from_secs(20),
    );
    // An hour to go by the server's clock, whatever the browser's says (2026 here).
    let countdown = page.eval("document.getElementById('contest-countdown').textContent");
    let countdown = countdown.as_str().unwrap().to_string();
    assert!(
        countdown.starts_with("00:59:") || countdown == "01:00:00",
        "{countdown}"
    );
    let names = page
        .eval("[...document.querySelectorAll('#contest-teams li')].map((li) => li.textContent)");
    assert_eq!(names[5], "<b>Bold</b> & co", "a name is text, never HTML");
    assert_eq!(
        page.eval("document.querySelectorAll('#contest-teams b').length"),
        0
    );
    assert_eq!(
        page.eval("getComputedStyle(document.getElementById('cards')).display"),
        "none"
    );
    shoot_every_size(&mut page, "countdown");

    // The start: the board goes live at the server's word, and the reports come in.
    clock.advance(Duration::from_secs(3600));
    page.wait_for(
        "the contest to go live",
        "document.body.dataset.phase === 'live'",
        Duration::from_secs(20),
    );
    for (i, (id, _)) in TEAMS.iter().enumerate() {
        clock.advance(Duration::from_secs(1));
        let lost = if *id == "team4" { 150 } else { 0 };
        post(&server, id, &report(100.0 + 40.0 * i as f64, lost));
    }
    page.wait_for(
        "six ranked cards",
        "document.querySelectorAll('.card').length === 6 && [...document.querySelectorAll('.rank-badge')].every((b) => !b.hidden)",
        Duration::from_secs(20),
    );
    let pill = page.eval("document.getElementById('phase').textContent");
    // Four hours left by the server's clock (less the moments since the start).
    let pill = pill.as_str().unwrap();
    assert!(
        pill.contains("剩余 04:00:00") || pill.contains("剩余 03:59:"),
        "{pill}"
    );
    let order = page
        .eval("[...document.querySelectorAll('#ranking tbody tr')].map((r) => r.dataset.teamId)");
    assert_eq!(
        order,
        json!(["team6", "team5", "team3", "team2", "team1", "team4"])
    );
    let reason = page.eval("document.querySelector('.card[data-team-id=team4] .disq').textContent");
    assert_eq!(reason, "取消资格: data_loss_rate > 1 (3.00)");
    let rule = page.eval("document.getElementById('ranking-rule').textContent");
    assert!(
        rule.as_str()
            .unwrap()
            .contains("qps * (1 - data_loss_rate / 100)"),
        "{rule}"
    );
    shoot_every_size(&mut page, "live");

    // The end: final standings; a report after it is not ranked.
    clock.advance(Duration::from_secs(4 * 3600));
    page.wait_for(
        "the final standings",
        "document.body.dataset.phase === 'ended' && document.getElementById('ranking-title').textContent === '最终排名'",
        Duration::from_secs(20),
    );
    post(&server, "team1", &report(9000.0, 0));
    // The contest has a freeze: until the reveal the public card stays as it was.
    frames(&mut page);
    let card = page
        .eval("document.querySelector('.card[data-team-id=team1] [data-field=qps]').textContent");
    assert!(!card.as_str().unwrap().starts_with('9'), "{card}");
    let first = page.eval("document.querySelector('#ranking tbody tr').dataset.teamId");
    assert_eq!(first, "team6", "a report after the end changes no place");
    shoot_every_size(&mut page, "ended");
    // In English too.
    page.eval("document.getElementById('lang').click()");
    assert_eq!(
        page.eval("document.getElementById('ranking-title').textContent"),
        "Final standings"
    );
    page.screenshot("contest-ended-en-1280x720");
    // The history page marks the report after the end.
    // (seen by the team itself, with its token: the public history stops at the freeze)
    page.navigate(&server.url("/team/team1/history"));
    page.eval(&format!(
        "sessionStorage.setItem('benchboard.team_token.team1', '{}'); location.reload(); true",
        token("team1")
    ));
    page.wait_for(
        "the history table",
        "document.querySelectorAll('#history tbody tr').length === 2",
        Duration::from_secs(20),
    );
    let marks = page.eval("[...document.querySelectorAll('#history tbody tr')].map((r) => r.classList.contains('after-end'))");
    assert_eq!(marks, json!([true, false]), "newest first");
    let mark = page.eval("document.querySelector('.after-end-mark').textContent");
    assert_eq!(
        mark, "after the end",
        "the language chosen on the board stays"
    );
    page.eval("document.getElementById('history').scrollIntoView()");
    page.screenshot("contest-history-after-end-1280x720");
}
