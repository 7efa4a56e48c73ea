//! `benchboard-client push` and `watch`: send what a load tool wrote (k6, Locust,
//! oha, vegeta, wrk, JMeter, Gatling), converted on the client into a report.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};

use super::client::{ClientExit, ClientUsageError};
use super::parse::parse_duration;
use crate::client::watch::{Pushed, WatchConfig, WatchError, WatchEvent, watch};
use crate::client::{Backoff, DeliveryError, ReportSender, RetryPolicy, send_with_retry};
use crate::import::follow::Restart;
use crate::import::{Choice, Format, KindMap, Options, convert_reader};
use crate::stop::StopSignal;

/// Every `--format` value.
fn format_parser() -> impl TypedValueParser<Value = Choice> {
    let mut names = vec!["auto"];
    names.extend(Format::ALL.iter().map(|f| f.name()));
    PossibleValuesParser::new(names).map(|name| name.parse::<Choice>().expect("a listed name"))
}

/// `push`: convert one tool output and send it as the team's report.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  oha -z 30s --output-format json http://target/ | benchboard-client push --format oha --team-id team1 -\n  benchboard-client push --team-id team1 --map 'GET /query=query' results.jtl"
)]
pub struct PushArgs {
    /// What the tool wrote; auto recognises it by content
    #[arg(long, default_value = "auto", value_parser = format_parser())]
    pub format: Choice,
    /// NAME=KIND: requests named NAME (k6 name tag, Locust Name, JMeter label; * for the rest) count as KIND (sensorData, sensorRW, batchRW, query) [default: all sensorData]
    #[arg(long = "map", value_name = "NAME=KIND")]
    pub map: Vec<String>,
    /// The tool's output file; - reads stdin
    pub file: PathBuf,
}

/// `watch`: follow a file the tool is still writing and push the cumulative report.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  k6 run --out json=out.json script.js &  benchboard-client watch --format k6-ndjson --team-id team1 out.json\n  benchboard-client watch --format jtl --interval 2 --team-id team1 results.jtl\n\nThe file may not exist yet; a rotated or truncated file is followed on from its new start. Ctrl-C sends a last report, then stops."
)]
pub struct WatchArgs {
    /// What the tool appends to: k6-ndjson (k6 --out json), locust-history (Locust _stats_history.csv) or jtl (JMeter -l)
    #[arg(long, value_parser = PossibleValuesParser::new(["k6-ndjson", "locust-history", "jtl"]).map(|n| n.parse::<Format>().expect("a listed name")))]
    pub format: Format,
    /// NAME=KIND: requests named NAME count as operation kind KIND (see push --help)
    #[arg(long = "map", value_name = "NAME=KIND")]
    pub map: Vec<String>,
    /// Seconds between two pushes of the cumulative report (a push only when the file grew)
    #[arg(long, default_value = "5", value_parser = parse_duration)]
    pub interval: Duration,
    /// The file the tool writes
    pub file: PathBuf,
}

/// Where and as whom to send: the client's common flags.
pub struct Destination<'a> {
    pub sender: &'a ReportSender,
    pub team_id: &'a str,
    pub team_name: Option<&'a str>,
    pub max_attempts: Option<u32>,
}

fn options(map: &[String]) -> Result<Options, ClientUsageError> {
    Ok(Options {
        map: KindMap::parse(map).map_err(|e| ClientUsageError::Usage(e.to_string()))?,
    })
}

