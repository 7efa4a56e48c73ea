//! `benchboard-demo`'s command line: its arguments and the run (the demo, or `--check`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::parse::parse_duration;
use crate::client::IntervalSpec;
use crate::demo::{DemoOptions, check, run_demo};
use crate::stop::StopSignal;

/// `benchboard-demo`'s command line.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "benchboard-demo",
    version,
    about = "BenchBoard in one command: a server plus simulated teams, with live progress",
    after_help = "Examples:\n  benchboard-demo                      # six teams until Ctrl-C; open the printed URL\n  benchboard-demo --duration 60s --port 8080\n  benchboard-demo --check --server http://localhost:8080   # quick test of a running server; exits 1 on any FAIL\n  benchboard-demo --secure             # registered mode: a token per team, the admin page at /admin"
)]
pub struct DemoArgs {
    /// Port of the demo's server; 0 picks a free one
    #[arg(long, short, default_value_t = 0)]
    pub port: u16,
    /// Number of simulated teams
    #[arg(long, default_value_t = 6)]
    pub teams: usize,
    /// Seconds between two reports of a team: a range such as 2-5, or a value (jittered ±10%)
    #[arg(long, default_value = "2-5")]
    pub interval: IntervalSpec,
    /// Stop by itself after this long (60s, 5m, 90) [default: run until Ctrl-C]
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Keep the temporary data directory at the end (its path is printed)
    #[arg(long)]
    pub keep: bool,
    /// Store the reports in this directory (kept) instead of a temporary one
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Run the quick test instead: send a few reports and read them back through every endpoint (on --server, the check's team stays in its data, named 自检小组)
    #[arg(long)]
    pub check: bool,
    /// With --check: the server to test, http:// or https:// [default: a fresh in-process server]
    #[arg(long, requires = "check")]
    pub server: Option<String>,
    /// With --check --server https://...: trust only the CA certificate(s) in this PEM file (like curl --cacert) [default: the Mozilla roots built in]
    #[arg(
        long,
        env = "BENCHBOARD_CA_CERT",
        value_name = "FILE",
        requires = "server"
    )]
    pub ca_cert: Option<PathBuf>,
    /// Seed of the simulation: the same seed sends the same numbers [default: random]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Registered mode: write a contest file with a random token per team (beside the data
    /// directory, with a tokens file for benchboard-client --tokens) and report with them;
    /// with --check, also check that a report without a token is refused
    #[arg(long, conflicts_with = "server")]
    pub secure: bool,
}

impl DemoArgs {
    /// The demo's settings from these flags (`--check` and `--server` aside).
    pub fn options(&self) -> DemoOptions {
        DemoOptions {
            port: self.port,
            teams: self.teams,
            interval: self.interval,
            duration: self.duration,
            keep: self.keep,
            data_dir: self.data_dir.clone(),
            seed: self.seed,
            secure: self.secure,
        }
    }
}

/// Runs `benchboard-demo`: exit 0 when done (or every check passed), else 1 with an
/// `Error: ...` line or the failed checks.
pub fn run(args: DemoArgs) -> ExitCode {
    match try_run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn try_run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if args.check {
        if let Some(path) = &args.ca_cert {
            crate::client::trust_only_ca_file(path)?;
        }
        let outcome =
            check::run_check(args.server.as_deref(), args.secure, &mut std::io::stdout())?;
        return Ok(if outcome.all_passed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let stop = StopSignal::new();
    let on_signal = stop.clone();
    ctrlc::set_handler(move || on_signal.stop())?;
    run_demo(&args.options(), &stop)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[test]
    fn verify_cli() {
        DemoArgs::command().debug_assert();
    }

    #[test]
    fn server_flag_needs_check() {
        assert!(DemoArgs::try_parse_from(["x", "--server", "http://127.0.0.1:1"]).is_err());
        let args = DemoArgs::try_parse_from(["x", "--duration", "60s"]).unwrap();
        assert_eq!(args.duration, Some(Duration::from_secs(60)));
        assert_eq!(args.teams, 6);
    }
}
