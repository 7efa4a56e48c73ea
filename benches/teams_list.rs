//! `GET /api/teams` with many teams: posts one report for each of T teams to the
//! release `benchboard-serve`, then times the team list (and one team) over one
//! keep-alive connection: median and p99 of `--requests` requests, per run.
//!
//! ```text
//! cargo bench --bench teams_list -- --teams 1000 --requests 200 --runs 3
//! ```

mod common;

use std::time::Instant;

use common::{Conn, Serve, arg, get_request, median, quantile, report_request};

const REPORT: &[u8] = include_bytes!("../tests/fixtures/valid/full-13-buckets.json");

fn times_ms(conn: &mut Conn, path: &str, count: usize) -> (f64, f64, usize) {
    let request = get_request(path);
    let (status, body) = conn.exchange(&request).expect("answer");
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    let mut times: Vec<f64> = (0..count)
        .map(|_| {
            let started = Instant::now();
            conn.exchange(&request).expect("answer");
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    (quantile(&times, 0.5), quantile(&times, 0.99), body.len())
}

fn main() {
    let teams = arg("--teams", 1000usize);
    let requests = arg("--requests", 200usize);
    let runs = arg("--runs", 3usize);
    let temp = tempfile::Builder::new()
        .prefix("benchboard-teams-")
        .tempdir()
        .unwrap();
    let mut serve = Serve::start(&temp.path().join("data"), &[]);
    let mut conn = Conn::open(&serve.addr).expect("connects");
    for t in 0..teams {
        let (status, _) = conn
            .exchange(&report_request(&format!("team{t}"), REPORT))
            .expect("report answered");
        assert_eq!(status, 200);
    }
    println!("teams_list: {teams} teams, {requests} requests per run, {runs} runs");
    for path in ["/api/teams", "/api/teams/team0"] {
        let mut medians = Vec::new();
        let mut p99s = Vec::new();
        let mut bytes = 0;
        for _ in 0..runs {
            let (p50, p99, length) = times_ms(&mut conn, path, requests);
            medians.push(p50);
            p99s.push(p99);
            bytes = length;
        }
        println!(
            "GET {path}: median {:.3} ms, p99 {:.3} ms ({bytes} bytes; runs' medians {:?})",
            median(&medians),
            median(&p99s),
            medians
                .iter()
                .map(|m| format!("{m:.3}"))
                .collect::<Vec<_>>(),
        );
    }
    println!("server RSS {:.1} MiB", serve.rss_mib());
    serve.stop();
}
