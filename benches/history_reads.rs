//! Large-history benchmark: builds (or reuses) a data directory of T teams × N
//! reports through the real `Store::append` path, then measures with the release
//! `benchboard-serve`:
//! - start-up time to the first answer of `GET /api/teams`, and resident memory after
//!   it, with the sidecar index present and without it (rebuilt from the files);
//! - the median request time of a history page (`limit=10`) at offsets 0, N/2 and
//!   N−10, of the summary, of `/api/teams` and of `/api/teams/<id>`.
//!
//! ```text
//! cargo bench --bench history_reads -- --teams 6 --reports 20000 --runs 3 [--data-dir DIR]
//! ```
//! With `--data-dir` the generated history is kept there and reused by later runs.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use benchboard::metrics::Metrics;
use benchboard::report::Report;
use benchboard::store::{INDEX_FILE, WritableStore};
use benchboard::team::TeamId;
use common::{Conn, Serve, arg, count_report_files, get_request, median, quantile};
use serde_json::{Value, json};

const REPORT: &[u8] = include_bytes!("../tests/fixtures/valid/full-13-buckets.json");

/// Appends reports until every team has `reports`; returns appends per second.
fn generate(data: &Path, teams: usize, reports: usize) -> Option<f64> {
    let have = (1..=teams)
        .map(|t| count_report_files(&data.join(format!("team{t}"))))
        .min()
        .unwrap_or(0);
    if have >= reports {
        return None;
    }
    let store = WritableStore::open(data, false).expect("store opens");
    let template: Value = serde_json::from_slice(REPORT).unwrap();
    let started = Instant::now();
    let mut appended = 0usize;
    for t in 1..=teams {
        let id = TeamId::parse(&format!("team{t}")).unwrap();
        let name = format!("第{t}小组");
        for n in store.report_count(&id)..reports {
            // A run that grows: cumulative counts, QPS and latency that move.
            let mut value = template.clone();
            let sent = 1000 + n as u64 * 50;
            value["totalElapsed"] = json!(n as f64 * 3.0);
            value["totalSent"] = json!(sent);
            value["totalOps"] = json!(sent - 25);
            value["performanceMetrics"]["avgCompletedQPS"] = json!(100.0 + (n % 997) as f64);
            value["totalAvgLatency"] = json!(10.0 + (n % 89) as f64);
            let body = serde_json::to_vec(&value).unwrap();
            let report = Report::parse(&body).expect("generated report is valid");
            let metrics = Metrics::of(&report);
            store
                .append(&id, &name, &body, report, &metrics)
                .expect("append");
            appended += 1;
        }
    }
    Some(appended as f64 / started.elapsed().as_secs_f64())
}

/// Starts the server and polls `/api/teams` until it answers: (seconds, RSS MiB).
fn startup(data: &Path) -> (f64, f64, Serve) {
    let serve = Serve::start(data, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut conn) = Conn::open(&serve.addr)
            && let Ok((200, _)) = conn.exchange(&get_request("/api/teams"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no answer within 60 s");
        std::thread::sleep(Duration::from_millis(1));
    }
    let seconds = serve.spawned.elapsed().as_secs_f64();
    (seconds, serve.rss_mib(), serve)
}

/// Median time of `count` requests of `path` on one keep-alive connection, in ms.
fn request_ms(addr: &str, path: &str, count: usize) -> (f64, f64) {
    let mut conn = Conn::open(addr).expect("connects");
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
    (quantile(&times, 0.5), quantile(&times, 0.99))
}

fn remove_sidecars(data: &Path, teams: usize) {
    for t in 1..=teams {
        let _ = std::fs::remove_file(data.join(format!("team{t}")).join(INDEX_FILE));
    }
}

fn main() {
    let teams = arg("--teams", 6usize);
    let reports = arg("--reports", 20_000usize);
    let runs = arg("--runs", 3usize);
    let requests = arg("--requests", 200usize);
    let kept: Option<PathBuf> = arg("--data-dir", String::new())
        .is_empty()
        .then_some(())
        .map_or_else(
            || Some(PathBuf::from(arg("--data-dir", String::new()))),
            |_| None,
        );
    let temp = tempfile::Builder::new()
        .prefix("benchboard-history-")
        .tempdir()
        .unwrap();
    let data = kept.unwrap_or_else(|| temp.path().join("data"));
    println!(
        "history_reads: {teams} teams x {reports} reports in {}",
        data.display()
    );
    if let Some(rate) = generate(&data, teams, reports) {
        println!("generated with Store::append at {rate:.0} reports/s");
    }

    for (label, cold) in [("sidecar present", false), ("sidecar deleted", true)] {
        let mut times = Vec::new();
        let mut rss = Vec::new();
        for _ in 0..runs {
            if cold {
                remove_sidecars(&data, teams);
            }
            let (seconds, mib, mut serve) = startup(&data);
            serve.stop();
            times.push(seconds);
            rss.push(mib);
        }
        println!(
            "start-up ({label}): median {:.3} s to the first answer (runs {:?}), RSS median {:.1} MiB (runs {:?})",
            median(&times),
            times.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>(),
            median(&rss),
            rss.iter().map(|m| format!("{m:.1}")).collect::<Vec<_>>(),
        );
    }

    let (_, _, mut serve) = startup(&data);
    let offsets = [0, reports / 2, reports.saturating_sub(10)];
    let mut paths: Vec<String> = offsets
        .iter()
        .map(|o| format!("/api/teams/team1/history?limit=10&offset={o}"))
        .collect();
    paths.push("/api/teams/team1/history/summary".into());
    paths.push("/api/teams".into());
    paths.push("/api/teams/team1".into());
    for path in &paths {
        let mut medians = Vec::new();
        let mut p99s = Vec::new();
        for _ in 0..runs {
            let (p50, p99) = request_ms(&serve.addr, path, requests);
            medians.push(p50);
            p99s.push(p99);
        }
        println!(
            "GET {path}: median {:.3} ms (runs {:?}), p99 {:.3} ms",
            median(&medians),
            medians
                .iter()
                .map(|t| format!("{t:.3}"))
                .collect::<Vec<_>>(),
            median(&p99s)
        );
    }
    serve.stop();
}
