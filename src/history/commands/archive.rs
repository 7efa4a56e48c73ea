//! `archive -o DIR`: the contest as a static site ([`crate::archive`]). One pass
//! over each team's reports, oldest first, writes its table into its page, its CSV
//! and the CSV of every team, and builds its standing under the ranking rule; only
//! one report is held at a time, and of every team only its latest entry. The
//! standings page comes last, once every standing is known.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, IsTerminal, Write};

use serde::Serialize;
use serde_json::Value;

use super::export::Progress;
use crate::api;
use crate::archive::inline::{self, DATA_CLOSE, DATA_OPEN};
use crate::archive::pages::{self, Template};
use crate::archive::site::{Site, SiteError};
use crate::config::ContestFile;
use crate::contest::ranking::{self, Better, Counted, RankingRule, RankingSection, Standing};
use crate::contest::schedule::Schedule;
use crate::export::csv::CsvWriter;
use crate::history::HistoryError;
use crate::history::cli::{ArchiveArgs, BetterArg, RuleArgs, ValueArg};
use crate::history::source::{RowError, Source};
use crate::query::{ReportRow, TimeRange};
use crate::report::Count;
use crate::report::plausibility::Warning;
use crate::store::Headline;
use crate::team::TeamId;
use crate::timefmt;

/// The team page's chart: points of the whole history, as team.js asks the server.
const SERIES_POINTS: usize = 600;
/// A card's sparkline: its last 10 minutes in 120 points, as app.js asks.
const SPARK_POINTS: usize = 120;
const SPARK_WINDOW_MS: i64 = 10 * 60 * 1000;

impl From<SiteError> for HistoryError {
    fn from(e: SiteError) -> HistoryError {
        match e {
            SiteError::Io { path, source } => HistoryError::Output { path, source },
            other => HistoryError::Usage(other.to_string()),
        }
    }
}

/// Runs the command; prints where the archive is.
pub fn run(
    source: &Source,
    args: &ArchiveArgs,
    json: bool,
    out: &mut impl Write,
) -> Result<(), HistoryError> {
    let (rule, schedule) = contest_rules(args)?;
    let site = Site::create(&args.output, args.force)?;
    let teams = source.team_entries()?;
    if teams.is_empty() {
        return Err(HistoryError::NothingFound(
            "no team has any report yet: nothing to archive".into(),
        ));
    }
    let now_ms = teams
        .iter()
        .filter_map(|t| timefmt::parse_timestamp(&t.last_update))
        .map(|at| at.timestamp_millis())
        .max()
        .unwrap_or(0);
    let total: usize = teams.iter().map(|t| t.report_count).sum();
    let mut archiver = Archiver {
        source,
        site: &site,
        rule: &rule,
        schedule: schedule.as_ref(),
        now_ms,
        all_csv: CsvWriter::new(site.file("benchboard.csv")?)
            .map_err(failed(&site, "benchboard.csv"))?,
        progress: Progress::new(total as u64, io::stderr().is_terminal()),
        reports: 0,
        sparks: BTreeMap::new(),
    };
    let mut standings = Vec::with_capacity(teams.len());
    for team in &teams {
        let id = TeamId::parse(&team.team_id).map_err(|e| {
            HistoryError::Usage(format!(
                "the source lists a bad team id {:?}: {e}",
                team.team_id
            ))
        })?;
        let standing = archiver.team(&id, team)?;
        standings.push((id, standing));
    }
    archiver.progress.finish();
    let (reports, sparks) = (archiver.reports, std::mem::take(&mut archiver.sparks));
    archiver
        .all_csv
        .finish()
        .map_err(failed(&site, "benchboard.csv"))?;
    write_board(
        &site,
        &rule,
        args.max_teams,
        now_ms,
        &teams,
        &standings,
        sparks,
    )?;
    for (name, bytes) in pages::assets() {
        let path = format!("static/{name}");
        let mut file = site.file(&path)?;
        file.write_all(bytes)
            .and_then(|()| file.flush())
            .map_err(failed(&site, &path))?;
    }
    let dir = site.commit()?;
    if json {
        let done = serde_json::json!({
            "directory": dir.display().to_string(),
            "teams": teams.len(),
            "reports": reports,
        });
        return crate::history::write_json(out, &done);
    }
    writeln!(
        out,
        "archived {} teams, {reports} reports to {}",
        teams.len(),
        dir.display()
    )
    .map_err(HistoryError::Stdout)
}

/// An I/O error on the archive's file `relative`.
fn failed<'a>(site: &'a Site, relative: &'a str) -> impl FnOnce(io::Error) -> HistoryError + 'a {
    move |source| HistoryError::Output {
        path: site.target().join(relative),
        source,
    }
}

// ---------------------------------------------------------------- the rule

