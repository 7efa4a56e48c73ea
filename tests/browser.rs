//! The dashboard and the history page in a real browser: headless Chromium (Debian's
//! `chromium`) driven over the DevTools protocol, with tungstenite as the client.
//!
//! The tests post reports while the page is open and poll the rendered DOM until the
//! new values appear, check that a hostile team name shows as text, and keep
//! screenshots under `target/screenshots/` for a human to look at.

mod common;

use std::time::{Duration, Instant};

use common::browser::{Browser, Page};
use common::{TestServer, fixture};
use serde_json::{Value, json};

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// A valid report with the given completed QPS, average latency (ms) and elapsed time
/// (s); its counts agree with them (completed = QPS · elapsed), so it is plausible.
fn report(qps: f64, avg_latency_ms: f64, elapsed_s: f64) -> Vec<u8> {
    let mut value: Value =
        serde_json::from_slice(&std::fs::read(fixture("valid/full-13-buckets.json")).unwrap())
            .unwrap();
    let completed = (qps * elapsed_s).round() as i64;
    value["totalOps"] = json!(completed);
    value["totalSent"] = json!(completed + 150);
    value["performanceMetrics"]["avgCompletedQPS"] = json!(qps);
    value["performanceMetrics"]["avgSentQPS"] = json!(qps * 1.02);
    value["totalAvgLatency"] = json!(avg_latency_ms);
    value["totalElapsed"] = json!(elapsed_s);
    serde_json::to_vec(&value).unwrap()
}

/// The report with `totalErrors: -5`, as the original tool's system test sends it.
fn negative_errors(body: Vec<u8>) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(&body).unwrap();
    value["totalErrors"] = json!(-5);
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
    page.eval("performance.setResourceTimingBufferSize(100000)");
    let polls_before = page.eval(TEAMS_FETCHES);
    let posted = Instant::now();
    post(&server, "hostile", HOSTILE, &report(3456.7, 4.25, 30.0));
    page.wait_for(
        "the hostile team's card",
        "!!document.querySelector('.card[data-team-id=\"hostile\"]')",
        Duration::from_secs(10),
    );
    assert_pushed(&mut page, posted, &polls_before);
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
    let posted = Instant::now();
    post(&server, "team2", "第二小组", &report(2500.0, 9.5, 240.0));
    page.wait_for(
        "team2's new QPS",
        "document.querySelector('.card[data-team-id=\"team2\"] [data-field=qps]').textContent === '2,500'",
        Duration::from_secs(10),
    );
    assert_pushed(&mut page, posted, &polls_before);
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

    // A click on a card opens its team's history page.
    page.wait_for(
        "team2's card after the reload",
        "!!document.querySelector('.card[data-team-id=\"team2\"] .card-link')",
        Duration::from_secs(20),
    );
    page.eval("document.querySelector('.card[data-team-id=\"team2\"] .card-link').click()");
    page.wait_for(
        "team2's history page",
        "location.pathname === '/team/team2/history' && document.readyState === 'complete' && document.title.includes('第二小组')",
        Duration::from_secs(20),
    );
}

/// JavaScript: how many times the page fetched `/api/teams` (what polling does).
const TEAMS_FETCHES: &str = "performance.getEntriesByType('resource').filter(e => new URL(e.name).pathname === '/api/teams').length";

/// The update shown since `posted` came over the WebSocket: the page still says
/// live, fetched `/api/teams` no more often than before, and showed it well within
/// the 3 s the page polls at (a polled update could take up to that).
fn assert_pushed(page: &mut Page, posted: Instant, polls_before: &Value) {
    let shown_after = posted.elapsed();
    assert_eq!(
        page.eval("document.getElementById('conn').dataset.state"),
        "live"
    );
    assert_eq!(
        &page.eval(TEAMS_FETCHES),
        polls_before,
        "the page polled /api/teams"
    );
    assert!(
        shown_after < Duration::from_millis(2000),
        "shown {shown_after:?} after the report: not pushed"
    );
}

