//! `best` under the contest's `[ranking]` rule: the score of each team, qualified
//! teams first, ties to whoever reached the value first, the disqualified last with
//! their reasons; only reports in `[start, end)` count when there is a schedule.

use std::io::Write;

use serde::Serialize;
use serde_json::json;

use crate::contest::ranking::{Reason, Standing};
use crate::contest::standings::{Rules, ranked};
use crate::history::source::{Source, TeamOverview};
use crate::history::table::{Align, Table};
use crate::history::{HistoryError, opt_fixed, show_opt_time, write_json, write_table};
use crate::query::TimeRange;
use crate::team::TeamId;

/// One place of the ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedPlacing {
    pub rank: usize,
    pub team_id: String,
    pub team_name: String,
    /// The value the team is ranked by; `None` without one.
    pub score: Option<f64>,
    /// When the team reached it.
    pub time: Option<String>,
    /// Reports that count.
    pub reports: usize,
    pub qualified: bool,
    pub disqualified_for: Vec<Reason>,
}

/// Ranks `teams` under `rules` from each team's reports.
pub fn placings(
    source: &Source,
    teams: &[TeamOverview],
    rules: &Rules,
) -> Result<Vec<RankedPlacing>, HistoryError> {
    let mut standings: Vec<(String, Standing)> = Vec::new();
    for team in teams {
        let id = TeamId::parse(&team.team_id).map_err(|e| HistoryError::Usage(e.to_string()))?;
        let reports = source.headlines(&id, &TimeRange::default())?;
        standings.push((team.team_id.clone(), rules.standing_of(&reports)));
    }
    let by_id = |id: &str| teams.iter().find(|t| t.team_id == id);
    let standing_of = |id: &str| &standings.iter().find(|(k, _)| k == id).expect("ranked").1;
    Ok(ranked(&rules.rule, &standings)
        .into_iter()
        .map(|(id, place)| {
            let standing = standing_of(&id);
            let reached = standing.score.or(standing.unqualified);
            RankedPlacing {
                rank: place.rank,
                team_name: by_id(&id).map_or_else(|| id.clone(), |t| t.team_name.clone()),
                team_id: id,
                score: place.score,
                time: reached
                    .and_then(|r| chrono::DateTime::from_timestamp_millis(r.at_ms))
                    .map(|at| {
                        crate::timefmt::format_timestamp(
                            &at.with_timezone(&chrono::Local).fixed_offset(),
                        )
                    }),
                reports: standing.reports,
                qualified: place.qualified,
                disqualified_for: place.disqualified_for,
            }
        })
        .collect())
}

/// Runs `best` under the rule, writing to `out`.
pub fn run(
    source: &Source,
    teams: &[TeamOverview],
    rules: &Rules,
    json: bool,
    out: &mut impl Write,
) -> Result<(), HistoryError> {
    let placings = placings(source, teams, rules)?;
    if json {
        return write_json(
            out,
            &json!({"rule": rules.rule.describe(), "ranking": placings}),
        );
    }
    let mut table = Table::new(&[
        ("RANK", Align::Right),
        ("TEAM", Align::Left),
        ("NAME", Align::Left),
        ("SCORE", Align::Right),
        ("AT", Align::Left),
        ("REPORTS", Align::Right),
        ("STATUS", Align::Left),
    ]);
    for p in &placings {
        table.row(vec![
            p.rank.to_string(),
            p.team_id.clone(),
            p.team_name.clone(),
            opt_fixed(p.score, 2),
            show_opt_time(&p.time),
            p.reports.to_string(),
            status(p),
        ]);
    }
    write_table(out, &table)?;
    writeln!(out, "{}", describe(rules)).map_err(HistoryError::Stdout)
}

/// `qualified`, or the conditions broken with their values.
fn status(p: &RankedPlacing) -> String {
    if p.qualified {
        return "qualified".into();
    }
    if p.disqualified_for.is_empty() {
        return "no counted report".into();
    }
    let reasons: Vec<String> = p
        .disqualified_for
        .iter()
        .map(|r| format!("{} ({:.2})", r.condition, r.value))
        .collect();
    format!("disqualified: {}", reasons.join(", "))
}

/// The line under the table: the rule, the direction, what counts.
fn describe(rules: &Rules) -> String {
    let d = rules.rule.describe();
    let better = match d.better {
        crate::contest::ranking::Better::Higher => "higher",
        crate::contest::ranking::Better::Lower => "lower",
    };
    let mut line = format!(
        "ranked by {} ({better} is better, each team's {} report), ties to who reached it first",
        rules.rule.basis_text(),
        serde_json::to_value(d.value)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    );
    if !d.disqualify.is_empty() {
        line.push_str(&format!(
            "; disqualified when {}",
            d.disqualify.join(" or ")
        ));
    }
    if let Some(s) = rules.schedule {
        line.push_str(&format!(
            "; reports from {} to {} count",
            crate::timefmt::format_timestamp(&s.start),
            crate::timefmt::format_timestamp(&s.end)
        ));
    }
    line
}
