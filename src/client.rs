//! Sending reports to a server: one given report, or simulated teams on a schedule.
//!
//! [`ReportSender`] POSTs a body to `/api/stats/report` with `X-Team-ID` and the
//! percent-encoded `X-Team-Name`, as the original `test_client.py` does.
//! [`send_with_retry`] retries a server that is down or answers 5xx with a growing
//! [`Backoff`]; a 4xx refusal is final. [`start_fleet`] runs [`SimulatedTeam`]s, each
//! on its own thread and schedule, and reports what happens as [`Update`]s on a
//! channel, which `benchboard-client` prints and `benchboard-demo` shows as progress bars.

use std::io::Read;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use serde_json::Value;

use crate::simulate::{Profile, SimulatedTeam, default_team_name};
use crate::team;

/// The server of the original tools' examples.
pub const DEFAULT_SERVER: &str = "http://localhost:8080";

/// Why a client cannot start (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `--server` is not a plain `http://host:port` URL.
    #[error(
        "--server {0:?} is not an http:// URL; write it as http://HOST:PORT (https is not supported)"
    )]
    BadServer(String),
    /// A flag is out of range or contradicts another.
    #[error("{0}")]
    Usage(String),
    /// The report file cannot be read.
    #[error("cannot read {path}: {reason}")]
    ReadFile { path: String, reason: String },
}

/// Why one attempt to send a report failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// The server answered 4xx: the report itself is wrong; sending it again won't help.
    #[error("refused ({status}): {message}")]
    Refused { status: u16, message: String },
    /// The server answered 5xx (or 408/429): it may accept the report later.
    #[error("server error ({status}): {message}")]
    Server { status: u16, message: String },
    /// No answer: the server is down, unreachable or too slow.
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
}

impl SendError {
    /// True when sending the same report again may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, SendError::Refused { .. })
    }
}

/// Checks a server URL and returns it without a trailing slash; `host:port` gets `http://`.
pub fn normalize_server(url: &str) -> Result<String, ClientError> {
    let trimmed = url.trim();
    let rest = match trimmed.split_once("://") {
        Some(("http", rest)) => rest,
        Some(_) => return Err(ClientError::BadServer(url.to_string())),
        None => trimmed,
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(ClientError::BadServer(url.to_string()));
    }
    Ok(format!("http://{rest}"))
}

/// POSTs reports to one server.
pub struct ReportSender {
    agent: ureq::Agent,
    base: String,
}

impl ReportSender {
    /// A sender to `server` (`http://host:port`); each request gives up after `timeout`.
    pub fn new(server: &str, timeout: Duration) -> Result<ReportSender, ClientError> {
        let base = normalize_server(server)?;
        Ok(ReportSender {
            agent: http_agent(timeout),
            base,
        })
    }

    /// The server's base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one report body for a team; `Ok` once the server has stored it.
    pub fn send(
        &self,
        team_id: &str,
        team_name: Option<&str>,
        body: &[u8],
    ) -> Result<(), SendError> {
        let url = format!("{}/api/stats/report", self.base);
        let mut request = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("X-Team-ID", team_id);
        if let Some(name) = team_name {
            request = request.header("X-Team-Name", team::encode_team_name(name));
        }
        let mut response = request.send(body).map_err(|e| SendError::Unreachable {
            url: url.clone(),
            reason: describe_transport_error(&e),
        })?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let message = error_message(&text);
        match status {
            408 | 429 | 500.. => Err(SendError::Server { status, message }),
            _ => Err(SendError::Refused { status, message }),
        }
    }
}

/// An HTTP agent that returns 4xx/5xx as responses and gives up after `timeout`.
pub fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// A short reason for a transport failure ("connection refused", "timed out", ...).
fn describe_transport_error(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::Timeout(_) => "no answer in time (timed out)".to_string(),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        other => other.to_string(),
    }
}

/// The server's message: `error` of a JSON body, else the body's first line.
pub fn error_message(body: &str) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body)
        && let Some(Value::String(message)) = map.get("error")
    {
        return message.clone();
    }
    let line = body.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        "(empty answer)".to_string()
    } else {
        line.chars().take(200).collect()
    }
}

/// A stop request that wakes every waiting thread at once (Ctrl-C, end of a demo).
#[derive(Clone, Default)]
pub struct StopSignal {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl StopSignal {
    /// A signal not yet raised.
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Raises the signal; every [`wait`](StopSignal::wait) returns at once.
    pub fn stop(&self) {
        let (lock, condvar) = &*self.inner;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        condvar.notify_all();
    }

