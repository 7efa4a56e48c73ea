//! Every attack of issue 11 at once, at full size, against the release
//! `benchboard-serve` with default flags, while a legitimate client posts reports
//! (one keep-alive connection, as fast as it is answered) and reads `/api/teams`
//! (a new connection every 100 ms). Each run first measures the same client without
//! an attack, on a fresh copy of the same data.
//!
//! ```text
//! cargo bench --bench hostile_room -- --seconds 30 --runs 3
//! cargo bench --bench hostile_room -- --scale 0.1 --seconds 10 --runs 1   # a quick look
//! ```
//!
//! The attack (`--scale 1`): 5,000 idle connections, 200 slowloris heads (a byte a
//! second), 200 slowloris bodies (`Content-Length: 5000`, a byte a second), 200 slow
//! readers of a 2,000-report export.csv and 200 of `history?limit=1000` (256 B/s
//! each, 4 KiB receive buffers), 50 oversized heads and 50 endless chunk-size lines
//! (64 KiB every 100 ms each), 20 teams posting reports padded to just under
//! `--max-body` once a second each, and 10,000 new team ids posted one after another.
//! Every connection the server ends is opened again at once.

#[path = "../common/mod.rs"]
mod common;
mod legit;
mod swarm;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Serve, arg, median};
use legit::{Legit, flood_new_teams, padded_reporters};
use swarm::{Behaviour, Swarm};

/// Reports of the team whose history and export the slow readers read.
const HISTORY_REPORTS: usize = 2000;
/// The default `--max-body`: padded reports stay just under it.
const MAX_BODY: usize = 64 * 1024;

fn main() {
    let seconds = arg("--seconds", 30u64);
    let runs = arg("--runs", 3usize);
    let scale = arg("--scale", 1.0f64);
    let _ = raise_open_files_limit();
    let temp = tempfile::Builder::new()
        .prefix("benchboard-hostile-")
        .tempdir()
        .unwrap();
    let template = temp.path().join("template");
    legit::prepare(&template, HISTORY_REPORTS);
    println!(
        "hostile_room: scale {scale}, {seconds} s per phase, {runs} runs, load average before: {}",
        load_average()
    );
    let mut results = Vec::new();
    for run in 0..runs {
        let quiet = phase(
            &template,
            &temp.path().join(format!("q{run}")),
            seconds,
            None,
        );
        let attacked = phase(
            &template,
            &temp.path().join(format!("a{run}")),
            seconds,
            Some(scale),
        );
        println!("run {}: no attack: {}", run + 1, quiet.line());
        println!("run {}: attacked: {}", run + 1, attacked.line());
        for note in &attacked.notes {
            println!("    {note}");
        }
        results.push((quiet, attacked));
    }
    summary(&results);
    println!("load average after: {}", load_average());
}

/// What one phase (with or without the attack) measured.
struct Phase {
    legit: legit::Outcome,
    peak_rss_mib: f64,
    most_threads: u64,
    notes: Vec<String>,
}

impl Phase {
    fn line(&self) -> String {
        format!(
            "{}; server peak RSS {:.1} MiB, at most {} threads",
            self.legit.line(),
            self.peak_rss_mib,
            self.most_threads
        )
    }
}

/// One fresh server on a copy of the template; the attack at `scale` if given.
fn phase(template: &Path, data: &Path, seconds: u64, scale: Option<f64>) -> Phase {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(template)
        .arg(data)
        .status()
        .expect("cp runs");
    assert!(status.success(), "copying the data");
    let mut serve = Serve::start(data, &[]);
    let pid = serve.child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = threads_sampler(pid, Arc::clone(&stop));
    let attack = scale.map(|scale| Attack::start(&serve.addr, scale, &stop));
    let legit = Legit::run(&serve.addr, Duration::from_secs(seconds));
    let peak_rss_mib = status_kib(pid, "VmHWM:") as f64 / 1024.0;
    stop.store(true, Ordering::Relaxed);
    let notes = attack.map(Attack::finish).unwrap_or_default();
    let most_threads = sampler.join().expect("sampler");
    serve.stop();
    let _ = std::fs::remove_dir_all(data);
    Phase {
        legit,
        peak_rss_mib,
        most_threads,
        notes,
    }
}

/// Every attack, running.
struct Attack {
    swarms: Vec<Swarm>,
    padded: std::thread::JoinHandle<String>,
    new_teams: std::thread::JoinHandle<String>,
}

