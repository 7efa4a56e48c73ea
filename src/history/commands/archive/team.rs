//! The team pages: `team/<id>.html` with the team's reports streamed into its table,
//! and `csv/<id>.csv`; the CSV of every team on the way.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, IsTerminal, Write};

use serde::Serialize;

use super::board::Contest;
use super::failed;
use crate::api;
use crate::archive::inline::{self, DATA_CLOSE, DATA_OPEN};
use crate::archive::pages::{self, Template};
use crate::archive::site::Site;
use crate::contest::ranking::Standing;
use crate::contest::replay::History;
use crate::contest::standings::Rules;
use crate::export::csv::CsvWriter;
use crate::history::HistoryError;
use crate::history::commands::export::Progress;
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

/// What the team pages leave for the standings and the replay.
pub(super) struct Written {
    /// Each team's standing, by id.
    pub standings: Vec<(TeamId, Standing)>,
    /// Each team's sparkline, for its card.
    pub sparks: BTreeMap<String, api::Series>,
    /// Each team's reports as times and headline numbers, for the replay.
    pub histories: Vec<History>,
    /// Reports written.
    pub reports: usize,
}

/// Writes every team's page and CSV, and `benchboard.csv`.
pub(super) fn write_teams(contest: &Contest) -> Result<Written, HistoryError> {
    let site = contest.site;
    let total: usize = contest.teams.iter().map(|t| t.report_count).sum();
    let mut archiver = Archiver {
        source: contest.source,
        site,
        rules: contest.rules,
        now_ms: contest.now_ms,
        all_csv: CsvWriter::new(site.file("benchboard.csv")?)
            .map_err(failed(site, "benchboard.csv"))?,
        progress: Progress::new(total as u64, io::stderr().is_terminal()),
        reports: 0,
        sparks: BTreeMap::new(),
        histories: Vec::with_capacity(contest.teams.len()),
    };
    let mut standings = Vec::with_capacity(contest.teams.len());
    for team in contest.teams {
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
    archiver
        .all_csv
        .finish()
        .map_err(failed(site, "benchboard.csv"))?;
    Ok(Written {
        standings,
        sparks: archiver.sparks,
        histories: archiver.histories,
        reports: archiver.reports,
    })
}

/// The state of one archive's writing.
struct Archiver<'a> {
    source: &'a Source,
    site: &'a Site,
    /// The rule and the contest's times: only reports inside `[start, end)` count.
    rules: &'a Rules,
    now_ms: i64,
    all_csv: CsvWriter<BufWriter<fs::File>>,
    progress: Progress,
    reports: usize,
    /// Each team's sparkline, for the standings page.
    sparks: BTreeMap<String, api::Series>,
    /// Each team's timeline (a few numbers per report: the replay needs them all).
    histories: Vec<History>,
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
        let (standing, timeline) = self.table(id, &mut page, &page_name, &mut csv, &csv_name)?;
        self.histories.push(History {
            team_id: id.to_string(),
            team_name: entry.team_name.to_string(),
            reports: timeline,
        });
        write_tail(&mut page, &template).map_err(failed(self.site, &page_name))?;
        csv.finish().map_err(failed(self.site, &csv_name))?;
        Ok(standing)
    }

    /// Streams the team's reports, oldest first, into its page's table, its CSV and
    /// the CSV of every team; returns its standing from the reports that count, and
    /// its timeline.
    fn table(
        &mut self,
        id: &TeamId,
        page: &mut impl Write,
        page_name: &str,
        csv: &mut CsvWriter<impl Write>,
        csv_name: &str,
    ) -> Result<(Standing, Vec<(i64, Headline)>), HistoryError> {
        let everything = TimeRange::default();
        let (rows, _) = self
            .source
            .rows_counted(std::slice::from_ref(id), &everything, false)?;
        let mut standing = Standing::default();
        let mut timeline = Vec::new();
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
            if let Some(at) = timefmt::parse_timestamp(&row.timestamp) {
                let headline = Headline::from(&row.metrics);
                self.rules.add(&mut standing, &headline, at);
                timeline.push((at.timestamp_millis(), headline));
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
        Ok((standing, timeline))
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
