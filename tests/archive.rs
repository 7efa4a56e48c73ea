//! `benchboard-history archive -o DIR`: the static site of a contest, from a real
//! data directory (hand-made teams, one with a hostile name) and from a real server
//! on port 0; every link resolves inside the archive and no file names a URL.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::TestServer;
use common::contest::call;
use serde_json::{Value, json};

pub const HOSTILE: &str = "</script><script>alert(1)</script><!-- ../../x & \"q\"";

fn history(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_benchboard-history"))
        .args(args)
        .output()
        .expect("benchboard-history runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The fixture report with a QPS, a failure rate (sent − completed − pending) and an
/// elapsed time.
fn report(qps: f64, lost: i64, elapsed_s: f64) -> Value {
    let text = fs::read_to_string(common::fixture("valid/full-13-buckets.json")).unwrap();
    let mut stats: Value = serde_json::from_str(&text).unwrap();
    stats["performanceMetrics"]["avgCompletedQPS"] = json!(qps);
    stats["totalElapsed"] = json!(elapsed_s);
    let ops = stats["totalOps"].as_i64().unwrap();
    let pending = stats["pending"].as_i64().unwrap();
    stats["totalSent"] = json!(ops + pending + lost);
    stats
}

/// A hand-made team: id, name, and its reports as (QPS, requests lost).
type Team<'a> = (&'a str, &'a str, &'a [(f64, i64)]);

/// Hand-made teams in the original's layout, one report every 10 s from 10:00 UTC.
pub fn write_data_dir(dir: &Path, teams: &[Team]) {
    for (id, name, reports) in teams {
        let team_dir = dir.join(id);
        fs::create_dir_all(&team_dir).unwrap();
        let mut last = Value::Null;
        for (i, (qps, lost)) in reports.iter().enumerate() {
            let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00+00:00").unwrap()
                + chrono::TimeDelta::seconds(10 * i as i64);
            let file = json!({
                "team_id": id, "team_name": name, "timestamp": at.to_rfc3339(),
                "stats": report(*qps, *lost, 10.0 * (i + 1) as f64),
            });
            let name = at.format("%Y%m%d_%H%M%S_000.json").to_string();
            fs::write(team_dir.join(name), file.to_string()).unwrap();
            last = file;
        }
        fs::write(team_dir.join("latest.json"), last.to_string()).unwrap();
    }
}

/// Three teams: `fast` loses data (disqualified by `data_loss_rate > 1`), the hostile
/// name is second by QPS, `steady` third.
pub fn contest_data(dir: &Path) {
    write_data_dir(
        dir,
        &[
            ("fast", "Fast 队", &[(1500.0, 5000), (2000.0, 5000)]),
            ("evil", HOSTILE, &[(900.0, 0), (1200.0, 0), (1100.0, 0)]),
            ("steady", "Steady", &[(800.0, 0), (850.0, 0)]),
        ],
    );
}

/// Runs `archive` on a data dir; panics unless it succeeds.
pub fn archive(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "--data-dir",
        data.to_str().unwrap(),
        "archive",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = history(&args);
    assert!(
        output.status.success(),
        "archive failed: {}",
        stderr(&output)
    );
    output
}

/// Runs `--data-dir DATA [global...] archive -o OUT [extra...]`, which must fail with
/// exit 2 and a one-line message; returns the message.
fn refusal(data: &Path, out: &Path, global: &[&str], extra: &[&str]) -> String {
    let mut args = vec!["--data-dir", data.to_str().unwrap()];
    args.extend_from_slice(global);
    args.extend_from_slice(&["archive", "-o", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let output = history(&args);
    assert_eq!(output.status.code(), Some(2), "{args:?}");
    let message = stderr(&output);
    assert_eq!(message.trim().lines().count(), 1, "{args:?}: {message}");
    message
}

fn files_of(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_of(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The inlined data of an archive page.
pub fn page_data(page: &Path) -> Value {
    let html = fs::read_to_string(page).unwrap();
    let open = r#"<script type="application/json" id="benchboard-archive">"#;
    let start = html.find(open).expect("the page inlines its data") + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).expect("the data is JSON")
}

/// Every `href="…"` and `src="…"` of an HTML text.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attr) {
            rest = &rest[at + attr.len()..];
            let end = rest.find('"').unwrap();
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

/// True when `text` names a URL: a scheme with `//`, or a `//host` reference.
fn names_a_url(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices("//") {
        let before = text[..i].chars().last();
        let after = bytes.get(i + 2).copied();
        let scheme = before == Some(':');
        // A `//host` reference in an attribute or a string; `// comment` and `a//b`
        // inside a path are neither.
        let reference = matches!(before, Some('"' | '\'' | '(' | '`' | '='))
            && after.is_some_and(|b| b.is_ascii_alphanumeric());
        if scheme || reference {
            return Some(text[i.saturating_sub(20)..(i + 30).min(text.len())].to_string());
        }
    }
    None
}

fn check_site(out: &Path) {
    let files = files_of(out);
    let names: BTreeSet<PathBuf> = files
        .iter()
        .map(|f| f.strip_prefix(out).unwrap().to_path_buf())
        .collect();
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        if let Some(url) = names_a_url(&text) {
            panic!("{} names a URL: {url:?}", file.display());
        }
        if file.extension().is_some_and(|e| e == "html") {
            let dir = file.parent().unwrap();
            for link in links(&text) {
                let target = link.split(['?', '#']).next().unwrap();
                if target.starts_with("data:") {
                    continue;
                }
                assert!(
                    !target.starts_with('/'),
                    "{}: absolute link {link}",
                    file.display()
                );
                let resolved = dir.join(target);
                let inside = resolved
                    .canonicalize()
                    .unwrap_or_else(|e| panic!("{}: {link} does not resolve: {e}", file.display()));
                assert!(
                    inside.starts_with(out.canonicalize().unwrap()),
                    "{link} leaves the archive"
                );
            }
        }
    }
    for needed in [
        "index.html",
        "benchboard.csv",
        "static/app.js",
        "static/archive.js",
    ] {
        assert!(
            names.contains(Path::new(needed)),
            "{needed} missing: {names:?}"
        );
    }
}

fn csv_records(path: &Path) -> Vec<csv::StringRecord> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader.records().map(|r| r.unwrap()).collect()
}

#[test]
fn archive_of_a_data_dir_ranks_links_inside_and_escapes_names() {
    let temp = tempfile::tempdir().unwrap();
    let (data, out) = (temp.path().join("data"), temp.path().join("final"));
    contest_data(&data);
    let output = archive(
        &data,
        &out,
        &["--by", "qps", "--disqualify", "data_loss_rate > 1"],
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("archived 3 teams, 7 reports"));
    check_site(&out);
    for id in ["fast", "evil", "steady"] {
        assert!(out.join(format!("team/{id}.html")).is_file());
        assert_eq!(
            csv_records(&out.join(format!("csv/{id}.csv"))).len(),
            if id == "evil" { 3 } else { 2 }
        );
    }
    assert_eq!(csv_records(&out.join("benchboard.csv")).len(), 7);
    // The hostile name never appears as markup, only escaped.
    for file in files_of(&out)
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "html"))
    {
        let html = fs::read_to_string(file).unwrap();
        assert!(!html.contains("<script>alert"), "{}", file.display());
        assert_eq!(
            html.matches("</script>").count(),
            html.matches("<script").count()
        );
    }
    let board = page_data(&out.join("index.html"));
    let teams = board["snapshot"]["teams"].as_array().unwrap();
    let order: Vec<_> = teams
        .iter()
        .map(|t| t["team_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["evil", "steady", "fast"],
        "the disqualified team ranks last"
    );
    assert_eq!(teams[0]["team_name"], HOSTILE);
    assert_eq!(teams[0]["score"], 1200.0);
    assert_eq!(teams[2]["qualified"], false);
    assert_eq!(
        teams[2]["disqualified_for"][0]["condition"],
        "data_loss_rate > 1"
    );
    assert_eq!(
        board["snapshot"]["ranking"]["disqualify"],
        json!(["data_loss_rate > 1"])
    );
    let team = page_data(&out.join("team/evil.html"));
    assert_eq!(team["history"].as_array().unwrap().len(), 3);
    assert_eq!(team["summary"]["total_reports"], 3);
    assert_eq!(team["team"]["best_qps"], 1200.0);
}

#[test]
fn without_a_rule_the_latest_qps_ranks_and_a_contest_file_gives_the_rule() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    contest_data(&data);
    let out = temp.path().join("a");
    archive(&data, &out, &[]);
    let board = page_data(&out.join("index.html"));
    let order: Vec<_> = board["snapshot"]["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["team_id"].clone())
        .collect();
    assert_eq!(order, [json!("fast"), json!("evil"), json!("steady")]);
    let config = temp.path().join("contest.toml");
    fs::write(
        &config,
        "[ranking]\nby = \"qps\"\nvalue = \"best\"\ndisqualify = [\"data_loss_rate > 1\"]\n",
    )
    .unwrap();
    let out = temp.path().join("b");
    archive(&data, &out, &["--config", config.to_str().unwrap()]);
    let board = page_data(&out.join("index.html"));
    assert_eq!(board["snapshot"]["teams"][0]["team_id"], "evil");
    assert_eq!(board["snapshot"]["teams"][0]["score"], 1200.0);
    assert_eq!(board["snapshot"]["teams"][2]["qualified"], false);
    // With [contest], only reports in [start, end) count: evil's 1200 came at 10:00:10.
    let schedule = "[contest]\nstart = \"2026-12-01T10:00:00Z\"\nend = \"2026-12-01T10:00:10Z\"\n";
    fs::write(&config, format!("{schedule}[ranking]\nby = \"qps\"\n")).unwrap();
    let out = temp.path().join("c");
    archive(&data, &out, &["--config", config.to_str().unwrap()]);
    let board = page_data(&out.join("index.html"));
    let teams = board["snapshot"]["teams"].as_array().unwrap();
    let scores: Vec<_> = teams
        .iter()
        .map(|t| (t["team_id"].clone(), t["score"].clone()))
        .collect();
    assert_eq!(
        scores,
        [
            (json!("fast"), json!(1500.0)),
            (json!("evil"), json!(900.0)),
            (json!("steady"), json!(800.0))
        ]
    );
    // The team page still shows every report.
    assert_eq!(
        page_data(&out.join("team/evil.html"))["history"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn refuses_a_full_output_directory_unless_forced() {
    let temp = tempfile::tempdir().unwrap();
    let (data, out) = (temp.path().join("data"), temp.path().join("final"));
    contest_data(&data);
    fs::create_dir(&out).unwrap();
    fs::write(out.join("notes.txt"), "keep me").unwrap();
    let message = refusal(&data, &out, &[], &[]);
    assert!(
        message.contains("not empty") && message.contains("--force"),
        "{message}"
    );
    assert_eq!(
        fs::read_to_string(out.join("notes.txt")).unwrap(),
        "keep me"
    );
    archive(&data, &out, &["--force"]);
    assert!(!out.join("notes.txt").exists() && out.join("index.html").is_file());
    let left: Vec<_> = fs::read_dir(temp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "no staging directory left: {left:?}");
}

#[test]
fn failures_are_one_line_and_write_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let (data, out) = (temp.path().join("data"), temp.path().join("final"));
    contest_data(&data);
    let cases: [&[&str]; 4] = [
        &["--score", "qps * nonsense"],
        &["--disqualify", "loss >"],
        &["--config", "/nonexistent/contest.toml"],
        &["--by", "qps", "--score", "qps"],
    ];
    for extra in cases {
        refusal(&data, &out, &[], extra);
        assert!(!out.exists(), "{extra:?} wrote {}", out.display());
    }
    let empty = temp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let output = history(&[
        "--data-dir",
        empty.to_str().unwrap(),
        "archive",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(!out.exists());
}

fn post(server: &TestServer, team: &str, name: &str, body: &Value) {
    let answer = call(
        "POST",
        &server.url("/api/stats/report"),
        &[
            ("Content-Type", "application/json"),
            ("X-Team-ID", team),
            ("X-Team-Name", name),
        ],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(answer.status, 200, "{:?}", answer.json());
}

#[test]
fn archive_from_a_running_server_matches_its_data_dir() {
    // The archive is under test here, not the disk-space guard of a shared machine.
    let server = TestServer::start_with(|c| c.min_free_bytes = 0);
    let hostile = "%3C%2Fscript%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E%20..%2F..%2Fx";
    for (i, qps) in [700.0, 900.0, 800.0].into_iter().enumerate() {
        post(
            &server,
            "red",
            hostile,
            &report(qps, 0, 10.0 * (i + 1) as f64),
        );
        post(
            &server,
            "blue",
            "Blue",
            &report(qps + 50.0, 0, 10.0 * (i + 1) as f64),
        );
    }
    let temp = tempfile::tempdir().unwrap();
    let remote = temp.path().join("remote");
    let output = history(&[
        "--server",
        &server.base,
        "archive",
        "-o",
        remote.to_str().unwrap(),
        "--by",
        "qps",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    check_site(&remote);
    let local = temp.path().join("local");
    archive(&server.data_dir, &local, &["--by", "qps"]);
    assert_eq!(
        fs::read_to_string(remote.join("benchboard.csv")).unwrap(),
        fs::read_to_string(local.join("benchboard.csv")).unwrap()
    );
    let ranked = |dir: &Path| {
        let board = page_data(&dir.join("index.html"));
        board["snapshot"]["teams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["team_id"].clone(),
                    t["rank"].clone(),
                    t["score"].clone(),
                    t["team_name"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(ranked(&remote), ranked(&local));
    assert_eq!(ranked(&remote)[0].0, "blue");
    assert_eq!(
        ranked(&remote)[1].3,
        "</script><script>alert(1)</script> ../../x"
    );
    let table = |dir: &Path| page_data(&dir.join("team/red.html"))["history"].clone();
    assert_eq!(table(&remote), table(&local));
    let timeline = |dir: &Path| page_data(&dir.join("replay.html"))["replay"].clone();
    assert_eq!(timeline(&remote), timeline(&local));
    assert_eq!(timeline(&remote)["teams"].as_array().unwrap().len(), 2);
}

/// A longer contest for the pictures: `steady` reports 40 times.
fn pictured_data(dir: &Path) {
    contest_data(dir);
    let reports: Vec<(f64, i64)> = (0..40)
        .map(|i| (600.0 + 40.0 * f64::from(i % 9), 0))
        .collect();
    write_data_dir(dir, &[("long", "长跑队 Long", &reports)]);
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[test]
fn archive_opens_from_file_in_chromium_and_asks_nothing_of_the_network() {
    use common::browser::Browser;
    use std::time::Duration;
    let temp = tempfile::tempdir().unwrap();
    let (data, out) = (temp.path().join("data"), temp.path().join("final"));
    pictured_data(&data);
    archive(
        &data,
        &out,
        &["--by", "qps", "--disqualify", "data_loss_rate > 1"],
    );
    let browser = Browser::launch("about:blank");
    let mut page = browser.page();
    page.call("Network.enable", json!({}));
    let within = Duration::from_secs(20);
    for (width, height, mobile) in [(1280, 720, false), (390, 844, true)] {
        page.set_viewport(width, height, mobile, false);
        page.navigate(&file_url(&out.join("index.html")));
        page.wait_for(
            "the standings",
            "document.querySelectorAll('#ranking tbody tr').length === 4 \
             && document.querySelectorAll('#cards .card .spark polyline').length === 8",
            within,
        );
        assert_eq!(
            page.eval("document.getElementById('conn').dataset.state"),
            "archive"
        );
        assert_eq!(
            page.eval("document.getElementById('ranking-title').textContent"),
            "最终排名"
        );
        let names = page.eval(
            "[...document.querySelectorAll('#ranking tbody td.team a')].map(a => a.textContent)",
        );
        assert_eq!(
            names,
            json!(
                [HOSTILE, "Long", "Steady", "Fast 队"].map(|n| if n == "Long" {
                    "长跑队 Long"
                } else {
                    n
                })
            )
        );
        assert_eq!(
            page.eval("document.querySelector('#ranking tbody tr:last-child .disq-mark') !== null"),
            true
        );
        let link = page.eval("document.querySelector('#ranking tbody td.team a').href");
        assert_eq!(link, file_url(&out.join("team/evil.html")));
        page.screenshot(&format!("archive-board-{width}x{height}"));

        page.navigate(&file_url(&out.join("team/long.html")));
        page.wait_for(
            "the team's chart and table",
            "document.querySelectorAll('#chart svg polyline').length >= 3 \
             && document.querySelectorAll('#history tbody tr').length === 20 \
             && document.querySelectorAll('#histogram svg rect').length > 0",
            within,
        );
        assert_eq!(
            page.eval("document.getElementById('total-reports').textContent"),
            "40"
        );
        page.eval("document.getElementById('next').click()");
        page.wait_for("the table's second page", "document.querySelectorAll('#history tbody tr').length === 20 && document.getElementById('next').disabled", within);
        page.screenshot(&format!("archive-team-{width}x{height}"));

        page.navigate(&file_url(&out.join("team/evil.html")));
        page.wait_for(
            "the hostile team's page",
            "document.querySelectorAll('#history tbody tr').length === 3",
            within,
        );
        assert_eq!(
            page.eval("document.getElementById('team-name').textContent"),
            HOSTILE
        );
        assert_eq!(
            page.eval("document.querySelectorAll('script').length"),
            page.eval("document.querySelectorAll('script[src], script#benchboard-archive').length")
        );
    }
    // The replay plays the contest from its inlined timeline; its cards link to the pages.
    page.set_viewport(1280, 720, false, false);
    page.navigate(&file_url(&out.join("replay.html")));
    page.wait_for(
        "the replay",
        "document.getElementById('replay-bar').dataset.state === 'ready' \
         && document.querySelectorAll('#ranking tbody tr').length > 0",
        within,
    );
    let frames = page.eval("Number(document.getElementById('replay-scrubber').max)");
    assert!(frames.as_f64().unwrap() > 10.0, "{frames}");
    page.eval("const s = document.getElementById('replay-scrubber'); s.value = s.max; s.dispatchEvent(new Event('input'))");
    page.wait_for(
        "the end of the contest",
        "document.querySelectorAll('#ranking tbody tr').length === 4",
        within,
    );
    let link = page.eval("document.querySelector('#ranking tbody td.team a').href");
    assert!(
        link.as_str()
            .unwrap()
            .starts_with(&file_url(&out.join("team"))),
        "{link}"
    );
    page.screenshot("archive-replay-1280x720");
    page.set_viewport(390, 844, true, false);
    page.screenshot("archive-replay-390x844");
    page.eval("1");
    let requests: Vec<String> = page
        .take_network_events()
        .into_iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent")
        .map(|e| e["params"]["request"]["url"].as_str().unwrap().to_string())
        .collect();
    assert!(
        requests.len() >= 10,
        "the pages and their files were seen: {requests:?}"
    );
    let outside: Vec<_> = requests
        .iter()
        .filter(|u| !u.starts_with("file://") && !u.starts_with("data:"))
        .collect();
    assert!(outside.is_empty(), "requests left the archive: {outside:?}");
}

#[test]
fn a_frozen_contest_is_archived_only_with_live() {
    let temp = tempfile::tempdir().unwrap();
    let (data, out) = (temp.path().join("data"), temp.path().join("final"));
    contest_data(&data);
    let config = temp.path().join("contest.toml");
    let schedule = "[contest]\nstart = \"2026-12-01T10:00:00Z\"\nfreeze = \"2026-12-01T10:00:05Z\"\nend = \"2026-12-01T10:00:30Z\"\n";
    fs::write(&config, schedule).unwrap();
    let message = refusal(&data, &out, &["--config", config.to_str().unwrap()], &[]);
    assert!(
        message.contains("frozen") && message.contains("--live"),
        "{message}"
    );
    assert!(!out.exists());
    archive(
        &data,
        &out,
        &["--config", config.to_str().unwrap(), "--live"],
    );
    assert_eq!(
        page_data(&out.join("team/evil.html"))["history"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        page_data(&out.join("index.html"))["snapshot"]["contest"]["phase"],
        "ended"
    );
}
