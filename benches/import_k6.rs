//! Benchmark: `benchboard-client push --format k6-ndjson` of a generated 1 GB k6
//! `--out json` file: throughput in MB/s and the client's peak resident memory, which
//! must not grow with the file (a histogram per kind is kept, not the samples).
//!
//! Run: `cargo bench --bench import_k6` (release build). The file is generated once
//! into `target/bench-data/k6-<MB>.ndjson` (or `$BENCHBOARD_BENCH_DATA`), in the layout
//! of k6's `internal/output/json/wrapper.go`: per request the Points k6 writes
//! (`http_reqs`, `http_req_duration` and its six phases, `http_req_failed`, data
//! sent/received, `iterations`, `iteration_duration`), tags and metadata included.
//! `BENCH_MB` sets the size (default 1024), `BENCH_RUNS` the runs (default 1). Each
//! run is the real client as a child process pushing to the real server; its wall
//! time and peak RSS (wait4) are printed, and the report stored is checked against
//! the generated counts.

mod common;

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{Serve, run_measured};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the generated file holds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct Generated {
    bytes: u64,
    requests: u64,
    failed: u64,
}

const NAMES: [&str; 3] = ["GET /api/sensors", "POST /api/sensors", "GET /api/query"];
const PHASES: [&str; 6] = [
    "http_req_blocked",
    "http_req_connecting",
    "http_req_tls_handshaking",
    "http_req_sending",
    "http_req_waiting",
    "http_req_receiving",
];

/// Writes k6 NDJSON until `target_bytes`, from a fixed seed.
fn generate(path: &Path, target_bytes: u64) -> Generated {
    let file = std::fs::File::create(path).expect("bench file created");
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut rng = fastrand::Rng::with_seed(15);
    let mut written = 0u64;
    let emit = |out: &mut BufWriter<std::fs::File>, line: &str| {
        out.write_all(line.as_bytes()).expect("bench file written");
        out.write_all(b"\n").expect("bench file written");
        line.len() as u64 + 1
    };
    for (name, kind, contains) in [
        ("http_reqs", "counter", "default"),
        ("http_req_duration", "trend", "time"),
        ("http_req_failed", "rate", "default"),
        ("iterations", "counter", "default"),
    ] {
        written += emit(
            &mut out,
            &format!(
                r#"{{"type":"Metric","data":{{"name":"{name}","type":"{kind}","contains":"{contains}","thresholds":[],"submetrics":null}},"metric":"{name}"}}"#
            ),
        );
    }
    let (mut requests, mut failed) = (0u64, 0u64);
    while written < target_bytes {
        let (lines, request_failed) = request_lines(requests, &mut rng);
        for line in &lines {
            written += emit(&mut out, line);
        }
        failed += u64::from(request_failed);
        requests += 1;
    }
    out.flush().expect("bench file written");
    Generated {
        bytes: written,
        requests,
        failed,
    }
}

