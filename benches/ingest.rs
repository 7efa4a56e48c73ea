//! Ingest benchmark: N keep-alive connections POST reports for T teams for S seconds
//! to the real release `benchboard-serve` on a fresh data directory; then checks that
//! every acknowledged report has its file and its sidecar index line.
//!
//! ```text
//! cargo bench --bench ingest -- --conns 64 --teams 6 --secs 10 --runs 3 [--fsync] [--threads N] [--dir DIR]
//! ```
//! The data directories of all runs are removed at the end, not between runs: on
//! ext4 a burst of deletions makes inode allocation in the same block group slow
//! for the next minutes (the kernel's `recently_deleted` check), which would
//! measure the clean-up instead of the server.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Conn, Serve, arg, count_report_files, flag, median, quantile, report_request};

const REPORT: &[u8] = include_bytes!("../tests/fixtures/valid/full-13-buckets.json");

/// What one connection saw.
struct ConnResult {
    team: usize,
    latencies_us: Vec<u32>,
    errors: u64,
    answered: bool,
}

struct RunResult {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    unserved_conns: usize,
    errors: u64,
    lost_files: i64,
    lost_index: i64,
}

/// One run on a fresh data directory under `temp` (kept until all runs are done:
/// deleting tens of thousands of files right before the next run would slow its
/// inode allocation on ext4 and measure the clean-up instead of the server).
fn run(conns: usize, teams: usize, secs: f64, extra: &[&str], temp: &Path) -> RunResult {
    let data = temp.join(format!("data-{}", std::process::id()));
    let data = (0..)
        .map(|i| data.with_extension(i.to_string()))
        .find(|d| !d.exists())
        .unwrap();
    let mut serve = Serve::start(&data, extra);
    let requests: Vec<Arc<Vec<u8>>> = (0..teams)
        .map(|t| Arc::new(report_request(&format!("team{}", t + 1), REPORT)))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = (0..conns)
        .map(|c| {
            let team = c % teams;
            let request = Arc::clone(&requests[team]);
            let stop = Arc::clone(&stop);
            let addr = serve.addr.clone();
            std::thread::spawn(move || {
                let mut result = ConnResult {
                    team,
                    latencies_us: Vec::with_capacity(16 * 1024),
                    errors: 0,
                    answered: false,
                };
                let mut conn = match Conn::open(&addr) {
                    Ok(conn) => conn,
                    Err(_) => {
                        result.errors += 1;
                        return result;
                    }
                };
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    match conn.exchange(&request) {
                        Ok((200, _)) => {
                            result.answered = true;
                            result.latencies_us.push(sent.elapsed().as_micros() as u32);
                        }
                        Ok(_) => {
                            result.answered = true;
                            result.errors += 1;
                        }
                        Err(_) => {
                            result.errors += 1;
                            match Conn::open(&addr) {
                                Ok(c) => conn = c,
                                Err(_) => std::thread::sleep(Duration::from_millis(10)),
                            }
                        }
                    }
                }
                result
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let results: Vec<ConnResult> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let elapsed = start.elapsed().as_secs_f64();
    let code = serve.stop();
    assert_eq!(code, Some(0), "server exit status");

    let mut acked = vec![0i64; teams];
    let mut latencies: Vec<u32> = Vec::new();
    for r in &results {
        acked[r.team] += r.latencies_us.len() as i64;
        latencies.extend_from_slice(&r.latencies_us);
    }
    latencies.sort_unstable();
    let mut lost_files = 0;
    let mut lost_index = 0;
    for (t, acked) in acked.iter().enumerate() {
        let dir = data.join(format!("team{}", t + 1));
        let files = count_report_files(&dir) as i64;
        let index_lines = std::fs::read_to_string(dir.join(".benchboard-index"))
            // Report lines only, not the version line on top.
            .map(|s| s.lines().skip(1).count() as i64)
            .unwrap_or(0);
        lost_files += acked - files;
        lost_index += acked - index_lines;
    }
    let ms = |us: u32| us as f64 / 1000.0;
    RunResult {
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: ms(quantile(&latencies, 0.50)),
        p99_ms: ms(quantile(&latencies, 0.99)),
        max_ms: ms(*latencies.last().unwrap_or(&0)),
        unserved_conns: results.iter().filter(|r| !r.answered).count(),
        errors: results.iter().map(|r| r.errors).sum(),
        lost_files,
        lost_index,
    }
}

fn main() {
    let conns = arg("--conns", 64usize);
    let teams = arg("--teams", 6usize);
    let secs = arg("--secs", 10.0f64);
    let runs = arg("--runs", 3usize);
    let threads = arg("--threads", 0usize);
    let mut extra: Vec<String> = Vec::new();
    if flag("--fsync") {
        extra.push("--fsync".into());
    }
    if threads > 0 {
        extra.extend(["--threads".into(), threads.to_string()]);
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    println!(
        "ingest: {conns} keep-alive connections, {teams} teams, {secs} s, server flags {extra:?}"
    );
    // --dir: where the runs' data directories go (default: the system temp dir).
    let base = arg("--dir", std::env::temp_dir().display().to_string());
    std::fs::create_dir_all(&base).expect("--dir can be created");
    let temp = tempfile::Builder::new()
        .prefix("benchboard-ingest-")
        .tempdir_in(&base)
        .expect("temp dir");
    let mut all = Vec::new();
    for i in 0..runs {
        let r = run(conns, teams, secs, &extra, temp.path());
        println!(
            "run {}: {:.0} reports/s  p50 {:.2} ms  p99 {:.2} ms  max {:.1} ms  unserved connections {}  errors {}  lost (files) {}  lost (index) {}",
            i + 1,
            r.per_second,
            r.p50_ms,
            r.p99_ms,
            r.max_ms,
            r.unserved_conns,
            r.errors,
            r.lost_files,
            r.lost_index
        );
        all.push(r);
    }
    let med = |f: fn(&RunResult) -> f64| median(&all.iter().map(f).collect::<Vec<_>>());
    println!(
        "median of {runs}: {:.0} reports/s  p50 {:.2} ms  p99 {:.2} ms  max {:.1} ms; unserved connections (sum) {}; lost (sum, files/index) {}/{}",
        med(|r| r.per_second),
        med(|r| r.p50_ms),
        med(|r| r.p99_ms),
        med(|r| r.max_ms),
        all.iter().map(|r| r.unserved_conns).sum::<usize>(),
        all.iter().map(|r| r.lost_files).sum::<i64>(),
        all.iter().map(|r| r.lost_index).sum::<i64>(),
    );
}