#[test]
fn dashboard_over_https_goes_live_on_wss() {
    let server = common::tls::Https::start(Duration::from_secs(10));
    assert_eq!(server.post_report("tls1"), 200);
    let url = server.url("/");
    // the certificate is the test's own, made a moment ago
    let browser = Browser::launch_with(&url, &["--ignore-certificate-errors"]);
    let mut page = browser.page();
    page.navigate(&url);
    page.wait_for(
        "the wss:// push to go live",
        "document.getElementById('conn').dataset.state === 'live' && document.querySelectorAll('.card').length === 1",
        Duration::from_secs(20),
    );
    assert_eq!(page.eval("location.protocol"), "https:");
    page.eval("performance.setResourceTimingBufferSize(100000)");
    let polls_before = page.eval(TEAMS_FETCHES);
    let posted = Instant::now();
    assert_eq!(server.post_report("tls2"), 200);
    page.wait_for(
        "the second team's card",
        "!!document.querySelector('.card[data-team-id=\"tls2\"]')",
        Duration::from_secs(10),
    );
    assert_pushed(&mut page, posted, &polls_before);
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
        // Completed requests (QPS · elapsed) only grow: one run.
        let qps = 1000.0 + (i as f64 * 0.7).sin() * 50.0 + i as f64 * 10.0;
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

#[test]
fn dashboard_with_1000_teams_draws_the_top_of_the_ranking_and_keeps_up_with_a_burst() {
    let server = TestServer::start_with(|c| c.threads = 8);
    let body = |qps: f64| report(qps, 10.0, 60.0);
    for i in 0..1000 {
        post(
            &server,
            &format!("t{i:04}"),
            &format!("队伍 {i}"),
            &body(i as f64),
        );
    }
    let browser = Browser::launch(&server.url("/"));
    let mut page = browser.page();
    page.set_viewport(1920, 1080, false, false);
    page.navigate(&server.url("/"));
    page.wait_for(
        "the ranking's first rows",
        "document.getElementById('conn').dataset.state === 'live' && document.querySelectorAll('#ranking tbody tr').length === 50",
        Duration::from_secs(30),
    );
    assert_eq!(
        page.eval("document.querySelector('#ranking tbody tr').dataset.teamId"),
        "t0999",
        "the fastest team leads"
    );
    let more = page.eval("document.getElementById('ranking-more').textContent");
    assert_eq!(more, "显示更多（已显示 50 / 共 1000 队）");
    page.screenshot("dashboard-1000-teams-1920x1080");
    // Long tasks (over 50 ms) from now on: a page that redrew 1,000 rows per update
    // would be busy for seconds during the burst.
    page.eval(
        "window.longest = 0; new PerformanceObserver((list) => { for (const e of list.getEntries()) \
         window.longest = Math.max(window.longest, e.duration); }).observe({entryTypes: ['longtask']}); true",
    );
    let burst: Vec<_> = (0..4)
        .map(|worker| {
            let url = server.url("/api/stats/report");
            std::thread::spawn(move || {
                for i in (worker..300).step_by(4) {
                    let response = common::agent()
                        .post(&url)
                        .header("X-Team-ID", &format!("t{:04}", i))
                        .send(&body(2000.0 + i as f64)[..])
                        .expect("POST answered");
                    assert_eq!(response.status().as_u16(), 200);
                }
            })
        })
        .collect();
    for worker in burst {
        worker.join().expect("burst worker");
    }
    page.wait_for(
        "the burst's fastest team on top",
        "document.querySelector('#ranking tbody tr').dataset.teamId === 't0299'",
        Duration::from_secs(30),
    );
    let longest = page.eval("window.longest").as_f64().unwrap_or(0.0);
    // Generous (the machine is shared); one frame of the top 50 takes a few ms.
    assert!(
        longest < 1000.0,
        "the page was busy for {longest} ms at once"
    );
    page.eval("document.getElementById('ranking-more').click(); true");
    page.wait_for(
        "the next 50 rows on demand",
        "document.querySelectorAll('#ranking tbody tr').length === 100",
        Duration::from_secs(10),
    );
    page.screenshot("dashboard-1000-teams-after-burst");
}

#[test]
fn a_firing_alert_outlines_its_card_and_heads_the_alert_list_and_warnings_have_a_badge() {
    let rules = "[[rule]]\nname = \"平均延迟超过 100 ms\"\nwhen = \"avg_latency > 100\"\nseverity = \"critical\"\n";
    let settings = toml::from_str::<benchboard::alerts::AlertSections>(rules)
        .unwrap()
        .check()
        .unwrap();
    let server = TestServer::start_with(move |c| c.alerts = settings);
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
    assert_eq!(
        page.eval("document.querySelectorAll('.card.alerting').length"),
        0
    );
    assert_eq!(
        page.eval("document.getElementById('no-alerts').hidden"),
        false
    );

    // team4 slows down: the rule fires, pushed over /ws to the open page.
    post(
        &server,
        "team4",
        "第四小组 · 数据库优化",
        &report(700.0, 250.0, 240.0),
    );
    page.wait_for(
        "team4's card outlined with the rule's name",
        "(() => { const c = document.querySelector('.card[data-team-id=\"team4\"]'); \
         return c.classList.contains('alerting') && c.classList.contains('critical') && \
         c.querySelector('.alert-rules').textContent.includes('平均延迟超过 100 ms'); })()",
        Duration::from_secs(10),
    );
    let first = page.eval("document.querySelector('#alert-list li').innerText");
    let first = first.as_str().unwrap();
    assert!(
        first.contains("触发")
            && first.contains("第四小组")
            && first.contains("平均延迟超过 100 ms"),
        "{first}"
    );
    assert_eq!(
        page.eval("document.querySelectorAll('.card.alerting').length"),
        1
    );

    // team2 sends the original suite's negative count: a badge whose tooltip says why.
    post(
        &server,
        "team2",
        "第二小组",
        &negative_errors(report(990.0, 25.0, 240.0)),
    );
    page.wait_for(
        "team2's warning badge",
        "!document.querySelector('.card[data-team-id=\"team2\"] .warn-badge').hidden",
        Duration::from_secs(10),
    );
    let tooltip =
        page.eval("document.querySelector('.card[data-team-id=\"team2\"] .warn-badge').title");
    // -5 after 150 in the same run: the counter also went down.
    assert_eq!(
        tooltip,
        "数据可疑\ntotalErrors：计数为负数\ntotalErrors：累计计数比本轮上一次上报时变小了"
    );
    page.screenshot("dashboard-alert-1920x1080-light");
    page.set_viewport(390, 844, true, true);
    page.screenshot("dashboard-alert-390x844-dark");

    // Resolved: the outline goes, the list says so first.
    post(
        &server,
        "team4",
        "第四小组 · 数据库优化",
        &report(720.0, 40.0, 250.0),
    );
    page.wait_for(
        "team4's alert resolved",
        "!document.querySelector('.card[data-team-id=\"team4\"]').classList.contains('alerting') && \
         document.querySelector('#alert-list li').classList.contains('resolved')",
        Duration::from_secs(10),
    );
}

#[test]
fn history_page_marks_runs_in_the_chart_and_the_table_and_shows_warnings() {
    let server = TestServer::start();
    for (qps, elapsed) in [
        (1000.0, 10.0),
        (1100.0, 20.0),
        (1200.0, 30.0),
        (500.0, 5.0),
        (600.0, 10.0),
    ] {
        post(&server, "team1", "第一小组", &report(qps, 12.0, elapsed));
    }
    post(
        &server,
        "team1",
        "第一小组",
        &negative_errors(report(700.0, 12.0, 15.0)),
    );
    let url = server.url("/team/team1/history");
    let browser = Browser::launch(&url);
    let mut page = browser.page();
    page.set_viewport(1920, 1080, false, false);
    page.navigate(&url);
    page.wait_for(
        "the history with a run boundary",
        "document.querySelectorAll('#history tbody tr').length === 6 && document.querySelectorAll('#chart line.run-start').length === 1",
        Duration::from_secs(20),
    );
    let runs = page.eval("[...document.querySelectorAll('#history tbody tr')].map((r) => r.cells[1].textContent).join(' ')");
    assert_eq!(runs, "#2 #2 #2 #1 #1 #1");
    assert_eq!(
        page.eval("document.querySelector('#history tbody tr .warn-cell').textContent"),
        "⚠ 2"
    );
    assert_eq!(
        page.eval("document.getElementById('run-number').textContent"),
        "#2"
    );
    assert_eq!(
        page.eval("document.getElementById('run-best-qps').textContent"),
        "700.0"
    );
    page.screenshot("history-runs-1920x1080-light");
}

/// A server whose contest file has an admin token (and no teams: open mode).
fn server_with_admin(token: &str) -> TestServer {
    let dir = tempfile::tempdir().unwrap().keep();
    let path = dir.join("contest.toml");
    std::fs::write(&path, format!("[admin]\ntoken = \"{token}\"\n")).unwrap();
    let contest = benchboard::config::ContestFile::load(&path).unwrap();
    TestServer::start_on(dir.join("data"), |config| config.contest = Some(contest))
}

/// JavaScript: the text of a card, or null when it is not on the board.
fn card_text_js(id: &str) -> String {
    format!("((document.querySelector('.card[data-team-id=\"{id}\"]') || {{}}).innerText || null)")
}

/// JavaScript: the QPS shown on a card.
fn card_qps_js(id: &str) -> String {
    format!("document.querySelector('.card[data-team-id=\"{id}\"] [data-field=qps]').textContent")
}

#[test]
fn admin_page_hides_trashes_and_restores_and_the_board_follows_live() {
    const ADMIN: &str = "admin-browser-token-0123456789";
    let server = server_with_admin(ADMIN);
    seed_teams(&server);
    post(&server, "hostile", HOSTILE, &report(100.0, 30.0, 60.0));
    let board_browser = Browser::launch(&server.url("/"));
    let mut board = board_browser.page();
    board.set_viewport(1920, 1080, false, false);
    board.navigate(&server.url("/"));
    board.wait_for(
        "the board to go live",
        "document.getElementById('conn').dataset.state === 'live' && document.querySelectorAll('.card').length === 6",
        Duration::from_secs(20),
    );

    let admin_browser = Browser::launch(&server.url("/admin"));
    let mut admin = admin_browser.page();
    admin.set_viewport(1600, 1000, false, false);
    admin.navigate(&server.url("/admin"));
    admin.wait_for(
        "the login form",
        "!document.getElementById('login').hidden",
        Duration::from_secs(10),
    );
    // A wrong token first: refused, the form stays.
    admin.eval("document.getElementById('token').value = 'wrong-token-value'; document.getElementById('login-form').requestSubmit(); true");
    admin.wait_for(
        "the refusal",
        "document.getElementById('login-error').textContent === '令牌不正确'",
        Duration::from_secs(10),
    );
    admin.eval(&format!(
        "document.getElementById('token').value = '{ADMIN}'; document.getElementById('login-form').requestSubmit(); true"
    ));
    admin.wait_for(
        "every team in the admin list",
        "document.querySelectorAll('#teams tbody tr').length === 6",
        Duration::from_secs(10),
    );
    assert_eq!(
        admin.eval("sessionStorage.getItem('benchboard.admin_token')"),
        ADMIN
    );
    assert!(
        !admin
            .eval("location.href")
            .as_str()
            .unwrap()
            .contains(ADMIN)
    );
    assert_eq!(admin.eval("document.querySelectorAll('img').length"), 0);
    let hostile_row =
        admin.eval("document.querySelector('tr[data-team=\"hostile\"] td.team').textContent");
    assert_eq!(hostile_row, HOSTILE, "a hostile name shows as text");

    // Hide team2: its card leaves the board at once, the admin list still shows it.
    admin.eval("document.querySelector('tr[data-team=\"team2\"] button.toggle').click(); true");
    board.wait_for(
        "team2's card to go",
        &format!("{} === null", card_text_js("team2")),
        Duration::from_secs(10),
    );
    admin.wait_for(
        "team2 marked hidden",
        "document.querySelector('tr[data-team=\"team2\"]').classList.contains('hidden-team')",
        Duration::from_secs(10),
    );
    board.screenshot("board-after-hide-1920x1080");

    // Trash team1's newest (and best) report: the board's card changes at once.
    let before = board.eval(&card_qps_js("team1"));
    assert_eq!(before, "1,672", "the newest of three rounds");
    admin.eval(
        "document.querySelector('tr[data-team=\"team1\"] button.open-reports').click(); true",
    );
    admin.wait_for(
        "team1's reports",
        "document.querySelectorAll('#reports tbody tr').length === 3",
        Duration::from_secs(10),
    );
    admin.eval("document.querySelector('#reports tbody tr button.trash-one').click(); true");
    admin.wait_for(
        "the report in the trash",
        "document.querySelectorAll('#trash tbody tr[data-file]').length === 1",
        Duration::from_secs(10),
    );
    board.wait_for(
        "team1's card without the trashed report",
        &format!("{} === '1,596'", card_qps_js("team1")),
        Duration::from_secs(10),
    );
    assert_eq!(server.get_json("/api/teams/team1").1["report_count"], 2);
    admin.screenshot("admin-1600x1000");

    // Restore it: the card is as before.
    admin.eval("document.querySelector('#trash tbody tr[data-file] button.restore').click(); true");
    admin.wait_for(
        "an empty trash",
        "document.querySelectorAll('#trash tbody tr[data-file]').length === 0",
        Duration::from_secs(10),
    );
    board.wait_for(
        "team1's card as before",
        &format!("{} === '1,672'", card_qps_js("team1")),
        Duration::from_secs(10),
    );
    admin.wait_for(
        "the audit log of the three actions",
        "document.querySelectorAll('#audit li').length === 3 && document.querySelector('#audit li .what').textContent === '恢复'",
        Duration::from_secs(10),
    );
    admin.eval("document.getElementById('lang').click(); true");
    admin.wait_for(
        "the admin page in English",
        "document.title === 'BenchBoard - Admin'",
        Duration::from_secs(5),
    );
    admin.screenshot("admin-1600x1000-en");
}