    /// True once [`stop`](StopSignal::stop) was called.
    pub fn is_stopped(&self) -> bool {
        *self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps for `duration` or until stopped; returns true when stopped.
    pub fn wait(&self, duration: Duration) -> bool {
        let guard = self.inner.0.lock().unwrap_or_else(|e| e.into_inner());
        self.wait_locked(guard, duration)
    }

    /// [`wait`](StopSignal::wait) with the flag's lock already held: the lock is given
    /// up only once the thread waits, so a test can raise the signal for certain after.
    fn wait_locked(&self, guard: std::sync::MutexGuard<'_, bool>, duration: Duration) -> bool {
        let (guard, _) = self
            .inner
            .1
            .wait_timeout_while(guard, duration, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

/// Waits between attempts: `first`, doubled each time up to `max`, with ±20% jitter.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Wait after the first failure.
    pub first: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            first: Duration::from_millis(500),
            max: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: u32, rng: &mut fastrand::Rng) -> Duration {
        let doubled = self
            .first
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        doubled.min(self.max).mul_f64(0.8 + 0.4 * rng.f64())
    }
}

/// How hard to try one report.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryPolicy {
    /// Waits between attempts.
    pub backoff: Backoff,
    /// Attempts before giving up on a report; `None` keeps trying until stopped.
    pub max_attempts: Option<u32>,
}

/// Why [`send_with_retry`] did not deliver a report.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    /// The server refused the report (4xx); the message is the server's.
    #[error("{0}")]
    Refused(SendError),
    /// Every allowed attempt failed; the last error is kept.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: SendError },
    /// Stopped (Ctrl-C) while waiting to retry.
    #[error("stopped before the report was delivered")]
    Stopped,
}

/// Sends a report, retrying retryable failures with backoff; `on_retry(error,
/// attempt, wait)` is called before each wait. Returns the number of attempts made.
pub fn send_with_retry(
    sender: &ReportSender,
    team_id: &str,
    team_name: Option<&str>,
    body: &[u8],
    policy: &RetryPolicy,
    stop: &StopSignal,
    mut on_retry: impl FnMut(&SendError, u32, Duration),
) -> Result<u32, DeliveryError> {
    let mut rng = fastrand::Rng::new();
    for attempt in 1.. {
        let error = match sender.send(team_id, team_name, body) {
            Ok(()) => return Ok(attempt),
            Err(e) if !e.is_retryable() => return Err(DeliveryError::Refused(e)),
            Err(e) => e,
        };
        if policy.max_attempts.is_some_and(|max| attempt >= max) {
            return Err(DeliveryError::GaveUp {
                attempts: attempt,
                last: error,
            });
        }
        let wait = policy.backoff.delay(attempt, &mut rng);
        on_retry(&error, attempt, wait);
        if stop.wait(wait) {
            return Err(DeliveryError::Stopped);
        }
    }
    unreachable!("the attempt loop only ends by returning")
}

/// Time between two reports of a team: a value (jittered ±10%) or a range `A-B` (uniform).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalSpec {
    /// Shortest wait.
    pub min: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl IntervalSpec {
    /// One wait, drawn from the spec.
    pub fn pick(&self, rng: &mut fastrand::Rng) -> Duration {
        self.min + (self.max - self.min).mul_f64(rng.f64())
    }
}

impl FromStr for IntervalSpec {
    type Err = String;

    /// Parses seconds: `5`, `0.2` (±10% jitter) or a range `2-5`.
    fn from_str(text: &str) -> Result<IntervalSpec, String> {
        let seconds = |part: &str| -> Result<f64, String> {
            part.trim()
                .trim_end_matches('s')
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
                .ok_or_else(|| {
                    format!(
                        "{text:?} is not an interval: write seconds > 0 (5, 0.2) or a range (2-5)"
                    )
                })
        };
        let (min, max) = match text.split_once('-') {
            Some((a, b)) => (seconds(a)?, seconds(b)?),
            None => {
                let s = seconds(text)?;
                (s * 0.9, s * 1.1)
            }
        };
        if min > max {
            return Err(format!("{text:?}: the range must go from low to high"));
        }
        Ok(IntervalSpec {
            min: Duration::from_secs_f64(min),
            max: Duration::from_secs_f64(max),
        })
    }
}

/// When simulated teams report.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Wait between two reports of one team.
    pub interval: IntervalSpec,
    /// Reports per team; `None` runs until stopped.
    pub count: Option<u64>,
}