/// The ranking rule and the contest's schedule: `--config`'s `[ranking]` and
/// `[contest]`, or the rule's options, or the original's order without a schedule.
fn contest_rules(args: &ArchiveArgs) -> Result<(RankingRule, Option<Schedule>), HistoryError> {
    if let Some(path) = &args.config {
        let file = ContestFile::load(path).map_err(|e| HistoryError::Usage(e.to_string()))?;
        return Ok((file.ranking_rule(), file.schedule));
    }
    if args.rule.is_empty() {
        return Ok((RankingRule::default(), None));
    }
    let rule = section_of(&args.rule)
        .check()
        .map_err(|e| HistoryError::Usage(e.to_string()))?;
    Ok((rule, None))
}

fn section_of(rule: &RuleArgs) -> RankingSection {
    RankingSection {
        by: rule.by.clone(),
        score: rule.score.clone(),
        better: rule.better.map(|b| match b {
            BetterArg::Higher => Better::Higher,
            BetterArg::Lower => Better::Lower,
        }),
        value: match rule.value {
            Some(ValueArg::Latest) => Counted::Latest,
            Some(ValueArg::Best) | None => Counted::Best,
        },
        disqualify: rule.disqualify.clone(),
    }
}

// ---------------------------------------------------------------- team pages

/// The state of one archive's writing.
struct Archiver<'a> {
    source: &'a Source,
    site: &'a Site,
    rule: &'a RankingRule,
    /// The contest's times: only reports inside `[start, end)` count for the ranking.
    schedule: Option<&'a Schedule>,
    now_ms: i64,
    all_csv: CsvWriter<BufWriter<fs::File>>,
    progress: Progress,
    reports: usize,
    /// Each team's sparkline, for the standings page.
    sparks: BTreeMap<String, api::Series>,
}

/// A row of a team page's table: what team.js shows of a report.
#[derive(Serialize)]
struct TableRow<'a> {
    timestamp: &'a str,
    run: u32,
    metrics: TableMetrics,
    stats: TableStats,
    warnings: &'a [Warning],
}

#[derive(Serialize)]
struct TableMetrics {
    qps: f64,
    avg_latency: f64,
    p99_latency: f64,
    data_loss_rate: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TableStats {
    total_ops: Count,
    total_errors: Count,
    total_elapsed: f64,
}

impl<'a> TableRow<'a> {
    fn of(row: &'a ReportRow) -> TableRow<'a> {
        let m = &row.metrics;
        TableRow {
            timestamp: &row.timestamp,
            run: row.run,
            metrics: TableMetrics {
                qps: m.qps,
                avg_latency: m.avg_latency,
                p99_latency: m.p99_latency,
                data_loss_rate: m.data_loss_rate,
            },
            stats: TableStats {
                total_ops: row.report.total_ops,
                total_errors: row.report.total_errors,
                total_elapsed: row.report.total_elapsed_s,
            },
            warnings: &row.warnings,
        }
    }
}

impl Archiver<'_> {
    /// Writes `team/<id>.html` and `csv/<id>.csv`; returns the team's standing.
    fn team(&mut self, id: &TeamId, entry: &api::Team<'static>) -> Result<Standing, HistoryError> {
        let summary = self.source.summary(id)?;
        let series = self.source.series(id, 0, SERIES_POINTS)?;
        let since = (self.now_ms - SPARK_WINDOW_MS).max(0);
        let spark = self.source.series(id, since, SPARK_POINTS)?;
        self.sparks.insert(id.to_string(), spark);
        let page_name = format!("team/{id}.html");
        let csv_name = format!("csv/{id}.csv");
        let mut page = self.site.file(&page_name)?;
        let template = pages::team(id, &entry.team_name);
        let head = TeamHead {
            kind: "team",
            root: "../",
            now_ms: self.now_ms,
            team: entry,
            summary: &summary,
            series: &series,
        };
        write_head(&mut page, &template, &head).map_err(failed(self.site, &page_name))?;
        let csv = self.site.file(&csv_name)?;
        let mut csv = CsvWriter::new(csv).map_err(failed(self.site, &csv_name))?;
        let standing = self.table(id, &mut page, &page_name, &mut csv, &csv_name)?;
        write_tail(&mut page, &template).map_err(failed(self.site, &page_name))?;
        csv.finish().map_err(failed(self.site, &csv_name))?;
        Ok(standing)
    }

