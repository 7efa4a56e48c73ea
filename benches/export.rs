//! Benchmark: `benchboard-history export` of 6 teams × 20,000 reports to CSV.
//! Target (issue 3): ≤ 2 s and ≤ 100 MiB resident.
//!
//! Run: `cargo bench --bench export` (release build). The history is generated once
//! with `benchboard::generate::write_history` into `target/bench-data/` (or
//! `$BENCHBOARD_BENCH_DATA`) and reused; `BENCH_RUNS` sets the number of runs
//! (default 5), `BENCH_TEAMS` / `BENCH_REPORTS` the size. Each run is a child
//! process writing `-o FILE`; its wall time and peak RSS (wait4) are printed, then
//! the medians.

mod common;

use std::path::Path;
use std::process::Command;

use common::run_measured;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Lines and bytes of a file, read in pieces: this process stays small, so the
/// next child (forked from it) does not start with a large resident size.
fn count_lines(path: &Path) -> (usize, usize) {
    use std::io::Read;
    let mut file = std::fs::File::open(path).expect("export written");
    let mut buf = vec![0u8; 1 << 16];
    let (mut lines, mut bytes) = (0, 0);
    loop {
        let n = file.read(&mut buf).expect("export readable");
        if n == 0 {
            return (lines, bytes);
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
        bytes += n;
    }
}

fn median<T: Copy + Ord>(mut values: Vec<T>) -> T {
    values.sort();
    values[values.len() / 2]
}

fn main() {
    // `cargo test --benches` runs benches with --test-ish args; only run on `cargo bench`.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let teams = env_number("BENCH_TEAMS", 6);
    let reports = env_number("BENCH_REPORTS", 20_000);
    let runs = env_number("BENCH_RUNS", 5).max(1);
    let dir = common::generated_history(teams, reports);
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out = out_dir.path().join("export.csv");
    let mut times = Vec::new();
    let mut cpus = Vec::new();
    let mut peaks = Vec::new();
    for run in 1..=runs {
        let run_figures = run_measured(
            Command::new(env!("CARGO_BIN_EXE_benchboard-history"))
                .arg("--data-dir")
                .arg(&dir)
                .args(["export", "--format", "csv", "-o"])
                .arg(&out),
        );
        let (lines, bytes) = count_lines(&out);
        assert_eq!(
            lines,
            teams * reports + 1,
            "one CSV line per report plus the header"
        );
        println!(
            "run {run}: {:.3} s, CPU {:.3} s, peak RSS {:.1} MiB, {} MiB of CSV",
            run_figures.wall.as_secs_f64(),
            run_figures.cpu.as_secs_f64(),
            run_figures.peak_kib as f64 / 1024.0,
            bytes / (1024 * 1024)
        );
        times.push(run_figures.wall);
        cpus.push(run_figures.cpu);
        peaks.push(run_figures.peak_kib);
    }
    println!(
        "export {teams} teams x {reports} reports to CSV: median {:.3} s (CPU {:.3} s), median peak RSS {:.1} MiB ({runs} runs, {} cores; target <= 2 s, <= 100 MiB)",
        median(times).as_secs_f64(),
        median(cpus).as_secs_f64(),
        median(peaks) as f64 / 1024.0,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}