/// Who a simulated team is, for display.
#[derive(Debug, Clone)]
pub struct TeamInfo {
    pub id: String,
    pub name: String,
    pub profile: Profile,
}

/// Something that happened to one team of a fleet.
#[derive(Debug, Clone, PartialEq)]
pub enum TeamEvent {
    /// Report number `number` (1-based) was stored by the server.
    Sent {
        number: u64,
        /// `avgCompletedQPS` of the report.
        completed_qps: f64,
        /// `totalErrors` of the report.
        errors: u64,
    },
    /// An attempt failed; the next comes after `retry_in`.
    Retrying {
        attempt: u32,
        error: SendError,
        retry_in: Duration,
    },
    /// The server refused a report; this team stops.
    Refused { message: String },
    /// A report was dropped after its allowed attempts; the team carries on.
    GaveUp { error: String },
    /// The team sent its last report (or was stopped).
    Finished,
}

/// One event of the team at index `team` of the fleet.
#[derive(Debug, Clone)]
pub struct Update {
    pub team: usize,
    pub event: TeamEvent,
}

/// Simulated teams reporting on their own threads.
pub struct Fleet {
    /// The teams, in index order.
    pub teams: Vec<TeamInfo>,
    events: Receiver<Update>,
    threads: Vec<JoinHandle<()>>,
}

impl Fleet {
    /// The next update, waiting up to `timeout`; `Err(Disconnected)` once every team finished.
    pub fn next_update(&self, timeout: Duration) -> Result<Update, RecvTimeoutError> {
        self.events.recv_timeout(timeout)
    }

    /// Waits for every team thread (stop them first, or let their count run out) and
    /// returns the updates not yet read.
    pub fn join(self) -> Vec<Update> {
        for thread in self.threads {
            let _ = thread.join();
        }
        self.events.try_iter().collect()
    }
}

/// `count` simulated teams: ids `<prefix>1..`, names `<name> N` (or 第N小组), profiles in turn.
pub fn simulated_teams(
    count: usize,
    id_prefix: &str,
    name: Option<&str>,
    seed: u64,
) -> Vec<SimulatedTeam> {
    (1..=count)
        .map(|n| {
            let name = match name {
                Some(name) if count == 1 => name.to_string(),
                Some(name) => format!("{name} {n}"),
                None => default_team_name(n),
            };
            let team_seed = seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(n as u64);
            SimulatedTeam::new(
                &format!("{id_prefix}{n}"),
                &name,
                Profile::for_team(n - 1),
                team_seed,
            )
        })
        .collect()
}

/// Starts one thread per team; each sends its first report at once, then one per interval.
pub fn start_fleet(
    sender: Arc<ReportSender>,
    teams: Vec<SimulatedTeam>,
    schedule: Schedule,
    retry: RetryPolicy,
    stop: StopSignal,
) -> Fleet {
    let (events_tx, events) = crossbeam_channel::unbounded();
    let infos = teams
        .iter()
        .map(|t| TeamInfo {
            id: t.id.clone(),
            name: t.name.clone(),
            profile: t.profile,
        })
        .collect();
    let threads = teams
        .into_iter()
        .enumerate()
        .map(|(index, team)| {
            let run = TeamRun {
                index,
                sender: Arc::clone(&sender),
                schedule,
                retry,
                stop: stop.clone(),
                events: events_tx.clone(),
            };
            std::thread::Builder::new()
                .name(format!("team-{}", team.id))
                .spawn(move || run.run(team))
                .expect("spawning a simulated team's thread")
        })
        .collect();
    Fleet {
        teams: infos,
        events,
        threads,
    }
}

/// What one team's thread needs.
struct TeamRun {
    index: usize,
    sender: Arc<ReportSender>,
    schedule: Schedule,
    retry: RetryPolicy,
    stop: StopSignal,
    events: Sender<Update>,
}

impl TeamRun {
    fn emit(&self, event: TeamEvent) {
        // The receiver is gone only when the program is ending anyway.
        let _ = self.events.send(Update {
            team: self.index,
            event,
        });
    }

