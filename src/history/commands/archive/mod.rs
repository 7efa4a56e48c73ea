//! `archive -o DIR`: the contest as a static site ([`crate::archive`]). One pass
//! over each team's reports, oldest first, writes its table into its page, its CSV
//! and the CSV of every team, and builds its standing under the ranking rule; only
//! one report is held at a time, and of every team only its latest entry. The
//! standings page comes last, once every standing is known.

mod board;
mod team;

use std::io::{self, Write};
use std::path::Path;

use crate::archive::pages;
use crate::archive::site::{Site, SiteError};
use crate::contest::ranking::{Better, Counted, RankingSection};
use crate::contest::schedule::Schedule;
use crate::contest::standings::Rules;
use crate::contest::state::{self, SavedContest};
use crate::contest::visibility::Visibility;
use crate::history::HistoryError;
use crate::history::cli::{ArchiveArgs, BetterArg, RuleArgs, ValueArg};
use crate::history::contest::ContestRules;
use crate::history::source::Source;
use crate::timefmt;
use board::Contest;

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
    data_dir: Option<&Path>,
    config: Option<&Path>,
    args: &ArchiveArgs,
    json: bool,
    out: &mut impl Write,
) -> Result<(), HistoryError> {
    let rules = contest_rules(config, &args.rule, source)?;
    if !args.live {
        refuse_a_frozen_contest(source, data_dir, rules.schedule.as_ref())?;
    }
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
    let contest = Contest {
        site: &site,
        source,
        rules: &rules,
        max_teams: args.max_teams,
        now_ms,
        teams: &teams,
    };
    let written = team::write_teams(&contest)?;
    let reports = written.reports;
    contest.write_board(&written.standings, written.sparks)?;
    contest.write_replay(&written.histories)?;
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

/// The ranking rule and the contest's schedule: the rule's options when given (no
/// schedule then), else those of `--config FILE` or the `--server`, else the
/// original's order (the latest QPS) with every report counting.
fn contest_rules(
    config: Option<&Path>,
    options: &RuleArgs,
    source: &Source,
) -> Result<Rules, HistoryError> {
    if config.is_none() && !options.is_empty() {
        let rule = section_of(options)
            .check()
            .map_err(|e| HistoryError::Usage(e.to_string()))?;
        return Ok(Rules {
            rule,
            schedule: None,
        });
    }
    let found = ContestRules::find(config, source)?;
    Ok(Rules {
        rule: found.ranking.unwrap_or_default(),
        schedule: found.schedule,
    })
}

/// The public view of a store during a freeze would need every page as it stood at
/// the freeze: until the reveal has finished (its state is in the data directory)
/// the archive says so and writes nothing, unless `--live` asks for everything. A
/// server gives its public view itself.
fn refuse_a_frozen_contest(
    source: &Source,
    data_dir: Option<&Path>,
    schedule: Option<&Schedule>,
) -> Result<(), HistoryError> {
    if source.store().is_none() {
        return Ok(());
    }
    let saved = match data_dir {
        Some(dir) => state::load(&dir.join(state::FILE_NAME)).map_err(|e| {
            HistoryError::Usage(format!(
                "cannot read the reveal's state in {}: {e}",
                dir.display()
            ))
        })?,
        None => SavedContest::default(),
    };
    let visibility = Visibility::of_contest(schedule, saved.reveal.as_ref());
    match visibility.freeze() {
        Some(freeze) if visibility.is_frozen(chrono::Utc::now().fixed_offset()) => {
            Err(HistoryError::Usage(format!(
                "the contest is frozen since {} and its reveal has not finished: the public archive would show reports after the freeze; finish the reveal (/admin), or give --live for every report",
                timefmt::format_timestamp(&freeze)
            )))
        }
        _ => Ok(()),
    }
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
