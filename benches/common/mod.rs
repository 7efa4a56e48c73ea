//! Shared by the benchmarks: the real `benchboard-serve` as a child process, a
//! minimal keep-alive HTTP/1.1 client on a raw `TcpStream` (so the load generator
//! costs little next to the server), and statistics.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The release binary built by `cargo bench`.
pub const SERVE_BIN: &str = env!("CARGO_BIN_EXE_benchboard-serve");

/// A running `benchboard-serve`; stopped with SIGTERM (then killed) on drop.
pub struct Serve {
    pub child: Child,
    /// `127.0.0.1:port`
    pub addr: String,
    /// When the process was spawned.
    pub spawned: Instant,
}

impl Serve {
    /// Starts the server on `data_dir` with extra flags; returns once it printed its URL.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Serve {
        let spawned = Instant::now();
        // BENCHBOARD_BENCH_SERVER: another build of the server, for before/after runs.
        let bin = std::env::var_os("BENCHBOARD_BENCH_SERVER").unwrap_or_else(|| SERVE_BIN.into());
        let mut child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", "0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("benchboard-serve starts");
        let mut first = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).expect("first line");
        // Keep reading so the server never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let addr = first
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
            .unwrap_or_else(|| panic!("no URL in {first:?}"))
            .trim_end_matches('/')
            .to_string();
        Serve {
            child,
            addr,
            spawned,
        }
    }

    /// Resident memory of the server process, in MiB (from /proc).
    pub fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
            .unwrap_or(f64::NAN)
    }

    /// kill -9: no clean-up at all; waits for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (bounded) for the exit; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
}

impl Conn {
    pub fn open(addr: &str) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            reader: BufReader::with_capacity(64 * 1024, stream.try_clone()?),
            stream,
        })
    }

    /// Sends a complete request and reads the answer: (status, body).
    pub fn exchange(&mut self, request: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        self.stream.write_all(request)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = 0usize;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("connection closed in headers"));
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok((status, body))
    }
}

/// `GET path` as request bytes.
pub fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").into_bytes()
}

/// A report POST for `team` as request bytes.
pub fn report_request(team: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST /api/stats/report HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nX-Team-ID: {team}\r\nX-Team-Name: {team}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// The value at quantile `q` (0..=1) of sorted samples.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> T {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Median of a few figures.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    }
}

/// `--name value` from the command line (cargo bench passes `--bench` too).
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `--flag` present on the command line.
pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// Report files (not latest.json) in a team's directory.
pub fn count_report_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    name.ends_with(".json") && name != "latest.json"
                })
                .count()
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) a process has used so far.
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/<pid>/stat");
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm ends") + 2..]
        .split_whitespace()
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
    ticks / 100.0 // USER_HZ is 100 on Linux
}

/// A run's figures: wall time, CPU time (user + system) and peak resident size in KiB.
pub struct Measured {
    pub wall: Duration,
    pub cpu: Duration,
    pub peak_kib: u64,
}

/// Runs a command and measures it.
// The child is reaped by wait4 (which also gives its rusage), not by Child::wait.
#[allow(clippy::zombie_processes)]
pub fn run_measured(command: &mut Command) -> Measured {
    let start = Instant::now();
    let child = command.spawn().expect("the measured binary starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain old data, zero is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet waited for; the pointers are valid.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    assert_eq!(waited, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed with status {status}"
    );
    let seconds = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Measured {
        wall: elapsed,
        cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        peak_kib: usage.ru_maxrss as u64,
    }
}

/// The history of `teams` × `reports` generated by `benchboard::generate::write_history`
/// into `target/bench-data/history-<T>x<N>` (or `$BENCHBOARD_BENCH_DATA`), made once
/// (a marker file says it is complete) and reused by later runs and benchmarks.
pub fn generated_history(teams: usize, reports: usize) -> std::path::PathBuf {
    let dir = match std::env::var("BENCHBOARD_BENCH_DATA") {
        Ok(dir) => std::path::PathBuf::from(dir),
        Err(_) => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/bench-data")
            .join(format!("history-{teams}x{reports}")),
    };
    let done_marker = dir.join(".generated");
    if !done_marker.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let start = Instant::now();
        benchboard::generate::write_history(&dir, teams, reports).expect("history generated");
        std::fs::write(&done_marker, b"").expect("marker written");
        println!(
            "generated {teams} teams x {reports} reports in {:.1} s into {}",
            start.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    dir
}