    fn run(self, mut team: SimulatedTeam) {
        let start = Instant::now();
        let mut rng = fastrand::Rng::new();
        let mut number = 0u64;
        while self.schedule.count.is_none_or(|count| number < count) {
            let first = number == 0;
            if self.stop.is_stopped()
                || (!first && self.stop.wait(self.schedule.interval.pick(&mut rng)))
            {
                break;
            }
            number += 1;
            let report = team.report_at(start.elapsed());
            let body = serde_json::to_vec(&report).expect("a JSON value serializes");
            let delivered = send_with_retry(
                &self.sender,
                &team.id,
                Some(&team.name),
                &body,
                &self.retry,
                &self.stop,
                |error, attempt, retry_in| {
                    self.emit(TeamEvent::Retrying {
                        attempt,
                        error: error.clone(),
                        retry_in,
                    })
                },
            );
            match delivered {
                Ok(_) => self.emit(TeamEvent::Sent {
                    number,
                    completed_qps: report["performanceMetrics"]["avgCompletedQPS"]
                        .as_f64()
                        .unwrap_or(0.0),
                    errors: report["totalErrors"].as_u64().unwrap_or(0),
                }),
                Err(DeliveryError::Refused(e)) => {
                    self.emit(TeamEvent::Refused {
                        message: e.to_string(),
                    });
                    break;
                }
                Err(e @ DeliveryError::GaveUp { .. }) => self.emit(TeamEvent::GaveUp {
                    error: e.to_string(),
                }),
                Err(DeliveryError::Stopped) => break,
            }
        }
        self.emit(TeamEvent::Finished);
    }
}

/// Exit codes of `benchboard-client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Every report was delivered (or the run was stopped with Ctrl-C).
    Done = 0,
    /// A report was refused, or given up on.
    Failed = 1,
    /// Bad command line or unreadable file.
    Usage = 2,
}

/// `benchboard-client`'s command line.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "benchboard-client",
    version,
    about = "Sends load-test reports to a BenchBoard server: simulated teams, or one report file",
    after_help = "Examples:\n  benchboard-client --team-id team1 --team-name 第一小组 --interval 5\n  benchboard-client --teams 6 --interval 2-5 --server http://localhost:8080\n  benchboard-client --team-id team1 --file report.json\n\nExit codes: 0 done (or stopped with Ctrl-C), 1 a report was refused (the server's message is shown) or given up on, 2 bad usage."
)]
pub struct ClientArgs {
    /// Team id (X-Team-ID); with --teams, the prefix of the ids (<id>1..<id>N) [default: team1, or team with --teams]
    #[arg(long)]
    pub team_id: Option<String>,
    /// Team name (sent percent-encoded in X-Team-Name); with --teams, "<name> N" [default: 第一小组, 第二小组, ...]
    #[arg(long)]
    pub team_name: Option<String>,
    /// Server to report to
    #[arg(long, env = "BENCHBOARD_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,
    /// Seconds between two reports of a team: a value (jittered ±10%) or a range such as 2-5
    #[arg(long, default_value = "5")]
    pub interval: IntervalSpec,
    /// Reports per team, then exit [default: until Ctrl-C]
    #[arg(long)]
    pub count: Option<u64>,
    /// Number of simulated teams, each on its own schedule (ids team1..teamN)
    #[arg(long, default_value_t = 1)]
    pub teams: usize,
    /// Send this report file as it is (`-` reads stdin), once, then exit
    #[arg(long, conflicts_with_all = ["teams", "count", "interval"])]
    pub file: Option<PathBuf>,
    /// Attempts per report before giving up on it [default: unlimited; 5 with --file]
    #[arg(long)]
    pub max_attempts: Option<u32>,
    /// Seconds a request may take before it counts as failed
    #[arg(long, default_value = "10", value_parser = crate::server::config::parse_duration)]
    pub timeout: Duration,
    /// Seed of the simulation: the same seed sends the same numbers [default: random]
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Runs `benchboard-client`; lines go to stdout, failures to stderr.
pub fn run_client(args: ClientArgs, stop: &StopSignal) -> ExitCode {
    match try_run_client(args, stop) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::Usage
        }
    }
}

fn try_run_client(args: ClientArgs, stop: &StopSignal) -> Result<ExitCode, ClientError> {
    if args.teams == 0 || args.teams > 1000 {
        return Err(ClientError::Usage(
            "--teams must be from 1 to 1000".to_string(),
        ));
    }
    if args.max_attempts == Some(0) {
        return Err(ClientError::Usage(
            "--max-attempts must be at least 1".to_string(),
        ));
    }
    let sender = ReportSender::new(&args.server, args.timeout)?;
    match &args.file {
        Some(path) => send_file(&sender, &args, path, stop),
        None => simulate(sender, &args, stop),
    }
}