impl Attack {
    /// Starts every attack and returns once the idle connections are all open.
    fn start(addr: &str, scale: f64, stop: &Arc<AtomicBool>) -> Attack {
        let n = |full: usize| ((full as f64 * scale).round() as usize).max(1);
        let second = Duration::from_secs(1);
        let fast = Duration::from_millis(100);
        let size = |name: &str, full: usize| if wanted(name) { n(full) } else { 0 };
        let swarm = |name, full, behaviour, tick| {
            Swarm::start(
                name,
                addr,
                size(name, full),
                behaviour,
                tick,
                Arc::clone(stop),
            )
        };
        let swarms = vec![
            swarm("idle connections", 5000, Behaviour::Idle, second),
            swarm("slowloris heads", 200, slow_head(), second),
            swarm("slowloris bodies", 200, slow_body(), second),
            swarm(
                "slow readers of export.csv",
                200,
                slow_reader("/api/teams/hist/export.csv"),
                second,
            ),
            swarm(
                "slow readers of history?limit=1000",
                200,
                slow_reader("/api/teams/hist/history?limit=1000"),
                second,
            ),
            swarm("oversized heads", 50, oversized_head(), fast),
            swarm("endless chunk-size lines", 50, endless_chunk_line(), fast),
        ];
        let padded = padded_reporters(
            addr,
            size("padded reporters", 20),
            MAX_BODY - 1024,
            Arc::clone(stop),
        );
        let new_teams = flood_new_teams(addr, size("new team ids", 10_000), Arc::clone(stop));
        let idle = &swarms[0];
        let deadline = Instant::now() + Duration::from_secs(120);
        while (idle.counts.open.load(Ordering::Relaxed) as usize) < idle.size
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        Attack {
            swarms,
            padded,
            new_teams,
        }
    }

    /// Stops (`stop` is set) and says what each attack did.
    fn finish(self) -> Vec<String> {
        let mut notes: Vec<String> = self
            .swarms
            .into_iter()
            .map(|swarm| {
                let (name, size, c) = swarm.join();
                let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
                format!(
                    "{size} {name}: {} opened, {} ended by the server, {} not opened, {} bytes sent, {} bytes received",
                    get(&c.opened),
                    get(&c.ended),
                    get(&c.refused),
                    get(&c.sent),
                    get(&c.received)
                )
            })
            .collect();
        notes.push(self.padded.join().expect("padded reporters"));
        notes.push(self.new_teams.join().expect("new teams"));
        notes
    }
}

/// `BENCH_ONLY=slow,idle`: only the attacks whose names contain one of these words
/// (to see what costs what); all by default.
fn wanted(name: &str) -> bool {
    match std::env::var("BENCH_ONLY") {
        Ok(only) => only.split(',').any(|word| name.contains(word.trim())),
        Err(_) => true,
    }
}

fn slow_head() -> Behaviour {
    Behaviour::Drip {
        start: b"GET /api/teams HTTP/1.1\r\nHost: bench\r\nX-Slow: ".to_vec(),
        drip: b"a".to_vec(),
    }
}

fn slow_body() -> Behaviour {
    Behaviour::Drip {
        start: b"POST /api/stats/report HTTP/1.1\r\nHost: bench\r\nX-Team-ID: slow\r\nContent-Length: 5000\r\n\r\n{".to_vec(),
        drip: b" ".to_vec(),
    }
}

fn slow_reader(path: &str) -> Behaviour {
    Behaviour::SlowRead {
        request: format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            .into_bytes(),
        sip: 256,
    }
}

fn oversized_head() -> Behaviour {
    Behaviour::Drip {
        start: b"GET /api/teams HTTP/1.1\r\nHost: bench\r\nX-Big: ".to_vec(),
        drip: vec![b'x'; 64 * 1024],
    }
}

fn endless_chunk_line() -> Behaviour {
    Behaviour::Drip {
        start: b"POST /api/stats/report HTTP/1.1\r\nHost: bench\r\nX-Team-ID: chunky\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
        drip: vec![b'f'; 64 * 1024],
    }
}

/// The most threads the server had, sampled every 100 ms until `stop`.
fn threads_sampler(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut most = 0;
        while !stop.load(Ordering::Relaxed) {
            most = most.max(status_kib(pid, "Threads:"));
            std::thread::sleep(Duration::from_millis(100));
        }
        most
    })
}

/// A number from `/proc/PID/status` (kB for memory lines).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// This process holds thousands of sockets.
fn raise_open_files_limit() -> std::io::Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid pointer to an rlimit for the duration of each call.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn summary(results: &[(Phase, Phase)]) {
    let med = |f: &dyn Fn(&Phase) -> f64, attacked: bool| {
        median(
            &results
                .iter()
                .map(|(q, a)| f(if attacked { a } else { q }))
                .collect::<Vec<_>>(),
        )
    };
    println!("median of {} runs:", results.len());
    for (attacked, label) in [(false, "no attack"), (true, "attacked")] {
        println!(
            "  {label}: success {:.3} %, p99 {:.1} ms (reports {:.1} ms, /api/teams {:.1} ms), ingest {:.0} reports/s, peak RSS {:.1} MiB, at most {:.0} threads",
            med(&|p| p.legit.success_percent(), attacked),
            med(&|p| p.legit.p99_ms(), attacked),
            med(&|p| p.legit.posts.p99_ms(), attacked),
            med(&|p| p.legit.gets.p99_ms(), attacked),
            med(&|p| p.legit.ingest_per_sec(), attacked),
            med(&|p| p.peak_rss_mib, attacked),
            med(&|p| p.most_threads as f64, attacked),
        );
    }
    let ratio =
        med(&|p| p.legit.ingest_per_sec(), true) / med(&|p| p.legit.ingest_per_sec(), false);
    println!(
        "  legitimate ingest under attack: {:.0} % of no attack",
        ratio * 100.0
    );
}
