//! `best`: the ranking of teams; ties go to whoever got there first.

use std::io::Write;

use serde::Serialize;
use serde_json::json;

use crate::history::cli::{BestArgs, RankBy};
use crate::history::contest::ContestRules;
use crate::history::source::{Source, TeamOverview};
use crate::history::table::{Align, Table};
use crate::history::{HistoryError, opt_fixed, show_opt_time, write_json, write_table};
use crate::timefmt;

/// One place of the `best` ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placing {
    pub rank: usize,
    pub team_id: String,
    pub team_name: String,
    /// The value ranked by (QPS, ms or %); `None` when the team has none (ranked last).
    pub value: Option<f64>,
    /// When the team got there.
    pub time: Option<String>,
    pub reports: usize,
}

/// Ranks teams: best value first, ties to whoever got there first, then by id. With
/// `current_run` the best records are those of each team's current run.
pub fn rank(teams: &[TeamOverview], by: RankBy, current_run: bool) -> Vec<Placing> {
    let mut placings: Vec<Placing> = teams
        .iter()
        .map(|t| {
            let best = if current_run { &t.run_best } else { &t.best };
            let (value, time) = match by {
                RankBy::Qps => (best.best_qps, best.best_qps_time.clone()),
                RankBy::Latency => (best.best_latency, best.best_latency_time.clone()),
                RankBy::FailureRate => (Some(t.data_loss_rate), t.last_report.clone()),
            };
            Placing {
                rank: 0,
                team_id: t.team_id.clone(),
                team_name: t.team_name.clone(),
                value,
                time,
                reports: t.reports,
            }
        })
        .collect();
    let higher_is_better = by == RankBy::Qps;
    let when = |p: &Placing| p.time.as_deref().and_then(timefmt::parse_timestamp);
    placings.sort_by(|a, b| {
        let by_value = match (a.value, b.value) {
            (Some(x), Some(y)) if higher_is_better => y.total_cmp(&x),
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        by_value
            .then_with(|| when(a).cmp(&when(b)))
            .then_with(|| a.team_id.cmp(&b.team_id))
    });
    for (i, p) in placings.iter_mut().enumerate() {
        p.rank = i + 1;
    }
    placings
}

/// Runs the command, writing to `out`.
pub fn run(
    source: &Source,
    args: &BestArgs,
    contest: &ContestRules,
    json: bool,
    out: &mut impl Write,
) -> Result<(), HistoryError> {
    let teams = source.teams()?;
    if teams.is_empty() {
        return Err(HistoryError::NothingFound(
            "no team has any report yet".into(),
        ));
    }
    let by = match (args.by, contest.rules()) {
        (Some(by), _) => by,
        (None, Some(rules)) => return super::ranked::run(source, &teams, &rules, json, out),
        (None, None) => RankBy::Qps,
    };
    let placings = rank(&teams, by, args.current_run);
    let (by_name, heading, decimals) = match by {
        RankBy::Qps => ("qps", "BEST QPS", 1),
        RankBy::Latency => ("latency", "BEST AVG ms", 2),
        RankBy::FailureRate => ("failure-rate", "FAIL %", 2),
    };
    if json {
        let json = json!({"by": by_name, "current_run": args.current_run, "ranking": placings});
        return write_json(out, &json);
    }
    let mut table = Table::new(&[
        ("RANK", Align::Right),
        ("TEAM", Align::Left),
        ("NAME", Align::Left),
        (heading, Align::Right),
        ("AT", Align::Left),
        ("REPORTS", Align::Right),
    ]);
    for p in &placings {
        table.row(vec![
            p.rank.to_string(),
            p.team_id.clone(),
            p.team_name.clone(),
            opt_fixed(p.value, decimals),
            show_opt_time(&p.time),
            p.reports.to_string(),
        ]);
    }
    write_table(out, &table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overview(id: &str, best_qps: Option<f64>, at: &str) -> TeamOverview {
        TeamOverview {
            team_id: id.into(),
            team_name: id.into(),
            reports: 1,
            first_report: Some(at.into()),
            last_report: Some(at.into()),
            qps: 0.0,
            avg_latency: 0.0,
            p99_latency: 0.0,
            data_loss_rate: 0.0,
            best: crate::api::Best {
                best_qps,
                best_qps_time: best_qps.map(|_| at.to_string()),
                best_latency: None,
                best_latency_time: None,
            },
            run: 1,
            run_best: crate::api::Best::default(),
        }
    }

    #[test]
    fn ranking_ties_go_to_who_got_there_first() {
        let teams = [
            overview("a", Some(100.0), "2025-08-01T10:00:10+00:00"),
            overview("b", Some(100.0), "2025-08-01T10:00:05+00:00"),
            overview("c", Some(150.0), "2025-08-01T11:00:00+00:00"),
            overview("d", None, "2025-08-01T09:00:00+00:00"),
        ];
        let order: Vec<_> = rank(&teams, RankBy::Qps, false)
            .into_iter()
            .map(|p| (p.rank, p.team_id))
            .collect();
        assert_eq!(
            order,
            [
                (1, "c".into()),
                (2, "b".into()),
                (3, "a".into()),
                (4, "d".to_string())
            ]
        );
    }
}
