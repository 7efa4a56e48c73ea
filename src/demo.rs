//! `benchboard-demo`: a server and simulated teams in one process, with live progress;
//! and `--check`, the quick test that reads reports back through every endpoint.
//!
//! [`run_demo`] starts a [`Server`] on 127.0.0.1 (a free port unless `--port`), on a
//! fresh temporary data directory (removed at the end unless `--keep` or
//! `--data-dir`), starts a [`Fleet`](crate::client::Fleet) of simulated teams
//! reporting to it and shows their progress until `--duration` is over or the
//! [`StopSignal`] is raised (Ctrl-C). [`check::run_check`] is `--check`.

pub mod check;
pub mod progress;
pub mod secure;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

use crate::client::{
    Fleet, IntervalSpec, ReportSender, RetryPolicy, Schedule, Tokens, simulated_teams, start_fleet,
};
use crate::server::{Config, Server, StartupError};
use crate::simulate::SimulatedTeam;
use crate::stop::StopSignal;
use progress::{BarProgress, LineProgress, Progress, TeamTally};

/// Why the demo cannot run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The server did not start (port taken, data directory unusable, ...).
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The temporary data directory cannot be created.
    #[error("cannot create a temporary data directory: {0} (give one with --data-dir)")]
    TempDir(std::io::Error),
    /// A flag is out of range.
    #[error("{0}")]
    Usage(String),
    /// `--server` is not a usable URL.
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
}

/// What to run: the demo's settings, as `benchboard-demo`'s flags give them.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Port of the demo's server; 0 picks a free one.
    pub port: u16,
    /// Number of simulated teams (1 to 100).
    pub teams: usize,
    /// Wait between two reports of a team.
    pub interval: IntervalSpec,
    /// Stop by itself after this long; `None` runs until stopped.
    pub duration: Option<Duration>,
    /// Keep the temporary data directory at the end.
    pub keep: bool,
    /// Store the reports here (kept) instead of in a temporary directory.
    pub data_dir: Option<PathBuf>,
    /// Seed of the simulation; `None` picks one at random.
    pub seed: Option<u64>,
    /// Registered mode: a contest file with a token per team ([`secure`]).
    pub secure: bool,
}

/// What a demo did, for the closing summary.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// How long the teams ran.
    pub ran_for: Duration,
    /// Per team: id, name, profile and counts.
    pub teams: Vec<TeamTally>,
    /// True when the progress bars (still on screen) already show each team's counts.
    pub bars_shown: bool,
}

impl DemoSummary {
    /// Reports stored, all teams together.
    pub fn reports(&self) -> u64 {
        self.teams.iter().map(|t| t.reports).sum()
    }
}

/// Where the demo's reports go.
enum DataDir {
    Temporary(tempfile::TempDir),
    Given(PathBuf),
}

impl DataDir {
    fn path(&self) -> PathBuf {
        match self {
            DataDir::Temporary(temp) => temp.path().join("data"),
            DataDir::Given(path) => path.clone(),
        }
    }
}

/// Runs the demo until `args.duration` is over or `stop` is raised; prints to stdout.
pub fn run_demo(args: &DemoOptions, stop: &StopSignal) -> Result<DemoSummary, DemoError> {
    if args.teams == 0 || args.teams > 100 {
        return Err(DemoError::Usage("--teams must be from 1 to 100".into()));
    }
    let data = match &args.data_dir {
        Some(dir) => DataDir::Given(dir.clone()),
        None => DataDir::Temporary(
            tempfile::Builder::new()
                .prefix("benchboard-demo-")
                .tempdir()
                .map_err(DemoError::TempDir)?,
        ),
    };
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    let teams = simulated_teams(args.teams, "team", None, seed);
    let secure = match args.secure {
        true => Some(secure_contest(&data, &teams)?),
        false => None,
    };
    let server = Server::bind(Config {
        host: "127.0.0.1".into(),
        port: args.port,
        data_dir: data.path(),
        contest: secure.as_ref().map(|s| s.file.clone()),
        ..Config::default()
    })?;
    print_banner(args, &server, &data);
    if let Some(secure) = &secure {
        print_secure(secure, &server.url());
    }
    let base = server.url();
    let shutdown = server.shutdown_handle();
    let server_thread = std::thread::spawn(move || server.run());

    let tokens = secure.map_or(Tokens::None, |s| Tokens::PerTeam(s.tokens));
    let summary = run_fleet(args, &base, teams, tokens, stop);

    shutdown.shutdown();
    let _ = server_thread.join();
    print_summary(&summary);
    finish_data_dir(data, args.keep);
    Ok(summary)
}

