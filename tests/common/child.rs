//! The one harness for the binaries run as child processes (client, demo, serve):
//! output lines on channels, bounded waits on events, signals, a port held closed.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long a test waits for something that normally takes a moment: generous,
/// because the machine may be loaded; waits end as soon as the event comes.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The lines a stream produces, read by a thread of its own; every line read is kept.
pub struct Lines {
    lines: Receiver<String>,
    /// Every line received so far, in order.
    pub seen: Vec<String>,
}

/// Reads `stream` line by line on a thread of its own.
pub fn lines_of(stream: impl Read + Send + 'static) -> Lines {
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    Lines {
        lines,
        seen: Vec::new(),
    }
}

impl Lines {
    /// The next line, `None` after `limit` or at the end of the stream.
    pub fn next_within(&mut self, limit: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(limit).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// The next line; panics (showing what came) after `limit` or at the end.
    pub fn next(&mut self, limit: Duration) -> String {
        self.next_within(limit)
            .unwrap_or_else(|| panic!("no line within {limit:?}; saw {:#?}", self.seen))
    }

    /// Reads until a line contains `needle`; panics after `limit` or at the end.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    panic!(
                        "no line with {needle:?} within {limit:?}; saw {:#?}",
                        self.seen
                    )
                }
            }
        }
    }

    /// Reads the rest of the stream (until its writer closes it), `limit` at most.
    pub fn read_to_end(&mut self, limit: Duration) -> &[String] {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => return &self.seen,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "the stream did not end within {limit:?}; saw {:#?}",
                        self.seen
                    )
                }
            }
        }
    }

    /// Everything seen so far, one line each.
    pub fn text(&self) -> String {
        self.seen.join("\n")
    }
}

/// A running binary with its stdout and stderr on [`Lines`]; killed on drop.
pub struct Running {
    pub child: Child,
    pub stdout: Lines,
    pub stderr: Lines,
}

impl Running {
    /// Spawns `command` with stdout and stderr piped (stdin null unless set).
    pub fn spawn(command: &mut Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = lines_of(child.stdout.take().expect("stdout is piped"));
        let stderr = lines_of(child.stderr.take().expect("stderr is piped"));
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// `program args...` with stdin null.
    pub fn start(program: &str, args: &[&str]) -> Running {
        Running::spawn(Command::new(program).args(args).stdin(Stdio::null()))
    }

    /// The exit status, or `None` while still running after `limit`.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("polling the child") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the exit (panics after `limit`) and reads the rest of both streams.
    pub fn finish(&mut self, limit: Duration) -> ExitStatus {
        let status = self.wait(limit).unwrap_or_else(|| {
            panic!(
                "{:?} still runs after {limit:?}; stdout: {:#?}",
                self.child.id(),
                self.stdout.seen
            )
        });
        self.stdout.read_to_end(PATIENCE);
        self.stderr.read_to_end(PATIENCE);
        status
    }

    /// Sends a signal by name (`INT`, `TERM`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// The `http://host:port` in the next stdout line (servers print their URL first).
    pub fn url_from_first_line(&mut self) -> String {
        let first = self.stdout.next_within(PATIENCE).unwrap_or_else(|| {
            let errors: Vec<String> = self.stderr.lines.try_iter().collect();
            panic!("no first line from the child; stderr: {errors:?}")
        });
        first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("the first line has no URL: {first:?}"))
            .trim_end_matches('/')
            .to_string()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `program args...` to its end ([`PATIENCE`] at most) with `stdin` as input.
pub fn run_to_end(program: &str, args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut running = Running::spawn(Command::new(program).args(args).stdin(Stdio::piped()));
    running
        .child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin)
        .expect("writing the child's stdin");
    let status = running.finish(PATIENCE);
    std::process::Output {
        status,
        stdout: running.stdout.text().into_bytes(),
        stderr: running.stderr.text().into_bytes(),
    }
}

/// A port on 127.0.0.1 held by a socket that is bound but not listening: connecting
/// is refused, and no other test can take the port while this lives.
pub struct ClosedPort {
    socket: socket2::Socket,
    pub addr: SocketAddr,
}

impl ClosedPort {
    pub fn new() -> ClosedPort {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
        let any: SocketAddr = "127.0.0.1:0".parse().expect("an address");
        socket.bind(&any.into()).expect("binding port 0");
        let addr = socket
            .local_addr()
            .expect("local address")
            .as_socket()
            .expect("an IP address");
        ClosedPort { socket, addr }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts listening on the port: from now on connections are accepted.
    pub fn listen(self) -> TcpListener {
        self.socket.listen(128).expect("listening on the held port");
        self.socket.into()
    }
}
