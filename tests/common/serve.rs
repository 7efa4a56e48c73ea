//! `benchboard-serve` and `benchboard-history` as child processes (on [`Running`]),
//! optionally under resource limits (`setrlimit` in the child before it runs), and
//! small checks of a data directory.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::child::{PATIENCE, Running};

pub const SERVE: &str = env!("CARGO_BIN_EXE_benchboard-serve");
pub const HISTORY: &str = env!("CARGO_BIN_EXE_benchboard-history");

/// `benchboard-serve --host 127.0.0.1 --port 0 --data-dir DIR`, untouched by the
/// caller's `BENCHBOARD_*` variables.
pub fn serve_command(data_dir: &Path) -> Command {
    let mut command = Command::new(SERVE);
    command
        .args(["--host", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(data_dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("BENCHBOARD_") {
            command.env_remove(name);
        }
    }
    command
}

/// Sets `resource` (e.g. `libc::RLIMIT_NOFILE`) to `limit`, soft and hard, in the
/// child before it runs: the child cannot raise it again.
pub fn limit(command: &mut Command, resource: libc::__rlimit_resource_t, limit: u64) {
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        command.pre_exec(move || {
            let value = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(resource, &value) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// A running `benchboard-serve` that printed its URL; killed on drop.
pub struct ServeChild {
    pub running: Running,
    /// `http://127.0.0.1:<port>`, read from its first line.
    pub base: String,
}

impl ServeChild {
    /// Starts `command` and waits (at most [`PATIENCE`]) for the URL it prints.
    pub fn start(command: &mut Command) -> ServeChild {
        let mut running = Running::spawn(command.stdin(Stdio::null()));
        let base = running.url_from_first_line();
        ServeChild { running, base }
    }

    pub fn pid(&self) -> u32 {
        self.running.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET path` -> (status, body as JSON or `Value::Null`).
    pub fn get_json(&self, path: &str) -> (u16, Value) {
        get_json(&self.base, path)
    }

    /// POSTs [`valid_report`] for `team` -> (status, body as JSON).
    pub fn post_for(&self, team: &str) -> (u16, Value) {
        post_report(&super::agent(), &self.base, team)
    }

    /// The stderr lines that come before `quiet` passes without one.
    pub fn stderr_so_far(&mut self, quiet: Duration) -> Vec<String> {
        while self.running.stderr.next_within(quiet).is_some() {}
        self.running.stderr.seen.clone()
    }
}

/// The valid report most tests send.
pub fn valid_report() -> Vec<u8> {
    std::fs::read(super::fixture("valid/minimal-12-buckets.json")).unwrap()
}

/// `GET base + path` -> (status, body as JSON or `Value::Null`).
pub fn get_json(base: &str, path: &str) -> (u16, Value) {
    let response = super::agent()
        .get(&format!("{base}{path}"))
        .call()
        .expect("GET reaches the server");
    status_and_json(response)
}

/// POSTs [`valid_report`] for `team` through `agent` -> (status, body as JSON).
pub fn post_report(agent: &ureq::Agent, base: &str, team: &str) -> (u16, Value) {
    let response = agent
        .post(&format!("{base}/api/stats/report"))
        .header("X-Team-ID", team)
        .header("Content-Type", "application/json")
        .send(&valid_report()[..])
        .expect("POST reaches the server");
    status_and_json(response)
}

fn status_and_json(mut response: ureq::http::Response<ureq::Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Runs `command` (stdin null) to its end, killing it after `limit`; its output as
/// lines joined by `\n`; `None` when it had to be killed.
pub fn run_bounded(command: &mut Command, limit: Duration) -> Option<Output> {
    let mut running = Running::spawn(command.stdin(Stdio::null()));
    let status = running.wait(limit)?;
    let text = |lines: &[String]| lines.join("\n").into_bytes();
    let stdout = text(running.stdout.read_to_end(PATIENCE));
    let stderr = text(running.stderr.read_to_end(PATIENCE));
    Some(Output {
        status,
        stdout,
        stderr,
    })
}

/// Waits until `check` holds, at most [`PATIENCE`]; panics with `what` otherwise.
pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        if Instant::now() >= deadline {
            panic!("{what}: not within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a directory tree holds: each path (relative), its kind and its bytes (the
/// target of a link); for "changes nothing" checks.
pub fn snapshot(root: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                out.push((name, "dir".into()));
                walk(root, &path, out);
            } else if kind.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.push((name, format!("link -> {}", target.display())));
            } else if kind.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                out.push((name, String::from_utf8_lossy(&bytes).into_owned()));
            } else {
                out.push((name, format!("{kind:?}")));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}