fn print_banner(args: &DemoOptions, server: &Server, data: &DataDir) {
    // The first line has the same shape as benchboard-serve's: scripts and tests read it.
    println!("BenchBoard listening on {}", server.url());
    println!("dashboard: {}  (open it in a browser)", server.url());
    let fate = match data {
        DataDir::Temporary(_) if !args.keep => "removed at the end; --keep keeps it",
        _ => "kept",
    };
    println!("data directory: {} ({fate})", data.path().display());
    let until = match args.duration {
        Some(d) => format!("for {}", humantime::format_duration(d)),
        None => "until Ctrl-C".to_string(),
    };
    println!(
        "{} simulated teams report every {:.1}-{:.1} s, {until}",
        args.teams,
        args.interval.min.as_secs_f64(),
        args.interval.max.as_secs_f64()
    );
}

/// Writes the `--secure` contest file beside the data directory.
fn secure_contest(
    data: &DataDir,
    teams: &[SimulatedTeam],
) -> Result<secure::SecureContest, DemoError> {
    let data_path = data.path();
    let dir = data_path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(DemoError::TempDir)?;
    let ids: Vec<(String, String)> = teams
        .iter()
        .map(|t| (t.id.clone(), t.name.clone()))
        .collect();
    secure::write_secure_contest(dir, &ids).map_err(DemoError::Usage)
}

fn print_secure(secure: &secure::SecureContest, url: &str) {
    println!(
        "registered mode: contest file {} (token digests only); team tokens in {}",
        secure.contest_path.display(),
        secure.tokens_path.display()
    );
    println!(
        "admin page: {url}admin  admin token: {}",
        secure.admin_token
    );
}

/// Runs the simulated teams against `base` and shows their progress.
fn run_fleet(
    args: &DemoOptions,
    base: &str,
    teams: Vec<SimulatedTeam>,
    tokens: Tokens,
    stop: &StopSignal,
) -> DemoSummary {
    let sender = ReportSender::new(base, Duration::from_secs(10))
        .expect("the demo server's own URL is a valid http:// URL")
        .with_tokens(tokens);
    let schedule = Schedule {
        interval: args.interval,
        count: None,
    };
    // The teams' stop is separate from Ctrl-C's so that --duration can end them too.
    let teams_stop = StopSignal::new();
    let fleet = start_fleet(
        Arc::new(sender),
        teams,
        schedule,
        RetryPolicy::default(),
        teams_stop.clone(),
    );
    let bars_shown = std::io::stdout().is_terminal();
    let mut progress: Box<dyn Progress> = if bars_shown {
        Box::new(BarProgress::new(&fleet.teams))
    } else {
        Box::new(LineProgress::new(&fleet.teams))
    };
    let started = Instant::now();
    let deadline = args.duration.and_then(|d| started.checked_add(d));
    follow(&fleet, progress.as_mut(), stop, deadline);
    teams_stop.stop();
    for update in fleet.join() {
        progress.update(&update);
    }
    progress.finish();
    DemoSummary {
        ran_for: started.elapsed(),
        teams: progress.tallies(),
        bars_shown,
    }
}

/// Feeds updates to `progress` until the deadline, a stop, or every team finished.
fn follow(
    fleet: &Fleet,
    progress: &mut dyn Progress,
    stop: &StopSignal,
    deadline: Option<Instant>,
) {
    const POLL: Duration = Duration::from_millis(100);
    loop {
        let now = Instant::now();
        if stop.is_stopped() || deadline.is_some_and(|d| now >= d) {
            return;
        }
        let wait = deadline.map_or(POLL, |d| (d - now).min(POLL));
        match fleet.next_update(wait) {
            Ok(update) => progress.update(&update),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn print_summary(summary: &DemoSummary) {
    let failures: u64 = summary.teams.iter().map(|t| t.failures).sum();
    println!(
        "stopped after {:.1} s: {} reports stored from {} teams, {failures} failed attempts",
        summary.ran_for.as_secs_f64(),
        summary.reports(),
        summary.teams.iter().filter(|t| t.reports > 0).count(),
    );
    if summary.bars_shown {
        return;
    }
    let width = summary
        .teams
        .iter()
        .map(|t| console::measure_text_width(&t.label()))
        .max()
        .unwrap_or(0);
    for team in &summary.teams {
        let label = team.label();
        let padded = console::pad_str(&label, width, console::Alignment::Left, None);
        println!("  {padded}  {}", team.counts());
    }
}

fn finish_data_dir(data: DataDir, keep: bool) {
    match data {
        DataDir::Temporary(temp) if keep => {
            println!("data kept in {}", temp.keep().join("data").display());
        }
        DataDir::Temporary(temp) => {
            let path = temp.path().to_path_buf();
            match temp.close() {
                Ok(()) => println!("data directory removed: {}", path.display()),
                Err(e) => eprintln!("could not remove {}: {e}", path.display()),
            }
        }
        DataDir::Given(path) => println!("data kept in {}", path.display()),
    }
}