/// The Points k6 writes for one request (number `n`), and whether it failed (2 %).
fn request_lines(n: u64, rng: &mut fastrand::Rng) -> ([String; 13], bool) {
    let name = NAMES[(n % 3) as usize];
    let (method, path) = name.split_once(' ').expect("names are METHOD PATH");
    let failed = rng.u32(..100) < 2;
    let status = if failed { "500" } else { "200" };
    let duration_ms = (rng.f64() * 3.0 - 1.0).exp() * 20.0;
    let start_ns: i64 = 1_709_287_200_000_000_000; // 2024-03-01T10:00:00Z
    let at = chrono::DateTime::from_timestamp_nanos(start_ns + n as i64 * 2_345_678);
    let time = at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, false);
    let tags = format!(
        r#"{{"expected_response":"{}","group":"","method":"{method}","name":"{name}","proto":"HTTP/1.1","scenario":"default","status":"{status}","tls_version":"","url":"http://sut.example:8080{path}"}}"#,
        !failed
    );
    let plain = r#"{"group":"","scenario":"default"}"#;
    let meta = format!(r#"{{"vu":"{}","iter":"{}"}}"#, n % 50 + 1, n / 50);
    let point = |metric: &str, value: f64, tags: &str| {
        format!(
            r#"{{"metric":"{metric}","type":"Point","data":{{"time":"{time}","value":{value},"tags":{tags},"metadata":{meta}}}}}"#
        )
    };
    let lines = [
        point("http_reqs", 1.0, &tags),
        point("http_req_duration", duration_ms, &tags),
        point(PHASES[0], 0.004, &tags),
        point(PHASES[1], 0.0, &tags),
        point(PHASES[2], 0.0, &tags),
        point(PHASES[3], 0.021, &tags),
        point(PHASES[4], duration_ms * 0.95, &tags),
        point(PHASES[5], duration_ms * 0.05, &tags),
        point("http_req_failed", f64::from(u8::from(failed)), &tags),
        point("data_sent", 112.0, plain),
        point("data_received", 431.0, plain),
        point("iteration_duration", duration_ms + 0.3, plain),
        point("iterations", 1.0, plain),
    ];
    (lines, failed)
}

/// The bench file and what it holds, generated if missing.
fn bench_file(megabytes: u64) -> (PathBuf, Generated) {
    let dir = std::env::var("BENCHBOARD_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data"));
    std::fs::create_dir_all(&dir).expect("bench data directory");
    let path = dir.join(format!("k6-{megabytes}.ndjson"));
    let marker = dir.join(format!("k6-{megabytes}.ndjson.json"));
    if let Ok(text) = std::fs::read_to_string(&marker) {
        let generated: Generated = serde_json::from_str(&text).expect("marker readable");
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == generated.bytes) {
            return (path, generated);
        }
    }
    let start = Instant::now();
    let generated = generate(&path, megabytes * 1_000_000);
    std::fs::write(&marker, serde_json::to_string(&generated).unwrap()).expect("marker written");
    println!(
        "generated {} ({:.0} MB, {} requests) in {:.1} s",
        path.display(),
        generated.bytes as f64 / 1e6,
        generated.requests,
        start.elapsed().as_secs_f64()
    );
    (path, generated)
}

fn main() {
    // `cargo test --benches` runs benches with --list-ish args; only run on `cargo bench`.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let megabytes = env_number("BENCH_MB", 1024);
    let runs = env_number("BENCH_RUNS", 1).max(1);
    let (path, generated) = bench_file(megabytes);
    let data = tempfile::tempdir().expect("temp dir");
    let server = Serve::start(data.path(), &[]);
    for run in 1..=runs {
        let measured = run_measured(
            Command::new(env!("CARGO_BIN_EXE_benchboard-client"))
                .args([
                    "push",
                    "--format",
                    "k6-ndjson",
                    "--team-id",
                    "bench",
                    "--server",
                ])
                .arg(format!("http://{}", server.addr))
                .arg(&path)
                .stdout(std::process::Stdio::null()),
        );
        let latest =
            std::fs::read(data.path().join("bench/latest.json")).expect("the report was stored");
        let stored: serde_json::Value =
            serde_json::from_slice(&latest).expect("stored report is JSON");
        assert_eq!(
            stored["stats"]["totalOps"], generated.requests,
            "every request counted"
        );
        assert_eq!(
            stored["stats"]["totalErrors"], generated.failed,
            "every failure counted"
        );
        println!(
            "run {run}: {:.0} MB ({} requests) in {:.2} s = {:.0} MB/s, peak RSS {:.1} MiB",
            generated.bytes as f64 / 1e6,
            generated.requests,
            measured.wall.as_secs_f64(),
            generated.bytes as f64 / 1e6 / measured.wall.as_secs_f64(),
            measured.peak_kib as f64 / 1024.0
        );
    }
    println!(
        "({} cores; a figure from a shared machine varies with its load)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}