/// Checks a team id given on the command line.
fn checked_team_id(id: &str) -> Result<String, ClientError> {
    team::TeamId::parse(id)
        .map(|id| id.to_string())
        .map_err(|e| ClientError::Usage(format!("--team-id {id:?}: {e}")))
}

fn send_file(
    sender: &ReportSender,
    args: &ClientArgs,
    path: &std::path::Path,
    stop: &StopSignal,
) -> Result<ExitCode, ClientError> {
    let team_id = checked_team_id(args.team_id.as_deref().unwrap_or("team1"))?;
    let body = read_report(path)?;
    let policy = RetryPolicy {
        backoff: Backoff::default(),
        max_attempts: Some(args.max_attempts.unwrap_or(5)),
    };
    let result = send_with_retry(
        sender,
        &team_id,
        args.team_name.as_deref(),
        &body,
        &policy,
        stop,
        |error, attempt, wait| print_retry(&team_id, error, attempt, wait),
    );
    Ok(match result {
        Ok(_) => {
            println!(
                "{team_id}: report {} stored by {}",
                path.display(),
                sender.base()
            );
            ExitCode::Done
        }
        Err(DeliveryError::Stopped) => {
            println!("stopped: report {} not delivered", path.display());
            ExitCode::Done
        }
        Err(e) => {
            eprintln!("{team_id}: {e}");
            ExitCode::Failed
        }
    })
}

/// Reads a report file, or stdin for `-`.
fn read_report(path: &std::path::Path) -> Result<Vec<u8>, ClientError> {
    let mut body = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut body)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut body))
    };
    read.map_err(|e| ClientError::ReadFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(body)
}

fn print_retry(team_id: &str, error: &SendError, attempt: u32, wait: Duration) {
    eprintln!(
        "{team_id}: {error}; attempt {attempt} failed, retrying in {:.1} s",
        wait.as_secs_f64()
    );
}

fn simulate(
    sender: ReportSender,
    args: &ClientArgs,
    stop: &StopSignal,
) -> Result<ExitCode, ClientError> {
    let prefix = match (&args.team_id, args.teams) {
        (Some(id), 1) => return simulate_teams(sender, args, stop, single_team(args, id)?),
        (Some(prefix), _) => prefix.clone(),
        (None, _) => "team".to_string(),
    };
    // The longest id must still be a valid one.
    checked_team_id(&format!("{prefix}{}", args.teams))?;
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    let teams = simulated_teams(args.teams, &prefix, args.team_name.as_deref(), seed);
    simulate_teams(sender, args, stop, teams)
}

fn single_team(args: &ClientArgs, id: &str) -> Result<Vec<SimulatedTeam>, ClientError> {
    let id = checked_team_id(id)?;
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    let name = args
        .team_name
        .clone()
        .unwrap_or_else(|| default_team_name(1));
    Ok(vec![SimulatedTeam::new(&id, &name, Profile::Fast, seed)])
}

fn simulate_teams(
    sender: ReportSender,
    args: &ClientArgs,
    stop: &StopSignal,
    teams: Vec<SimulatedTeam>,
) -> Result<ExitCode, ClientError> {
    println!(
        "Sending reports for {} team(s) to {} every {:.1}-{:.1} s{} (Ctrl-C to stop)",
        teams.len(),
        sender.base(),
        args.interval.min.as_secs_f64(),
        args.interval.max.as_secs_f64(),
        args.count
            .map(|c| format!(", {c} each"))
            .unwrap_or_default(),
    );
    let schedule = Schedule {
        interval: args.interval,
        count: args.count,
    };
    let retry = RetryPolicy {
        backoff: Backoff::default(),
        max_attempts: args.max_attempts,
    };
    let fleet = start_fleet(Arc::new(sender), teams, schedule, retry, stop.clone());
    let tally = print_updates(&fleet, stop);
    if stop.is_stopped() {
        // Ctrl-C: threads in a request finish within --timeout; don't wait for them.
        println!("stopped: {} report(s) stored", tally.sent);
        return Ok(ExitCode::Done);
    }
    fleet.join();
    println!(
        "done: {} report(s) stored, {} refused, {} given up",
        tally.sent, tally.refused, tally.gave_up
    );
    Ok(if tally.refused + tally.gave_up > 0 {
        ExitCode::Failed
    } else {
        ExitCode::Done
    })
}

