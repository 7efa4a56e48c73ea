//! `GET /api/replay?from&to&step`: the downsampled timeline of every team shown on
//! the board, from the store's index (no report file is read), folded by
//! [`crate::contest::replay`].

use tiny_http::Request;

use super::App;
use super::error::ApiError;
use super::reply::Reply;
use crate::api::ReplayContest;
use crate::contest::ranking::RankingRule;
use crate::contest::replay::{self, History, Plan, ReplayError, Window};
use crate::team::TeamId;

impl From<ReplayError> for ApiError {
    fn from(error: ReplayError) -> ApiError {
        ApiError::BadRequest(error.to_string())
    }
}

/// The query as given: times in ms, step in ms.
#[derive(Debug, Default, PartialEq)]
struct Params {
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    step_ms: Option<i64>,
}

impl Params {
    fn parse(query: &str) -> Result<Params, ReplayError> {
        let value = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        Ok(Params {
            from_ms: value("from")
                .map(|v| replay::parse_time("from", &v))
                .transpose()?,
            to_ms: value("to")
                .map(|v| replay::parse_time("to", &v))
                .transpose()?,
            step_ms: value("step").map(|v| replay::parse_step(&v)).transpose()?,
        })
    }
}

/// `GET /api/replay`: the timeline as `request`'s reader may see it.
pub(super) fn replay(app: &App, request: &Request, query: &str) -> Result<Reply, ApiError> {
    let params = Params::parse(query)?;
    let rule = ranking_rule(app);
    let contest = contest_schedule(app);
    let cutoff_ms = public_cutoff(app, request);
    let teams = histories(app)?;
    let (from_ms, to_ms) = range(&params, contest, cutoff_ms, &teams);
    let plan = Plan {
        rule: &rule,
        window: Window::new(from_ms, to_ms, params.step_ms)?,
        contest,
        cutoff_ms,
        inactive_after_ms: app.config.timing.inactive_after.as_millis() as i64,
    };
    let answer = replay::build(&plan, &teams);
    let body = serde_json::to_vec(&answer).expect("API answers serialize");
    Ok(Reply::bytes(200, "application/json; charset=utf-8", body))
}

/// The range asked, by default the contest's start..end (else the first..last
/// report), `to` at least `from`; neither past the cutoff.
fn range(
    params: &Params,
    contest: Option<ReplayContest>,
    cutoff_ms: Option<i64>,
    teams: &[History],
) -> (i64, i64) {
    let reported = teams
        .iter()
        .flat_map(|h| h.reports.iter().map(|(at, _)| *at));
    let shown = reported.filter(|at| cutoff_ms.is_none_or(|cutoff| *at < cutoff));
    let (first, last) = match contest {
        Some(c) => (c.start_ms, c.end_ms),
        None => shown.fold((i64::MAX, i64::MIN), |(lo, hi), at| {
            (lo.min(at), hi.max(at))
        }),
    };
    let (first, last) = if first > last { (0, 0) } else { (first, last) };
    let clamp = |ms: i64| cutoff_ms.map_or(ms, |cutoff| ms.min(cutoff));
    let from_ms = clamp(params.from_ms.unwrap_or(first));
    let to_ms = match params.to_ms {
        Some(to) => clamp(to),
        None => clamp(last).max(from_ms),
    };
    (from_ms, to_ms)
}

/// Every team the board may show (hidden ones left out), with the board's name.
fn histories(app: &App) -> Result<Vec<History>, ApiError> {
    let presentation = app.board.presentation();
    let mut teams = Vec::new();
    for entry in app.store.teams()? {
        let id: &TeamId = &entry.latest.team_id;
        if presentation.is_hidden(id) {
            continue;
        }
        teams.push(History {
            team_id: id.to_string(),
            team_name: presentation
                .name_of(id)
                .unwrap_or_else(|| entry.latest.team_name.clone()),
            reports: app.store.timeline(id)?,
        });
    }
    Ok(teams)
}

/// The ranking rule in force (`[ranking]` of the contest file; the original's latest
/// QPS without one).
fn ranking_rule(app: &App) -> RankingRule {
    app.trust.state().ranking.clone().unwrap_or_default()
}

/// The contest's schedule in force (`[contest]`), when there is one.
fn contest_schedule(app: &App) -> Option<ReplayContest> {
    app.trust.state().schedule.as_ref().map(|s| ReplayContest {
        start_ms: s.start.timestamp_millis(),
        end_ms: s.end.timestamp_millis(),
        freeze_ms: s.freeze.map(|f| f.timestamp_millis()),
    })
}

/// Where the public timeline stops: the freeze, until the reveal has finished.
fn public_cutoff(_app: &App, _request: &Request) -> Option<i64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_times_in_ms_or_rfc_3339_and_refuses_the_rest() {
        let params = Params::parse("from=1000&to=1970-01-01T00%3A00%3A02Z&step=10").unwrap();
        assert_eq!(
            params,
            Params {
                from_ms: Some(1000),
                to_ms: Some(2000),
                step_ms: Some(10)
            }
        );
        assert!(Params::parse("").unwrap() == Params::default());
        let error = Params::parse("step=0").unwrap_err().to_string();
        assert!(error.starts_with("step must be"), "{error}");
    }
}
