//! `benchboard-serve` and `benchboard-history` as child processes with bounded waits,
//! optionally under resource limits (`setrlimit` in the child before it runs).

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a test waits for what normally takes a moment (the machine may be loaded).
pub const PATIENCE: Duration = Duration::from_secs(60);

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

/// The lines a stream produces, read on a thread of its own.
pub fn lines_of(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// A running `benchboard-serve`; killed on drop.
pub struct ServeChild {
    pub child: Child,
    /// `http://127.0.0.1:<port>`, read from its first line.
    pub base: String,
    pub stderr: Receiver<String>,
}

impl ServeChild {
    /// Starts `command` and waits (at most [`PATIENCE`]) for the URL it prints.
    pub fn start(command: &mut Command) -> ServeChild {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("benchboard-serve starts");
        let stdout = lines_of(child.stdout.take().expect("piped"));
        let stderr = lines_of(child.stderr.take().expect("piped"));
        let first = match stdout.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let errors: Vec<String> = stderr.try_iter().collect();
                panic!("benchboard-serve printed no URL within {PATIENCE:?}: {errors:#?}");
            }
        };
        let url = first
            .strip_prefix("BenchBoard listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        ServeChild {
            child,
            base: url.trim_end_matches('/').to_string(),
            stderr,
        }
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

    /// Every stderr line until the stream ends or `quiet` passes without one.
    pub fn stderr_so_far(&self, quiet: Duration) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(quiet) {
            lines.push(line);
        }
        lines
    }
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// Runs `command` to its end, killing it after `limit`; `None` when it had to be killed.
pub fn run_bounded(command: &mut Command, limit: Duration) -> Option<Output> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("polling the child") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    status.map(|status| Output {
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
