//! The arguments of `benchboard-history` (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::export::Format;

/// Query and export the history of a BenchBoard contest.
///
/// Reads a data directory (read-only: never changes a file), a PostgreSQL store
/// (--store; never changed either) or a running server through its HTTP API; the
/// output is the same either way. `migrate` copies a data directory into PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "benchboard-history", version, about, long_about = None)]
pub struct HistoryArgs {
    /// Data directory to read (never changed) [default: ./data]
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "server")]
    pub data_dir: Option<PathBuf>,

    /// Query a running server instead, e.g. http://127.0.0.1:8080 or https://scores.example
    #[arg(long, global = true, value_name = "URL", conflicts_with = "store")]
    pub server: Option<String>,

    /// With an https:// --server: trust only the CA certificate(s) in this PEM file (like curl --cacert) [default: the Mozilla roots built in]
    #[arg(long, global = true, env = "BENCHBOARD_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Read a PostgreSQL store instead (never changed), e.g. postgres://bb@db/benchboard
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "BENCHBOARD_STORE",
        hide_env_values = true,
        conflicts_with = "data_dir"
    )]
    pub store: Option<String>,

    /// The viewer token of a private board (with --server; sent as Authorization: Bearer)
    #[arg(
        long,
        global = true,
        env = "BENCHBOARD_VIEWER_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// A contest file (as benchboard-serve --config): its [ranking] rule orders `best`, its [contest] schedule decides which reports count and `show` marks those after the end [default: with --server, the server's rule and schedule]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print JSON for scripts instead of a table
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// What to show.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// One row per team: reports, first and last report, latest numbers, best records
    Teams,
    /// A team's reports, newest first
    Show(ShowArgs),
    /// A team's history summary, with min / median / max of QPS and latency
    Summary(SummaryArgs),
    /// The ranking of teams by best QPS, best latency or failure rate
    Best(BestArgs),
    /// Every report (of every team, or of --team) as CSV, JSON, NDJSON, or a data directory
    Export(ExportArgs),
    /// Copy a data directory into PostgreSQL (safe to run again: copies what is missing)
    Migrate(MigrateArgs),
    /// Write a static site of the contest: final standings, each team's page, the CSV, the replay
    Archive(ArchiveArgs),
}

/// `archive -o DIR`.
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Directory to write the site into (new or empty; see --force). It opens from file:// or any static host
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Replace -o even if it holds files (the old directory is removed once the new one is complete)
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub rule: RuleArgs,
    /// Archive every report, also those after the freeze of a contest whose reveal has not finished (the organiser's view; the default, the public's, refuses such a contest). With --server the archive is always the server's public view
    #[arg(long)]
    pub live: bool,
    /// Most team cards on the standings page, as the server's --max-teams (the ranking lists every team)
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub max_teams: usize,
}

/// The ranking rule as options, instead of the contest's (`--config`, or the `--server`'s).
#[derive(Debug, Args, Default)]
pub struct RuleArgs {
    /// Rank by this metric (qps, avg_latency, p99_latency, data_loss_rate, ...), as [ranking] by
    #[arg(long, value_name = "METRIC", conflicts_with_all = ["config", "score"])]
    pub by: Option<String>,
    /// Rank by this score over the metrics, e.g. "qps * (1 - data_loss_rate / 100)", as [ranking] score
    #[arg(long, value_name = "EXPR", conflicts_with = "config")]
    pub score: Option<String>,
    /// Which way is better [default: lower for latencies and rates, else higher]
    #[arg(long, value_enum, conflicts_with = "config")]
    pub better: Option<BetterArg>,
    /// Which report of a team counts: its best or its latest [default: best, with a rule given]
    #[arg(long, value_enum, conflicts_with = "config")]
    pub value: Option<ValueArg>,
    /// A report breaking this 'metric op number' condition does not count (repeatable), e.g. "data_loss_rate > 1"
    #[arg(long, value_name = "CONDITION", conflicts_with = "config")]
    pub disqualify: Vec<String>,
}

impl RuleArgs {
    /// True when no option of the rule is given.
    pub fn is_empty(&self) -> bool {
        self.by.is_none()
            && self.score.is_none()
            && self.better.is_none()
            && self.value.is_none()
            && self.disqualify.is_empty()
    }
}

/// `--better`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BetterArg {
    Higher,
    Lower,
}

/// `--value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValueArg {
    Best,
    Latest,
}

/// `migrate --from DIR --to URL`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Data directory to copy (written by benchboard-serve or by the original tool; never changed)
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// PostgreSQL store to copy into, e.g. postgres://bb@db/benchboard (created with createdb; the schema is set up if missing)
    #[arg(long, value_name = "URL")]
    pub to: String,
}

/// `--since` / `--until`.
#[derive(Debug, Args, Clone, Default)]
pub struct RangeArgs {
    /// Start of the range (included).
    #[arg(
        long,
        value_name = "TIME",
        help = "Only reports at or after this time: RFC 3339 or local 'YYYY-MM-DD HH:MM[:SS]'"
    )]
    pub since: Option<String>,
    /// End of the range (included).
    #[arg(
        long,
        value_name = "TIME",
        help = "Only reports at or before this time: RFC 3339 or local 'YYYY-MM-DD HH:MM[:SS]'"
    )]
    pub until: Option<String>,
}

/// `show TEAM`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Team id
    pub team: String,
    /// Most reports to show
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Newest reports to skip first
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    #[command(flatten)]
    pub range: RangeArgs,
}

/// `summary TEAM`.
#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// Team id
    pub team: String,
    #[command(flatten)]
    pub range: RangeArgs,
}

/// What `best` ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RankBy {
    /// Highest completed QPS a team reached (higher is better)
    Qps,
    /// Lowest positive average latency a team reached (lower is better)
    Latency,
    /// Failure rate of the team's latest report (lower is better)
    FailureRate,
}

/// `best`.
#[derive(Debug, Args)]
pub struct BestArgs {
    /// What to rank by; ties go to the team that got there first [default: the contest's [ranking] rule (--config, or the --server's) when there is one, else qps]
    #[arg(long, value_enum)]
    pub by: Option<RankBy>,
    /// Rank by the best records of each team's current run (its tool's last restart on) instead of its whole history
    #[arg(long)]
    pub current_run: bool,
}

/// `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only this team (repeatable) [default: every team]
    #[arg(long = "team", value_name = "TEAM")]
    pub teams: Vec<String>,
    #[command(flatten)]
    pub range: RangeArgs,
    /// Output format [default: csv; json with --json]
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Write to this file (atomically: complete or not at all) instead of stdout; with --format dir, the directory to create
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `--format` of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// One row per report, flattened columns with units in their names.
    Csv,
    /// One JSON array of history entries.
    Json,
    /// One history entry (a JSON object) per line.
    Ndjson,
    /// A data directory in the original's file layout (-o DIR, new or empty): one file
    /// per report with its stats byte for byte as sent, and latest.json per team.
    Dir,
}

impl FormatArg {
    /// The row format; `None` for a directory.
    pub fn rows(self) -> Option<Format> {
        match self {
            FormatArg::Csv => Some(Format::Csv),
            FormatArg::Json => Some(Format::Json),
            FormatArg::Ndjson => Some(Format::Ndjson),
            FormatArg::Dir => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        HistoryArgs::command().debug_assert();
    }
}
