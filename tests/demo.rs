//! benchboard-demo, run as a real binary: the timed demo (plain lines through a pipe,
//! progress bars in a real terminal under tmux), its data directory, and `--check`.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use benchboard::demo::check::CHECKS;
use common::{ClosedPort, PATIENCE, Running, TestServer, agent, report_files};

const DEMO: &str = env!("CARGO_BIN_EXE_benchboard-demo");

/// A demo child (see [`Running`]) whose `TMPDIR` is `tmp`, so its temporary
/// directory is ours to inspect.
fn start_demo(args: &[&str], tmp: &Path) -> Running {
    Running::spawn(
        Command::new(DEMO)
            .args(args)
            .env("TMPDIR", tmp)
            .stdin(Stdio::null()),
    )
}

/// `http://127.0.0.1:PORT/` from the demo's first line.
fn url_of(first_line: &str) -> String {
    first_line
        .strip_prefix("BenchBoard listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first_line:?}"))
        .to_string()
}

/// The path in `data directory: PATH (...)`.
fn data_dir_of(line: &str) -> PathBuf {
    let rest = line
        .strip_prefix("data directory: ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    PathBuf::from(rest.split(" (").next().unwrap())
}

fn get(url: &str) -> (u16, String) {
    let mut response = agent().get(url).call().expect("the demo server answers");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn timed_demo_stores_six_teams_serves_the_board_and_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let mut demo = start_demo(&["--duration", "5s", "--interval", "0.3-0.6"], tmp.path());
    let url = url_of(&demo.stdout.next(PATIENCE));
    let (status, page) = get(&url);
    assert_eq!(status, 200);
    assert!(
        page.contains("<html") || page.contains("<!doctype"),
        "{page}"
    );
    demo.stdout.next(PATIENCE); // dashboard: URL
    let data_dir = data_dir_of(&demo.stdout.next(PATIENCE));
    assert!(data_dir.starts_with(tmp.path()), "{data_dir:?}");

    // All six teams reach the board while the demo runs: once each printed its
    // first stored report, the server lists all six.
    let mut reported = BTreeSet::new();
    while reported.len() < 6 {
        let line = demo.stdout.wait_for(": report 1 stored", PATIENCE);
        reported.insert(line.split_whitespace().next().unwrap().to_string());
    }
    let (_, body) = get(&format!("{url}api/teams"));
    let teams: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(teams.as_array().map(Vec::len), Some(6), "{teams}");
    for n in 1..=6 {
        assert!(
            !report_files(&data_dir, &format!("team{n}")).is_empty(),
            "team{n}"
        );
    }

    let status = demo.finish(PATIENCE);
    assert!(status.success());
    let output = demo.stdout.text();
    // Through a pipe: plain lines, no terminal escapes.
    assert!(
        output.contains("team1 第一小组 (fast): report 1 stored"),
        "{output}"
    );
    assert!(!output.contains('\x1b'), "{output}");
    assert!(output.contains("stopped after"), "{output}");
    assert!(output.contains("from 6 teams"), "{output}");
    assert!(!data_dir.exists(), "{data_dir:?} is left behind");
    assert!(entries(tmp.path()).is_empty(), "{:?}", entries(tmp.path()));
}

#[test]
fn ctrl_c_stops_teams_and_server_with_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let mut demo = start_demo(&["--interval", "0.3-0.6"], tmp.path());
    let url = url_of(&demo.stdout.next(PATIENCE));
    demo.stdout.wait_for("report 1 stored", PATIENCE);
    // A viewer tells a clean shutdown of the server (a close frame with a reason)
    // from the process merely dying (the connection just breaks).
    let ws_url = format!("{}ws", url.replacen("http://", "ws://", 1));
    let (mut viewer, _) = tungstenite::connect(ws_url).expect("the demo's WebSocket");
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = viewer.get_ref() {
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
    }
    demo.signal("INT");
    let reason = loop {
        match viewer
            .read()
            .expect("a close frame before the connection ends")
        {
            tungstenite::Message::Close(frame) => {
                break frame.map(|f| f.reason.to_string()).unwrap_or_default();
            }
            _ => continue,
        }
    };
    assert!(reason.contains("shutting down"), "{reason}");
    let status = demo.finish(PATIENCE);
    assert!(status.success());
    let output = demo.stdout.text();
    assert!(output.contains("stopped after"), "{output}");
    assert!(output.contains("data directory removed"), "{output}");
    assert!(entries(tmp.path()).is_empty(), "{:?}", entries(tmp.path()));
}

#[test]
fn keep_and_data_dir_leave_the_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let mut demo = start_demo(
        &[
            "--duration",
            "1s",
            "--interval",
            "0.3",
            "--teams",
            "2",
            "--keep",
        ],
        tmp.path(),
    );
    assert!(demo.finish(PATIENCE).success());
    let kept = demo
        .stdout
        .seen
        .iter()
        .find_map(|l| l.strip_prefix("data kept in "))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{:#?}", demo.stdout.seen));
    assert!(kept.starts_with(tmp.path()));
    assert!(!report_files(&kept, "team2").is_empty());

    let given = tmp.path().join("given");
    let mut demo = start_demo(
        &[
            "--duration",
            "1s",
            "--interval",
            "0.3",
            "--teams",
            "1",
            "--data-dir",
            given.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert!(demo.finish(PATIENCE).success());
    assert!(!report_files(&given, "team1").is_empty());
}

#[test]
fn check_passes_against_an_in_process_server() {
    let output = Command::new(DEMO).arg("--check").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert_eq!(stdout.matches("PASS ").count(), CHECKS, "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn secure_check_shows_an_unauthenticated_post_refused() {
    let output = Command::new(DEMO)
        .args(["--check", "--secure"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("checking a registered server"), "{stdout}");
    assert_eq!(stdout.matches("PASS ").count(), CHECKS + 1, "{stdout}");
    assert!(
        stdout.contains("PASS  POST /api/stats/report: without a token 401"),
        "{stdout}"
    );
}

#[test]
fn secure_demo_reports_with_a_token_per_team_and_a_client_can_use_its_tokens_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let args = [
        "--duration",
        "1s",
        "--interval",
        "0.3",
        "--teams",
        "2",
        "--secure",
    ];
    let mut demo = start_demo(
        &[&args[..], &["--data-dir", data.to_str().unwrap()]].concat(),
        tmp.path(),
    );
    assert!(demo.finish(PATIENCE).success());
    assert!(
        demo.stdout
            .seen
            .iter()
            .any(|l| l.starts_with("registered mode: contest file")),
        "{:#?}",
        demo.stdout.seen
    );
    assert!(!report_files(&data, "team1").is_empty());
    let contest = std::fs::read_to_string(tmp.path().join("contest.toml")).unwrap();
    let tokens = std::fs::read_to_string(tmp.path().join("tokens.txt")).unwrap();
    let team1_token = tokens
        .lines()
        .find_map(|l| l.strip_prefix("team1 "))
        .unwrap();
    assert!(
        !contest.contains(team1_token),
        "only digests in the contest file"
    );
    // The same contest file serves a real server; the client reads the tokens file.
    let serve = Command::new(env!("CARGO_BIN_EXE_benchboard-serve"))
        .args([
            "--check-config",
            tmp.path().join("contest.toml").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let described = String::from_utf8_lossy(&serve.stdout);
    assert!(described.contains("registered: 2 team(s)"), "{described}");
}

#[test]
fn check_passes_against_a_good_server() {
    let server = TestServer::start();
    let output = Command::new(DEMO)
        .args(["--check", "--server", &server.base])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(
        stdout.contains(&format!("check: {CHECKS} of {CHECKS} passed")),
        "{stdout}"
    );
    // The reports really went to that server.
    let (_, teams) = server.get_json("/api/teams");
    let id = teams[0]["team_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("check-"), "{teams}");
    assert_eq!(report_files(&server.data_dir, &id).len(), 3);
}

#[test]
fn check_fails_against_a_server_that_is_down() {
    let port = ClosedPort::new();
    let output = Command::new(DEMO)
        .args(["--check", "--server", &port.url()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL  POST /api/stats/report"), "{stdout}");
    assert!(
        stdout.contains(&format!("check: 0 of {CHECKS} passed - FAILED")),
        "{stdout}"
    );
}

/// A server that answers every request with 200 and the report acknowledgement,
/// whatever was asked (one request per connection).
fn start_yes_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let field = |name: &str| {
                    head.lines()
                        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
                };
                let length: usize = field("content-length:").map_or(0, |v| v.parse().unwrap());
                let mut body = vec![0u8; length];
                let _ = stream.read_exact(&mut body);
                let team = field("x-team-id:").unwrap_or_default();
                let answer = format!(
                    "{{\"message\":\"Stats submitted successfully\",\"team_id\":\"{team}\"}}"
                );
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            });
        }
    });
    url
}

#[test]
fn check_fails_against_a_server_that_answers_wrongly() {
    let url = start_yes_server();
    let output = Command::new(DEMO)
        .args(["--check", "--server", &url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    // Storing looks right; everything that reads back or must refuse does not.
    assert!(
        stdout.contains("PASS  POST /api/stats/report: simulated reports are stored"),
        "{stdout}"
    );
    for check in [
        "FAIL  POST /api/stats/report: a bad bucket is refused",
        "FAIL  GET /api/teams: ",
        "FAIL  GET /api/teams/<id>/history: ",
        "FAIL  GET /static/...: ",
        "FAIL  GET /ws: ",
    ] {
        assert!(stdout.contains(check), "no {check:?} in {stdout}");
    }
    assert!(
        stdout.contains(&format!("check: 1 of {CHECKS} passed - FAILED")),
        "{stdout}"
    );
}

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs (apt-get install tmux)");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "demo"])
    }

    /// Polls the screen until `ready` holds, `limit` at most.
    fn wait_for(&self, limit: Duration, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "screen never got ready:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[test]
fn shows_progress_bars_in_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let tmux = Tmux {
        socket: format!("benchboard-demo-test-{}", std::process::id()),
    };
    let command = format!(
        "env TMPDIR={} {DEMO} --duration 3s --interval 0.3-0.6; echo demo-exit=$?; sleep 60",
        tmp.path().display()
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "demo",
        "-x",
        "120",
        "-y",
        "30",
        &command,
    ]);
    let team_lines = |screen: &str| {
        (1..=6)
            .filter(|n| {
                screen.lines().any(|l| {
                    l.contains(&format!("team{n} ")) && l.contains("reports") && l.contains("QPS")
                })
            })
            .count()
    };
    // While running: a spinner line per team with counts, and the total line.
    let running = tmux.wait_for(PATIENCE, |s| {
        team_lines(s) == 6 && s.contains("total: ") && !s.contains("reports    0")
    });
    assert!(
        running
            .lines()
            .any(|l| l.starts_with(|c: char| ('\u{2800}'..='\u{28ff}').contains(&c))),
        "no spinner on screen:\n{running}"
    );
    let done = tmux.wait_for(PATIENCE, |s| s.contains("demo-exit="));
    assert!(done.contains("demo-exit=0"), "{done}");
    // Redrawn in place: each team's line is on the screen once, not a line per report.
    for n in 1..=6 {
        let lines = done
            .lines()
            .filter(|l| l.contains(&format!("team{n} ")))
            .count();
        assert_eq!(lines, 1, "team{n}:\n{done}");
    }
    assert!(!done.contains("report 1 stored"), "{done}");
    assert!(done.contains("stopped after"), "{done}");
    assert!(entries(tmp.path()).is_empty(), "{:?}", entries(tmp.path()));
}