/// Runs `push`.
pub fn push(
    args: &PushArgs,
    to: &Destination<'_>,
    stop: &StopSignal,
) -> Result<ClientExit, ClientUsageError> {
    let options = options(&args.map)?;
    let converted = open_input(&args.file).and_then(|input| {
        convert_reader(args.format, input, &options)
            .map_err(|e| ClientUsageError::Usage(format!("{}: {e}", args.file.display())))
    })?;
    let body = serde_json::to_vec(&converted.report).expect("JSON values serialize");
    let policy = RetryPolicy {
        backoff: Backoff::default(),
        max_attempts: Some(to.max_attempts.unwrap_or(5)),
    };
    let result = send_with_retry(
        to.sender,
        to.team_id,
        to.team_name,
        &body,
        &policy,
        stop,
        |error, attempt, wait| {
            eprintln!(
                "{}: {error}; attempt {attempt} failed, retrying in {:.1} s",
                to.team_id,
                wait.as_secs_f64()
            )
        },
    );
    let report = &converted.report;
    Ok(match result {
        Ok(_) => {
            println!(
                "{}: {} {} converted ({} requests, {} errors{}) and stored by {}",
                to.team_id,
                converted.format,
                args.file.display(),
                report["totalOps"],
                report["totalErrors"],
                if converted.approximate {
                    "; latency buckets approximated from percentiles"
                } else {
                    ""
                },
                to.sender.base()
            );
            ClientExit::Done
        }
        Err(DeliveryError::Stopped) => ClientExit::Done,
        Err(e) => {
            eprintln!("{}: {e}", to.team_id);
            ClientExit::Failed
        }
    })
}

fn open_input(path: &Path) -> Result<Box<dyn Read>, ClientUsageError> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    std::fs::File::open(path)
        .map(|f| Box::new(std::io::BufReader::with_capacity(1 << 20, f)) as Box<dyn Read>)
        .map_err(|e| ClientUsageError::ReadFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

/// Runs `watch` until `stop`, then pushes a last report.
pub fn run_watch(
    args: &WatchArgs,
    to: &Destination<'_>,
    stop: &StopSignal,
) -> Result<ClientExit, ClientUsageError> {
    if args.interval.is_zero() {
        return Err(ClientUsageError::Usage(
            "--interval must be more than 0 seconds".into(),
        ));
    }
    let config = WatchConfig {
        path: args.file.clone(),
        format: args.format,
        options: options(&args.map)?,
        interval: args.interval,
        team_id: to.team_id.to_string(),
        team_name: to.team_name.map(str::to_string),
        retry: RetryPolicy {
            backoff: Backoff::default(),
            max_attempts: Some(to.max_attempts.unwrap_or(1)),
        },
    };
    println!(
        "Watching {} ({}) for {}: a report to {} every {:.1} s while it grows (Ctrl-C sends a last one and stops)",
        args.file.display(),
        args.format,
        to.team_id,
        to.sender.base(),
        args.interval.as_secs_f64()
    );
    let file = args.file.display().to_string();
    let result = watch(to.sender, &config, stop, |event| {
        print_event(to.team_id, &file, event)
    });
    match result {
        Ok(pushed) => {
            println!("stopped: {pushed} report(s) stored");
            Ok(ClientExit::Done)
        }
        Err(WatchError::Refused(e)) => {
            eprintln!("{}: {e}; stopping", to.team_id);
            Ok(ClientExit::Failed)
        }
        Err(e @ (WatchError::Import(_) | WatchError::Read { .. })) => {
            Err(ClientUsageError::Usage(format!("{file}: {e}")))
        }
    }
}

fn print_event(team_id: &str, file: &str, event: WatchEvent) {
    match event {
        WatchEvent::Pushed(Pushed {
            number,
            requests,
            errors,
            bytes_read,
            last,
        }) => println!(
            "{team_id}: {}report {number} stored: {requests} requests, {errors} errors, {:.1} MB read",
            if last { "last " } else { "" },
            bytes_read as f64 / 1e6
        ),
        WatchEvent::Restarted(Restart::Rotated) => {
            println!("{file} was replaced (rotated): reading the new file from its start")
        }
        WatchEvent::Restarted(Restart::Truncated) => {
            println!("{file} was truncated: reading it again from its start")
        }
        WatchEvent::PushFailed(e) => {
            eprintln!("{team_id}: {e}; the next report will carry these numbers")
        }
        WatchEvent::Retrying {
            error,
            attempt,
            wait,
        } => {
            eprintln!(
                "{team_id}: {error}; attempt {attempt} failed, retrying in {:.1} s",
                wait.as_secs_f64()
            )
        }
    }
}
