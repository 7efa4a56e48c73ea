//! `benchboard-client`'s command line: its arguments, the run (a report file or
//! simulated teams) and the lines it prints.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;

use super::import::{self, Destination, PushArgs, WatchArgs};
use super::parse::parse_duration;
use crate::client::{
    Backoff, ClientError, DEFAULT_SERVER, DeliveryError, Fleet, IntervalSpec, ReportSender,
    RetryPolicy, Schedule, SendError, TeamEvent, Tokens, send_with_retry, simulated_teams,
    start_fleet,
};
use crate::simulate::{Profile, SimulatedTeam, default_team_name};
use crate::stop::StopSignal;
use crate::team;

/// Why `benchboard-client` cannot start (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ClientUsageError {
    /// `--server` is not an http(s) URL, or `--ca-cert` is unusable.
    #[error(transparent)]
    Server(#[from] ClientError),
    /// A flag is out of range or contradicts another.
    #[error("{0}")]
    Usage(String),
    /// The report file cannot be read.
    #[error("cannot read {path}: {reason}")]
    ReadFile { path: String, reason: String },
}

/// Exit codes of `benchboard-client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientExit {
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
    about = "Sends load-test reports to a BenchBoard server: simulated teams, one report file, or a load tool's own output (push, watch)",
    after_help = "Examples:\n  benchboard-client --team-id team1 --team-name 第一小组 --interval 5\n  benchboard-client --teams 6 --interval 2-5 --server http://localhost:8080\n  benchboard-client --team-id team1 --file report.json\n  benchboard-client push --format oha --team-id team1 result.json\n  benchboard-client watch --format k6-ndjson --team-id team1 out.json\n\nExit codes: 0 done (or stopped with Ctrl-C), 1 a report was refused (the server's message is shown) or given up on, 2 bad usage, an unreadable file, or a tool output that is not the format."
)]
pub struct ClientArgs {
    /// Send a load tool's output instead of simulating (see push --help, watch --help)
    #[command(subcommand)]
    pub command: Option<ClientCommand>,
    /// Team id (X-Team-ID); with --teams, the prefix of the ids (<id>1..<id>N) [default: team1, or team with --teams]
    #[arg(long, global = true)]
    pub team_id: Option<String>,
    /// Team name (sent percent-encoded in X-Team-Name); with --teams, "<name> N" [default: 第一小组, 第二小组, ...]
    #[arg(long, global = true)]
    pub team_name: Option<String>,
    /// Server to report to
    #[arg(long, global = true, env = "BENCHBOARD_SERVER", default_value = DEFAULT_SERVER)]
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
    /// Attempts per report before giving up on it [default: unlimited; 5 with --file and push; 1 per watch push]
    #[arg(long, global = true)]
    pub max_attempts: Option<u32>,
    /// Seconds a request may take before it counts as failed
    #[arg(long, global = true, default_value = "10", value_parser = parse_duration)]
    pub timeout: Duration,
    /// For an https:// server: trust only the CA certificate(s) in this PEM file (like curl --cacert) [default: the Mozilla roots built in]
    #[arg(long, env = "BENCHBOARD_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Seed of the simulation: the same seed sends the same numbers [default: random]
    #[arg(long)]
    pub seed: Option<u64>,
    /// The team's token for a server in registered mode (sent as Authorization: Bearer)
    #[arg(
        long,
        env = "BENCHBOARD_TOKEN",
        hide_env_values = true,
        conflicts_with = "tokens"
    )]
    pub token: Option<String>,
    /// A file of tokens for --teams N: one "TEAM_ID TOKEN" per line (benchboard-demo --secure writes one)
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
}

/// A load tool's output to send (`push`) or follow (`watch`).
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ClientCommand {
    /// Convert a load tool's output (k6, Locust, oha, vegeta, wrk, JMeter, Gatling) and send it as the team's report
    Push(PushArgs),
    /// Follow a file a load tool is writing (k6 --out json, Locust _stats_history.csv, JMeter JTL) and push the cumulative report every --interval
    Watch(WatchArgs),
}

/// Runs `benchboard-client` until its reports are sent or Ctrl-C; the exit code is a [`ClientExit`].
pub fn run(args: ClientArgs) -> std::process::ExitCode {
    let stop = StopSignal::new();
    let on_signal = stop.clone();
    // watch sends a last report after Ctrl-C: one attempt, within --timeout.
    let grace = match args.command {
        Some(ClientCommand::Watch(_)) => args.timeout + Duration::from_secs(3),
        _ => Duration::from_millis(500),
    };
    let handler = move || {
        on_signal.stop();
        // Teams stop at once; a request still in flight is not waited for (up to
        // --timeout): past a short grace the process ends, as "stopped with Ctrl-C".
        std::thread::spawn(move || {
            std::thread::sleep(grace);
            println!("stopped: the request in flight was abandoned");
            std::process::exit(0);
        });
    };
    if let Err(e) = ctrlc::set_handler(handler) {
        eprintln!("Error: cannot handle Ctrl-C: {e}");
        return std::process::ExitCode::from(ClientExit::Usage as u8);
    }
    std::process::ExitCode::from(run_client(args, &stop) as u8)
}

