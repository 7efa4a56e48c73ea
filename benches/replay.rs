//! Benchmark: `GET /api/replay` on 6 teams × 20,000 reports (a day of reports every
//! 5 s per team) on the file store. Target (issue 14): ≤ 200 ms.
//!
//! ```text
//! cargo bench --bench replay -- --teams 6 --reports 20000 --runs 3 --requests 100
//! ```
//! The history is generated once with `benchboard::generate::write_history` into
//! `target/bench-data/history-<T>x<N>` (shared with the export benchmark; or
//! `$BENCHBOARD_BENCH_DATA`), and the release `benchboard-serve` runs on it. Each run starts the server, times the first answer,
//! then `--requests` requests on one keep-alive connection of the default timeline
//! (at most 2,000 frames) and of the densest one allowed (10,000 frames), and
//! prints their median and p99; the last lines give the medians over the runs.

mod common;

use std::time::{Duration, Instant};

use common::{Conn, Serve, arg, get_request, median, quantile};

/// Waits until the server answers, then times one request of `path` on a fresh
/// connection and `count` more on one keep-alive connection: (first, median, p99) in ms.
fn timings(addr: &str, path: &str, count: usize) -> (f64, f64, f64, usize) {
    let request = get_request(path);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut conn = loop {
        if let Ok(conn) = Conn::open(addr) {
            break conn;
        }
        assert!(Instant::now() < deadline, "no answer within 60 s");
        std::thread::sleep(Duration::from_millis(5));
    };
    let started = Instant::now();
    let (status, body) = conn.exchange(&request).expect("answer");
    let first = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    let mut times: Vec<f64> = (0..count)
        .map(|_| {
            let started = Instant::now();
            let (status, _) = conn.exchange(&request).expect("answer");
            assert_eq!(status, 200);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    (
        first,
        quantile(&times, 0.5),
        quantile(&times, 0.99),
        body.len(),
    )
}

fn main() {
    // `cargo test --benches` runs benches with test-ish args; only run on `cargo bench`.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let teams = arg("--teams", 6usize);
    let reports = arg("--reports", 20_000usize);
    let runs = arg("--runs", 3usize).max(1);
    let requests = arg("--requests", 100usize).max(1);
    let data = common::generated_history(teams, reports);
    println!(
        "replay: {teams} teams x {reports} reports in {}",
        data.display()
    );
    // The generated day: 2025-08-01 09:00 local + 5 s per report; 10,000 frames over it.
    let dense = format!(
        "/api/replay?step={}",
        (reports as i64 * 5000).div_euclid(9_999) + 1
    );
    let paths = ["/api/replay".to_string(), dense];
    let mut results: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); paths.len()];
    for run in 1..=runs {
        let mut serve = Serve::start(&data, &[]);
        for (i, path) in paths.iter().enumerate() {
            let (first, p50, p99, bytes) = timings(&serve.addr, path, requests);
            println!(
                "run {run}: GET {path}: first {first:.1} ms, median {p50:.1} ms, p99 {p99:.1} ms over {requests} requests ({} KiB)",
                bytes / 1024
            );
            results[i].push((first, p50, p99));
        }
        serve.stop();
    }
    for (path, runs) in paths.iter().zip(&results) {
        let pick = |f: fn(&(f64, f64, f64)) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        println!(
            "GET {path}: median {:.1} ms, p99 {:.1} ms, first answer {:.1} ms (medians of {} runs)",
            pick(|r| r.1),
            pick(|r| r.2),
            pick(|r| r.0),
            runs.len()
        );
    }
}
