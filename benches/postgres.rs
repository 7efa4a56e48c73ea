//! The PostgreSQL store, in one sitting on a throwaway cluster (tests/common/pg.rs,
//! run with PostgreSQL's defaults: `fsync` and `synchronous_commit` on):
//!
//! 1. ingest: N keep-alive connections POST for S seconds to the release
//!    `benchboard-serve --store postgres://…`, then the file store with `--fsync` on
//!    the same disk, `--runs` times (medians); every acknowledged report is looked
//!    for afterwards;
//! 2. history: a team with `--history` reports (inserted by SQL, as a migration
//!    would), three of them moved to the trash through the admin API, the page at
//!    offset `visible - 10` through the API, median and p99;
//! 3. fan-out: two instances on one database, a viewer on B, reports posted to A;
//!    post-to-viewer latency (from the POST's first byte sent to the `team_update`
//!    read off B's WebSocket), quiet and with `--fan-load` background reports/s on
//!    both instances.
//!
//! ```text
//! cargo bench --bench postgres -- --conns 64 --secs 10 --runs 3 --history 1000000 --threads 64
//! ```

#[allow(dead_code)] // the tests' helpers, of which the benchmark uses a part
#[path = "../tests/common/pg.rs"]
mod pg;

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Conn, Serve, arg, get_request, median, quantile, report_request};
use tungstenite::Message;

const REPORT: &str = include_str!("../tests/fixtures/valid/full-13-buckets.json");

/// The fixture with `totalSent` = `sent`: the identity of one report.
fn body(sent: u64) -> String {
    REPORT.replacen("\"totalSent\": 5000", &format!("\"totalSent\": {sent}"), 1)
}

struct Ingest {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    acked: Vec<u64>,
    errors: u64,
}