/// Counts of what a fleet did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    pub sent: u64,
    pub refused: u64,
    pub gave_up: u64,
}

/// Prints one line per update until every team finished or `stop` is raised.
fn print_updates(fleet: &Fleet, stop: &StopSignal) -> Tally {
    let mut tally = Tally::default();
    while !stop.is_stopped() {
        let update = match fleet.next_update(Duration::from_millis(100)) {
            Ok(update) => update,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let team = &fleet.teams[update.team];
        match update.event {
            TeamEvent::Sent {
                number,
                completed_qps,
                errors,
            } => {
                tally.sent += 1;
                println!(
                    "{} ({}): report {number} stored, QPS {completed_qps:.1}, errors {errors}",
                    team.id, team.name
                );
            }
            TeamEvent::Retrying {
                attempt,
                error,
                retry_in,
            } => print_retry(&team.id, &error, attempt, retry_in),
            TeamEvent::Refused { message } => {
                tally.refused += 1;
                eprintln!("{}: report {message}; this team stops", team.id);
            }
            TeamEvent::GaveUp { error } => {
                tally.gave_up += 1;
                eprintln!("{}: {error}; carrying on with the next report", team.id);
            }
            TeamEvent::Finished => {}
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[test]
    fn verify_cli() {
        ClientArgs::command().debug_assert();
    }

    #[test]
    fn parses_intervals() {
        let one: IntervalSpec = "10".parse().unwrap();
        assert_eq!(one.min, Duration::from_secs(9));
        assert_eq!(one.max, Duration::from_secs(11));
        let range: IntervalSpec = "2-5".parse().unwrap();
        assert_eq!(range.min, Duration::from_secs(2));
        assert_eq!(range.max, Duration::from_secs(5));
        for bad in ["0", "-1", "5-2", "x", "nan"] {
            assert!(bad.parse::<IntervalSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn normalizes_server_urls() {
        assert_eq!(
            normalize_server("http://localhost:8080/").unwrap(),
            "http://localhost:8080"
        );
        assert_eq!(
            normalize_server("127.0.0.1:9").unwrap(),
            "http://127.0.0.1:9"
        );
        assert!(normalize_server("https://example.org").is_err());
        assert!(normalize_server("http://").is_err());
    }

    #[test]
    fn backoff_doubles_up_to_max() {
        let backoff = Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(5),
        };
        let mut rng = fastrand::Rng::with_seed(1);
        let d3 = backoff.delay(3, &mut rng);
        assert!(d3 >= Duration::from_millis(3200) && d3 <= Duration::from_millis(4800));
        assert!(backoff.delay(30, &mut rng) <= Duration::from_secs(6));
    }

    #[test]
    fn file_conflicts_with_simulation_flags() {
        let parsed = ClientArgs::try_parse_from(["x", "--file", "r.json", "--teams", "3"]);
        assert!(parsed.is_err());
    }

    #[test]
    fn reads_server_error_message() {
        assert_eq!(
            error_message(r#"{"error": "totalSent: missing"}"#),
            "totalSent: missing"
        );
        assert_eq!(error_message("<html>oops\nmore"), "<html>oops");
    }

    #[test]
    fn stop_signal_wakes_a_thread_already_waiting() {
        let stop = StopSignal::new();
        let (locked, is_locked) = std::sync::mpsc::channel();
        let (woke, has_woken) = std::sync::mpsc::channel();
        let waiter = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let guard = stop.inner.0.lock().unwrap();
                locked.send(()).unwrap();
                woke.send(stop.wait_locked(guard, Duration::from_secs(600)))
                    .unwrap();
            })
        };
        is_locked.recv().unwrap();
        // Takes the lock the waiter holds until it waits: the waiter is surely waiting.
        stop.stop();
        let stopped = has_woken
            .recv_timeout(Duration::from_secs(20))
            .expect("stop() wakes the waiter at once, not after its 600 s");
        assert!(stopped);
        waiter.join().unwrap();
        // Once raised, a wait returns at once.
        let (done, is_done) = std::sync::mpsc::channel();
        let later = stop.clone();
        std::thread::spawn(move || done.send(later.wait(Duration::from_secs(600))));
        assert_eq!(is_done.recv_timeout(Duration::from_secs(20)), Ok(true));
    }
}