/// Runs `benchboard-client` until done or `stop`; lines go to stdout, failures to stderr.
pub fn run_client(args: ClientArgs, stop: &StopSignal) -> ClientExit {
    match try_run_client(args, stop) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e}");
            ClientExit::Usage
        }
    }
}

fn try_run_client(args: ClientArgs, stop: &StopSignal) -> Result<ClientExit, ClientUsageError> {
    if args.teams == 0 || args.teams > 1000 {
        return Err(ClientUsageError::Usage(
            "--teams must be from 1 to 1000".to_string(),
        ));
    }
    if args.max_attempts == Some(0) {
        return Err(ClientUsageError::Usage(
            "--max-attempts must be at least 1".to_string(),
        ));
    }
    if let Some(path) = &args.ca_cert {
        crate::client::trust_only_ca_file(path)?;
    }
    let sender = ReportSender::new(&args.server, args.timeout)?.with_tokens(tokens_of(&args)?);
    if let Some(command) = &args.command {
        simulation_flags_unused(&args)?;
        let team_id = checked_team_id(args.team_id.as_deref().unwrap_or("team1"))?;
        let to = Destination {
            sender: &sender,
            team_id: &team_id,
            team_name: args.team_name.as_deref(),
            max_attempts: args.max_attempts,
        };
        return match command {
            ClientCommand::Push(push) => import::push(push, &to, stop),
            ClientCommand::Watch(watch) => import::run_watch(watch, &to, stop),
        };
    }
    match &args.file {
        Some(path) => send_file(&sender, &args, path, stop),
        None => simulate(sender, &args, stop),
    }
}

/// `push` and `watch` send one team's tool output: the simulation's flags mean nothing
/// there (watch has its own --interval, after the command).
fn simulation_flags_unused(args: &ClientArgs) -> Result<(), ClientUsageError> {
    let default_interval: IntervalSpec = "5".parse().expect("the default interval parses");
    let used = [
        ("--teams", args.teams != 1),
        ("--count", args.count.is_some()),
        ("--file", args.file.is_some()),
        ("--seed", args.seed.is_some()),
        (
            "--interval (before the command)",
            args.interval != default_interval,
        ),
    ];
    match used.iter().find(|(_, used)| *used) {
        Some((flag, _)) => Err(ClientUsageError::Usage(format!(
            "{flag} is for simulated teams and report files, not for push or watch"
        ))),
        None => Ok(()),
    }
}

/// The tokens given by --token or --tokens.
fn tokens_of(args: &ClientArgs) -> Result<Tokens, ClientUsageError> {
    if let Some(token) = &args.token {
        return Ok(Tokens::One(token.trim().to_string()));
    }
    let Some(path) = &args.tokens else {
        return Ok(Tokens::None);
    };
    let unreadable = |reason: String| ClientUsageError::ReadFile {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
    Tokens::parse_file(&text).map_err(unreadable)
}

/// Checks a team id given on the command line.
fn checked_team_id(id: &str) -> Result<String, ClientUsageError> {
    team::TeamId::parse(id)
        .map(|id| id.to_string())
        .map_err(|e| ClientUsageError::Usage(format!("--team-id {id:?}: {e}")))
}

fn send_file(
    sender: &ReportSender,
    args: &ClientArgs,
    path: &std::path::Path,
    stop: &StopSignal,
) -> Result<ClientExit, ClientUsageError> {
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
            ClientExit::Done
        }
        Err(DeliveryError::Stopped) => {
            println!("stopped: report {} not delivered", path.display());
            ClientExit::Done
        }
        Err(e) => {
            eprintln!("{team_id}: {e}");
            ClientExit::Failed
        }
    })
}

/// Reads a report file, or stdin for `-`.
fn read_report(path: &std::path::Path) -> Result<Vec<u8>, ClientUsageError> {
    let mut body = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut body)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut body))
    };
    read.map_err(|e| ClientUsageError::ReadFile {
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
) -> Result<ClientExit, ClientUsageError> {
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

fn single_team(args: &ClientArgs, id: &str) -> Result<Vec<SimulatedTeam>, ClientUsageError> {
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
) -> Result<ClientExit, ClientUsageError> {
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
        return Ok(ClientExit::Done);
    }
    fleet.join();
    println!(
        "done: {} report(s) stored, {} refused, {} given up",
        tally.sent, tally.refused, tally.gave_up
    );
    Ok(if tally.refused + tally.gave_up > 0 {
        ClientExit::Failed
    } else {
        ClientExit::Done
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
    fn file_conflicts_with_simulation_flags() {
        let parsed = ClientArgs::try_parse_from(["x", "--file", "r.json", "--teams", "3"]);
        assert!(parsed.is_err());
    }
}