/// N connections posting as fast as answered for `secs`; six teams.
fn ingest(addr: &str, conns: usize, secs: f64) -> Ingest {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..conns)
        .map(|c| {
            let (addr, stop) = (addr.to_string(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let team = format!("team{}", c % 6 + 1);
                let mut conn = Conn::open(&addr).expect("connects");
                let (mut latencies, mut acked, mut errors) = (Vec::new(), Vec::new(), 0u64);
                let mut n = (c as u64 + 1) * 1_000_000_000;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let sent = Instant::now();
                    match conn.exchange(&report_request(&team, body(n).as_bytes())) {
                        Ok((200, _)) => {
                            latencies.push(sent.elapsed().as_micros() as u32);
                            acked.push(n);
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, acked, errors)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let (mut latencies, mut acked, mut errors) = (Vec::new(), Vec::new(), 0);
    for handle in handles {
        let (l, a, e) = handle.join().unwrap();
        latencies.extend(l);
        acked.extend(a);
        errors += e;
    }
    latencies.sort_unstable();
    Ingest {
        per_second: acked.len() as f64 / elapsed,
        p50_ms: quantile(&latencies, 0.5) as f64 / 1000.0,
        p99_ms: quantile(&latencies, 0.99) as f64 / 1000.0,
        acked,
        errors,
    }
}

fn print_ingest(label: &str, r: &Ingest, lost: usize) {
    println!(
        "{label}: {:.0} reports/s  p50 {:.2} ms  p99 {:.2} ms  errors {}  acknowledged {}  lost {lost}",
        r.per_second,
        r.p50_ms,
        r.p99_ms,
        r.errors,
        r.acked.len()
    );
}

/// One run of each store, PostgreSQL first; (reports/s on PostgreSQL, on files).
fn ingest_both(
    cluster: &pg::Cluster,
    run: usize,
    conns: usize,
    secs: f64,
    threads: &[&str],
) -> (f64, f64) {
    let db = format!("ingest{run}");
    cluster
        .connect("postgres")
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let temp = tempfile::tempdir().unwrap();
    let url = cluster.url(&db);
    let mut serve = Serve::start(temp.path(), &[&["--store", &url][..], threads].concat());
    let on_pg = ingest(&serve.addr, conns, secs);
    serve.stop();
    let stored: std::collections::HashSet<i64> = cluster
        .connect(&db)
        .query("SELECT (stats->>'totalSent')::int8 FROM reports", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let lost = on_pg
        .acked
        .iter()
        .filter(|n| !stored.contains(&(**n as i64)))
        .count();
    print_ingest(&format!("run {run}: ingest, PostgreSQL"), &on_pg, lost);

    let data = temp.path().join("files");
    let files_flags = ["--fsync", "--min-free-space", "0"];
    let mut serve = Serve::start(&data, &[&files_flags[..], threads].concat());
    let on_files = ingest(&serve.addr, conns, secs);
    serve.stop();
    print_ingest(
        &format!("run {run}: ingest, file store --fsync"),
        &on_files,
        0,
    );
    (on_pg.per_second, on_files.per_second)
}

fn ingest_runs(cluster: &pg::Cluster, runs: usize, conns: usize, secs: f64, threads: &[&str]) {
    let (mut on_pg, mut on_files): (Vec<f64>, Vec<f64>) = (1..=runs)
        .map(|run| ingest_both(cluster, run, conns, secs, threads))
        .unzip();
    on_pg.sort_by(f64::total_cmp);
    on_files.sort_by(f64::total_cmp);
    println!(
        "ingest @{conns} connections, median of {runs} runs: PostgreSQL {:.0} reports/s, file store --fsync {:.0} reports/s",
        median(&on_pg),
        median(&on_files)
    );
}

/// A team `deep` with `reports` reports, inserted by SQL (the schema comes from a
/// server started once on the database).
fn fill_history(cluster: &pg::Cluster, db: &str, reports: i64) {
    let mut client = cluster.connect(db);
    let started = Instant::now();
    client
        .execute(
            "INSERT INTO teams (team_id, team_name, reports, visible, latest_seq, run,
                                run_reports, first_timestamp, last_timestamp)
             VALUES ('deep', 'deep', $1, $1, $1, 1, $1, '2025-08-01T00:00:00.000+00:00', 'last')",
            &[&reports],
        )
        .unwrap();
    client
        .execute(
            "INSERT INTO reports (team_id, seq, team_name, file_name, timestamp, at, qps,
                                  avg_latency, p99_latency, data_loss_rate, stats)
             SELECT 'deep', n, 'deep',
                    to_char(t, 'YYYYMMDD_HH24MISS_MS') || '.json',
                    to_char(t, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') || '+00:00', t,
                    n % 1000, 10, 20, 0, $1::text::json
             FROM generate_series(1, $2::int8) AS n,
                  LATERAL (SELECT timestamptz '2025-08-01 00:00:00+00' + n * interval '1 second') AS g(t)",
            &[&body(1), &reports],
        )
        .unwrap();
    client.batch_execute("VACUUM ANALYZE reports").unwrap();
    println!(
        "history: {reports} reports of one team inserted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn history_page(cluster: &pg::Cluster, reports: i64) {
    let db = "history";
    cluster
        .connect("postgres")
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let temp = tempfile::tempdir().unwrap();
    drop(Serve::start(temp.path(), &["--store", &cluster.url(db)]));
    fill_history(cluster, db, reports);
    let contest = temp.path().join("contest.toml");
    std::fs::write(&contest, format!("[admin]\ntoken = \"{ADMIN_TOKEN}\"\n")).unwrap();
    let store = [
        "--store",
        &cluster.url(db),
        "--config",
        contest.to_str().unwrap(),
    ];
    let serve = Serve::start(temp.path(), &store);
    let mut conn = Conn::open(&serve.addr).unwrap();
    let visible = reports - trash_some(cluster, db, &mut conn, reports);
    for offset in [0, visible / 2, visible - 10] {
        let request = get_request(&format!("/api/teams/deep/history?limit=10&offset={offset}"));
        let mut times = Vec::new();
        for _ in 0..200 {
            let sent = Instant::now();
            let (status, answer) = conn.exchange(&request).unwrap();
            times.push(sent.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        }
        times.sort_by(f64::total_cmp);
        println!(
            "history page at offset {offset} of {visible} (and {} in the trash): median {:.2} ms  p99 {:.2} ms (HTTP round trip, 200 requests)",
            reports - visible,
            median(&times),
            quantile(&times, 0.99)
        );
    }
}

/// The admin token of the history benchmark's contest file.
const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdef";

/// Moves three reports of `deep` (an old one, one from the middle, a recent one) to
/// the trash through the admin API; returns how many.
fn trash_some(cluster: &pg::Cluster, db: &str, conn: &mut Conn, reports: i64) -> i64 {
    let mut client = cluster.connect(db);
    let seqs = [10, reports / 2, reports - 20];
    for seq in seqs {
        let file: String = client
            .query_one(
                "SELECT file_name FROM reports WHERE team_id = 'deep' AND seq = $1",
                &[&seq],
            )
            .unwrap()
            .get(0);
        let request = format!(
            "POST /api/admin/teams/deep/reports/{file}/trash HTTP/1.1\r\nHost: bench\r\n\
             Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Length: 0\r\n\r\n"
        );
        let started = Instant::now();
        let (status, answer) = conn.exchange(request.as_bytes()).unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        println!(
            "history: report #{seq} of {reports} to the trash in {:.1} s (runs and records rebuilt)",
            started.elapsed().as_secs_f64()
        );
    }
    seqs.len() as i64
}

/// Background reports while the fan-out is measured: `rate` reports/s in all, from
/// eight connections taking turns between the two instances, on teams of their own
/// (their `totalSent` is far above the measured ones').
fn background(addrs: [&str; 2], rate: f64, stop: &Arc<AtomicBool>) -> Vec<JoinHandle<u64>> {
    if rate <= 0.0 {
        return Vec::new();
    }
    let every = Duration::from_secs_f64(8.0 / rate);
    (0..8u64)
        .map(|c| {
            let (addr, stop) = (addrs[c as usize % 2].to_string(), Arc::clone(stop));
            std::thread::spawn(move || {
                let mut conn = Conn::open(&addr).expect("connects");
                let (team, mut n, mut next) =
                    (format!("busy{c}"), BUSY + c * 1_000_000, Instant::now());
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let _ = conn.exchange(&report_request(&team, body(n).as_bytes()));
                    next += every;
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
                n
            })
        })
        .collect()
}

/// The `totalSent` values below [`BUSY`] in a message: the measured reports it shows.
fn measured_in(text: &str) -> impl Iterator<Item = u64> + '_ {
    text.match_indices("\"totalSent\":")
        .filter_map(move |(at, key)| {
            let digits: String = text[at + key.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok().filter(|n| *n < BUSY)
        })
}

/// `totalSent` of the background load's reports starts here.
const BUSY: u64 = 1_000_000_000_000;

/// Two instances on one database, a viewer on B, `reports` reports posted to A one at
/// a time (20 ms apart) while `rate` background reports/s go to both; each report's
/// time from its POST being sent to its `team_update` being read off B's WebSocket
/// (by a thread that reads nothing else), and the part after A's 200.
fn fan_out(cluster: &pg::Cluster, db: &str, reports: usize, rate: f64) {
    cluster
        .connect("postgres")
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let temp = tempfile::tempdir().unwrap();
    let a = Serve::start(temp.path(), &["--store", &cluster.url(db)]);
    let b = Serve::start(temp.path(), &["--store", &cluster.url(db)]);
    let (mut viewer, _) = tungstenite::connect(format!("ws://{}/ws", b.addr)).unwrap();
    let _snapshot = viewer.read().unwrap();
    let (seen_tx, seen) = std::sync::mpsc::channel::<(u64, Instant)>();
    std::thread::spawn(move || {
        while let Ok(message) = viewer.read() {
            let at = Instant::now();
            if let Message::Text(text) = message {
                for n in measured_in(&text) {
                    let _ = seen_tx.send((n, at));
                }
            }
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let load = background([&a.addr, &b.addr], rate, &stop);
    let mut poster = Conn::open(&a.addr).unwrap();
    let (mut latencies, mut after_ack) = (Vec::new(), Vec::new());
    for n in 1..=reports as u64 {
        let sent = Instant::now();
        let (status, _) = poster
            .exchange(&report_request("fan", body(n).as_bytes()))
            .unwrap();
        assert_eq!(status, 200);
        let acked = Instant::now();
        let shown = loop {
            let (m, at) = seen
                .recv_timeout(Duration::from_secs(30))
                .expect("shown on B");
            if m == n {
                break at;
            }
        };
        latencies.push((shown - sent).as_secs_f64() * 1000.0);
        after_ack.push(shown.saturating_duration_since(acked).as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let background: u64 = load
        .into_iter()
        .map(|h| h.join().unwrap() % 1_000_000)
        .sum();
    latencies.sort_by(f64::total_cmp);
    after_ack.sort_by(f64::total_cmp);
    println!(
        "two instances, {rate:.0} background reports/s ({background} sent): POST to A -> team_update read on B's viewer: median {:.2} ms  p99 {:.2} ms  max {:.2} ms ({reports} reports)",
        median(&latencies),
        quantile(&latencies, 0.99),
        latencies.last().unwrap()
    );
    println!(
        "  of which after A's 200 (NOTIFY, B's fetch, push): median {:.2} ms  p99 {:.2} ms",
        median(&after_ack),
        quantile(&after_ack, 0.99)
    );
}

fn main() {
    let conns = arg("--conns", 64usize);
    let runs = arg("--runs", 3usize);
    let secs = arg("--secs", 10.0f64);
    let history = arg("--history", 1_000_000i64);
    let fan = arg("--fan-out", 500usize);
    let fan_load = arg("--fan-load", 500.0f64);
    let threads = arg("--threads", 0usize).to_string();
    let threads: Vec<&str> = if threads == "0" {
        Vec::new()
    } else {
        vec!["--threads", &threads]
    };
    println!("postgres: {conns} connections, {secs} s, server flags {threads:?}");
    // PostgreSQL's own defaults: fsync and synchronous_commit on.
    let cluster = pg::Cluster::start(&[("shared_buffers", "256MB")]);
    if runs > 0 {
        ingest_runs(&cluster, runs, conns, secs, &threads);
    }
    if history > 0 {
        history_page(&cluster, history);
    }
    if fan > 0 {
        fan_out(&cluster, "fanout", fan, 0.0);
        if fan_load > 0.0 {
            fan_out(&cluster, "fanload", fan, fan_load);
        }
    }
}
