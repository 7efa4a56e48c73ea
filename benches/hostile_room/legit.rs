//! The legitimate client (a poster and a reader), the data every run starts from,
//! and the attackers that post: padded reports and a flood of new team ids.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::common::{Conn, Serve, get_request, quantile, report_request};

const REPORT: &[u8] = include_bytes!("../../tests/fixtures/valid/full-13-buckets.json");
const SMALL_REPORT: &[u8] = include_bytes!("../../tests/fixtures/valid/minimal-12-buckets.json");

/// A data directory with `history` reports of team `hist` and one of `legit`.
pub fn prepare(data: &Path, history: usize) {
    let mut serve = Serve::start(data, &[]);
    let mut conn = Conn::open(&serve.addr).expect("connects");
    for (team, count) in [("hist", history), ("legit", 1)] {
        for _ in 0..count {
            let (status, _) = conn
                .exchange(&report_request(team, REPORT))
                .expect("answered");
            assert_eq!(status, 200);
        }
    }
    serve.stop();
}

/// Latencies of one kind of request, and how many failed.
#[derive(Default)]
pub struct Samples {
    pub ms: Vec<f64>,
    pub failed: usize,
}

impl Samples {
    fn time(&mut self, request: impl FnOnce() -> std::io::Result<u16>) -> bool {
        let started = Instant::now();
        match request() {
            Ok(200) => {
                self.ms.push(started.elapsed().as_secs_f64() * 1000.0);
                true
            }
            _ => {
                self.failed += 1;
                false
            }
        }
    }

    pub fn p99_ms(&self) -> f64 {
        let mut sorted = self.ms.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        if sorted.is_empty() {
            f64::NAN
        } else {
            quantile(&sorted, 0.99)
        }
    }
}

/// What the legitimate client saw.
pub struct Outcome {
    pub posts: Samples,
    pub gets: Samples,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn success_percent(&self) -> f64 {
        let ok = self.posts.ms.len() + self.gets.ms.len();
        let all = ok + self.posts.failed + self.gets.failed;
        100.0 * ok as f64 / all.max(1) as f64
    }

    pub fn p99_ms(&self) -> f64 {
        let both = Samples {
            ms: [&self.posts.ms[..], &self.gets.ms[..]].concat(),
            failed: 0,
        };
        both.p99_ms()
    }

    pub fn ingest_per_sec(&self) -> f64 {
        self.posts.ms.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn line(&self) -> String {
        format!(
            "{} reports ({} failed), {} /api/teams ({} failed): success {:.3} %, p99 {:.1} ms (reports {:.1}, /api/teams {:.1}), ingest {:.0} reports/s",
            self.posts.ms.len(),
            self.posts.failed,
            self.gets.ms.len(),
            self.gets.failed,
            self.success_percent(),
            self.p99_ms(),
            self.posts.p99_ms(),
            self.gets.p99_ms(),
            self.ingest_per_sec()
        )
    }
}

/// The legitimate client.
pub struct Legit;

impl Legit {
    /// Posts and reads for `duration`; returns what it saw.
    pub fn run(addr: &str, duration: Duration) -> Outcome {
        let started = Instant::now();
        let reader = {
            let addr = addr.to_string();
            std::thread::spawn(move || read_teams(&addr, started + duration))
        };
        let posts = post_reports(addr, started + duration);
        let gets = reader.join().expect("reader");
        Outcome {
            posts,
            gets,
            elapsed: started.elapsed(),
        }
    }
}

/// Reports of team `legit` over one keep-alive connection, one after another
/// (opened again after a failure).
fn post_reports(addr: &str, until: Instant) -> Samples {
    let request = report_request("legit", REPORT);
    let mut samples = Samples::default();
    let mut conn = Conn::open(addr).ok();
    while Instant::now() < until {
        let ok = samples.time(|| match conn.as_mut() {
            Some(c) => c.exchange(&request).map(|(status, _)| status),
            None => Err(std::io::Error::other("not connected")),
        });
        if !ok {
            conn = Conn::open(addr).ok();
        }
    }
    samples
}

/// `GET /api/teams` on a new connection (connect included) every 100 ms.
fn read_teams(addr: &str, until: Instant) -> Samples {
    let request = get_request("/api/teams");
    let mut samples = Samples::default();
    while Instant::now() < until {
        let next = Instant::now() + Duration::from_millis(100);
        samples.time(|| {
            Conn::open(addr)?
                .exchange(&request)
                .map(|(status, _)| status)
        });
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    samples
}

/// `count` teams each posting a report padded to `bytes` once a second until `stop`.
pub fn padded_reporters(
    addr: &str,
    count: usize,
    bytes: usize,
    stop: Arc<AtomicBool>,
) -> JoinHandle<String> {
    let addr = addr.to_string();
    std::thread::spawn(move || {
        let body = padded(bytes);
        let requests: Vec<_> = (0..count)
            .map(|i| report_request(&format!("pad{i}"), &body))
            .collect();
        let mut conns: Vec<_> = (0..count).map(|_| Conn::open(&addr).ok()).collect();
        let mut outcomes = std::collections::BTreeMap::<String, u64>::new();
        while !stop.load(Ordering::Relaxed) {
            let next = Instant::now() + Duration::from_secs(1);
            for (conn, request) in conns.iter_mut().zip(&requests) {
                let outcome = match conn.as_mut().map(|c| c.exchange(request)) {
                    Some(Ok((status, _))) => status.to_string(),
                    Some(Err(e)) => e.kind().to_string(),
                    None => "not connected".to_string(),
                };
                if outcome != "200" {
                    *conn = Conn::open(&addr).ok();
                }
                *outcomes.entry(outcome).or_default() += 1;
            }
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        format!("{count} padded reporters ({bytes} bytes a report): {outcomes:?}")
    })
}

/// A valid report padded with an unknown field to `bytes` in all.
fn padded(bytes: usize) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_slice(REPORT).expect("fixture");
    let base = serde_json::to_vec(&value).expect("json").len();
    value["padding"] = serde_json::Value::String("x".repeat(bytes - base - 14));
    serde_json::to_vec(&value).expect("json")
}

/// `count` new team ids, each posted once, one after another, until done or `stop`.
pub fn flood_new_teams(addr: &str, count: usize, stop: Arc<AtomicBool>) -> JoinHandle<String> {
    let addr = addr.to_string();
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut conn = Conn::open(&addr).ok();
        let (mut stored, mut forbidden, mut other) = (0u64, 0u64, 0u64);
        for i in 0..count {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let request = report_request(&format!("new{i}"), SMALL_REPORT);
            match conn.as_mut().map(|c| c.exchange(&request)) {
                Some(Ok((200, _))) => stored += 1,
                Some(Ok((403, _))) => forbidden += 1,
                _ => {
                    other += 1;
                    conn = Conn::open(&addr).ok();
                }
            }
        }
        format!(
            "{count} new team ids: {stored} stored, {forbidden} refused with 403 (--max-teams-known), {other} other, in {:.1} s",
            started.elapsed().as_secs_f64()
        )
    })
}