    /// Streams the team's reports, oldest first, into its page's table, its CSV and
    /// the CSV of every team; returns its standing from the reports that count.
    fn table(
        &mut self,
        id: &TeamId,
        page: &mut impl Write,
        page_name: &str,
        csv: &mut CsvWriter<impl Write>,
        csv_name: &str,
    ) -> Result<Standing, HistoryError> {
        let everything = TimeRange::default();
        let (rows, _) = self
            .source
            .rows_counted(std::slice::from_ref(id), &everything, false)?;
        let mut standing = Standing::default();
        let mut separator: &[u8] = b"";
        for row in rows {
            let row = match row {
                Ok(row) => row,
                Err(RowError::Skip(warning)) => {
                    crate::logging::eprint_line(&warning);
                    continue;
                }
                Err(RowError::Fatal(e)) => return Err(e),
            };
            let at = timefmt::parse_timestamp(&row.timestamp);
            if let Some(at) = at.filter(|at| self.schedule.is_none_or(|s| s.counts(*at))) {
                let headline = Headline::from(&row.metrics);
                standing.add(self.rule, &headline, at.timestamp_millis());
            }
            page.write_all(separator)
                .and_then(|()| inline::write_json(page, &TableRow::of(&row)))
                .map_err(failed(self.site, page_name))?;
            separator = b",";
            csv.write(&row).map_err(failed(self.site, csv_name))?;
            self.all_csv
                .write(&row)
                .map_err(failed(self.site, "benchboard.csv"))?;
            self.reports += 1;
            self.progress.tick();
        }
        Ok(standing)
    }
}

/// The data of a team page before its table.
#[derive(Serialize)]
struct TeamHead<'a> {
    kind: &'static str,
    root: &'static str,
    now_ms: i64,
    team: &'a api::Team<'static>,
    summary: &'a api::Summary,
    series: &'a api::Series,
}

/// The page up to its data, and the data up to its table: `{...,"history":[`.
fn write_head(page: &mut impl Write, template: &Template, head: &TeamHead) -> io::Result<()> {
    let mut json = Vec::new();
    inline::write_json(&mut json, head)?;
    json.pop(); // the object's closing brace: the table follows
    page.write_all(template.head.as_bytes())?;
    page.write_all(DATA_OPEN.as_bytes())?;
    page.write_all(&json)?;
    page.write_all(b",\"history\":[")
}

fn write_tail(page: &mut impl Write, template: &Template) -> io::Result<()> {
    page.write_all(b"]}")?;
    page.write_all(DATA_CLOSE.as_bytes())?;
    page.write_all(b"\n")?;
    page.write_all(template.tail.as_bytes())?;
    page.flush()
}

// ---------------------------------------------------------------- standings

/// The data of the standings page: the board's snapshot with each team's rank.
#[derive(Serialize)]
struct BoardData {
    kind: &'static str,
    root: &'static str,
    now_ms: i64,
    rule: ranking::RuleDescription,
    snapshot: Value,
    sparks: BTreeMap<String, api::Series>,
}

fn write_board(
    site: &Site,
    rule: &RankingRule,
    max_teams: usize,
    now_ms: i64,
    teams: &[api::Team<'static>],
    standings: &[(TeamId, Standing)],
    sparks: BTreeMap<String, api::Series>,
) -> Result<(), HistoryError> {
    let placings = ranking::rank(rule, standings);
    let ranked: Vec<Value> = placings
        .iter()
        .filter_map(|placing| {
            let team = teams.iter().find(|t| t.team_id == placing.key.as_str())?;
            Some(ranked_entry(team, placing.rank, placing.standing))
        })
        .collect();
    let data = BoardData {
        kind: "board",
        root: "",
        now_ms,
        rule: rule.describe(),
        snapshot: serde_json::json!({
            "type": "snapshot",
            "teams": ranked,
            "alerts": [],
            "max_teams": max_teams,
            "storage_available": true,
        }),
        sparks,
    };
    let template = pages::board(max_teams);
    let mut page = site.file("index.html")?;
    let written = page
        .write_all(template.head.as_bytes())
        .and_then(|()| page.write_all(DATA_OPEN.as_bytes()))
        .and_then(|()| inline::write_json(&mut page, &data))
        .and_then(|()| page.write_all(DATA_CLOSE.as_bytes()))
        .and_then(|()| page.write_all(b"\n"))
        .and_then(|()| page.write_all(template.tail.as_bytes()))
        .and_then(|()| page.flush());
    written.map_err(failed(site, "index.html"))
}

/// A team's `/api/teams` entry with its `rank`, `score`, `qualified` and `reasons`.
fn ranked_entry(team: &api::Team<'static>, rank: usize, standing: &Standing) -> Value {
    let mut value = serde_json::to_value(team).expect("team entries serialize");
    if let Value::Object(map) = &mut value {
        map.insert("rank".into(), rank.into());
        let score = standing.score.or(standing.unqualified).map(|r| r.value);
        map.insert("score".into(), serde_json::json!(score));
        map.insert("qualified".into(), standing.qualified().into());
        map.insert(
            "reasons".into(),
            serde_json::to_value(&standing.reasons).expect("reasons serialize"),
        );
    }
    value
}
