//! The freeze and the reveal as the server runs them.
//!
//! Who reads ([`App::reader`]: the admin token, a team's own token, or the public)
//! and what they see is decided by [`crate::contest::visibility`], which the board
//! keeps; this module puts it in force from the schedule and the saved reveal
//! ([`App::show_visibility`]), answers the public's history and alerts as they
//! stood at the freeze, holds back alert changes, runs `POST /api/admin/reveal`
//! and moves `auto` on with the clock ([`App::freeze_tick`]).

use std::cell::RefCell;
use std::sync::atomic::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::{Value, json};
use tiny_http::Request;

use super::App;
use super::error::ApiError;
use super::freeze_state::thaw_if_finished;
pub use super::freeze_state::{Freeze, Incoming, offer_incoming};
use super::reply::{Reply, header};
use super::trust::bearer;
use crate::api;
use crate::contest::ranking::{RankingRule, Standing};
use crate::contest::reveal::{self, Reveal};
use crate::contest::schedule::Schedule;
use crate::contest::state::SavedContest;
use crate::contest::visibility::{Reader, Visibility, before};
use crate::query::{self, TimeRange};
use crate::store::ReadStore;
use crate::team::TeamId;
use crate::timefmt;

/// Longest `every_secs` of an automatic reveal.
pub const MAX_REVEAL_EVERY_SECS: u64 = 3600;

impl App {
    /// Now, by the server's one clock.
    pub fn now(&self) -> DateTime<FixedOffset> {
        self.config.clock.now()
    }

    /// The contest's schedule (`None` outside contest mode).
    pub fn schedule(&self) -> Option<Schedule> {
        self.trust.state().schedule
    }

    /// The ranking rule in force (`[ranking]`; the original's latest QPS without one).
    pub(super) fn ranking_rule(&self) -> RankingRule {
        self.trust.state().ranking.clone().unwrap_or_default()
    }

    /// Who reads: the admin token (`Authorization: Bearer`), the team's own token
    /// (`X-Team-Token`, or `Authorization: Bearer` on a public board) for `team`,
    /// or the public. Never counts a failed authentication: a reader without a
    /// token that fits is simply the public.
    pub fn reader(&self, request: &Request, team: Option<&TeamId>) -> Reader {
        let state = self.trust.state();
        let presented = bearer(request);
        if presented.is_some() && state.access.admin(presented).is_ok() {
            return Reader::Admin;
        }
        let team_token = header(request, "X-Team-Token").or(presented);
        match team {
            Some(id)
                if team_token.is_some()
                    && matches!(state.access.team(id, team_token), Ok(Some(_))) =>
            {
                Reader::Team(id.clone())
            }
            _ => Reader::Public,
        }
    }

    /// The reports of `team` this request's reader sees: those before the returned
    /// time, or all (`None`).
    pub fn cutoff_for(&self, request: &Request, team: &TeamId) -> Option<DateTime<FixedOffset>> {
        let reader = self.reader(request, Some(team));
        self.board.visibility().cutoff(&reader, team)
    }

    /// The visibility the schedule and the saved reveal call for.
    fn visibility_wanted(&self, saved: &SavedContest) -> Visibility {
        Visibility::of_contest(self.schedule().as_ref(), saved.reveal.as_ref())
    }

    /// The snapshot's `freeze` object: `frozen` (the banner), `since` and the reveal.
    fn freeze_note(&self, visibility: &Visibility, saved: &SavedContest) -> Value {
        let frozen = visibility.is_frozen(self.now());
        json!({
            "frozen": frozen,
            "since": visibility.freeze().filter(|_| frozen).map(|t| timefmt::format_timestamp(&t)),
            "reveal": saved.reveal.as_ref().map(Reveal::view),
        })
    }

    /// The `freeze` object as viewers get it now (`GET /api/contest`).
    pub fn freeze_note_now(&self) -> Value {
        let saved = self.freeze.lock();
        self.freeze_note(&self.board.visibility(), &saved)
    }

    /// When the reveal finished and the board was thawed.
    pub fn thawed_at(&self) -> Option<DateTime<FixedOffset>> {
        let saved = self.freeze.lock();
        let reveal = saved.reveal.as_ref().filter(|r| r.finished())?;
        timefmt::parse_timestamp(&reveal.last_step_at)
    }

    /// Puts the freeze in force on the board (at the start, at each reveal step, at
    /// the freeze itself) and tells the viewers.
    pub fn show_visibility(&self) {
        let saved = self.freeze.lock();
        let visibility = self.visibility_wanted(&saved);
        let note = self.freeze_note(&visibility, &saved);
        self.freeze
            .shown_frozen
            .store(visibility.is_frozen(self.now()), Ordering::SeqCst);
        self.board
            .set_visibility(visibility, self.read_store(), note);
    }

    fn read_store(&self) -> &dyn ReadStore {
        &*self.store
    }

    /// True when alert changes are kept from the public now (the board is frozen).
    /// The first time, `/api/alerts` as the public saw it is kept (and saved).
    pub(super) fn hold_alerts(&self) -> bool {
        if !self.board.visibility().is_frozen(self.now()) {
            return false;
        }
        if self.freeze.lock().held_alerts.is_none() {
            let answer = serde_json::to_value(self.alerts.answer()).expect("alerts serialize");
            let held = self.freeze.update(&|saved| {
                let first = saved.held_alerts.is_none();
                if first {
                    saved.held_alerts = Some(answer.clone());
                }
                first
            });
            if let Err(e) = held {
                log::error!("the alerts held at the freeze are not saved: {e}");
            }
        }
        true
    }

    /// Whether held alert changes still go to the `[[notify]]` destinations.
    pub(super) fn notify_during_freeze(&self) -> bool {
        self.freeze.notify
    }

    /// What time alone changes for the freeze: the banner at the freeze, and the
    /// next step of an `auto` reveal.
    pub(super) fn freeze_tick(&self) {
        let now = self.now();
        if self.freeze.adopt_incoming() {
            self.reveal_changed();
        }
        self.show_freeze_begun();
        let due = self
            .freeze
            .lock()
            .reveal
            .as_ref()
            .is_some_and(|r| r.auto_due(now));
        if due && let Err(e) = self.reveal_step(now, true) {
            log::warn!("the automatic reveal stopped: {e}");
        }
    }

    /// Shows the banner once the freeze has begun (the phase thread calls it as the
    /// phase changes, so the `freeze` message follows the `contest` one at once).
    pub(super) fn show_freeze_begun(&self) {
        let frozen = self.board.visibility().is_frozen(self.now());
        if frozen != self.freeze.shown_frozen.load(Ordering::SeqCst) {
            self.show_visibility();
        }
    }

    /// Shows the next step; with `auto`, only if it is still due (another instance
    /// may have shown it).
    fn reveal_step(&self, now: DateTime<FixedOffset>, auto: bool) -> Result<(), ApiError> {
        let refused = RefCell::new(None);
        self.freeze.update(&|saved| {
            let step = match saved.reveal.as_mut() {
                None => Err("the reveal has not started: POST {\"action\": \"start\"} first"),
                Some(reveal) if auto && !reveal.auto_due(now) => return false,
                Some(reveal) => reveal
                    .next(now)
                    .map(|_| ())
                    .ok_or("the reveal has finished: the board is thawed"),
            };
            thaw_if_finished(saved);
            *refused.borrow_mut() = step.err();
            step.is_ok()
        })?;
        if let Some(message) = refused.into_inner() {
            return Err(conflict(message));
        }
        self.reveal_changed();
        Ok(())
    }

    /// Shows the reveal just changed; once finished the public sees everything
    /// (alerts too) and the contest's state says thawed.
    fn reveal_changed(&self) {
        let finished = self
            .freeze
            .lock()
            .reveal
            .as_ref()
            .is_some_and(Reveal::finished);
        self.show_visibility();
        if finished {
            self.contest.refresh(self);
        }
    }
}

fn conflict(message: &str) -> ApiError {
    ApiError::Conflict(message.to_string())
}

/// `POST /api/admin/reveal` with `{"action": "start" | "next" | "auto", "every_secs": N}`.
pub(super) fn reveal(app: &App, body: &Value) -> Result<Reply, ApiError> {
    let action = body["action"].as_str().unwrap_or_default();
    let every = match action {
        "start" | "next" => None,
        "auto" => Some(every_secs(body)?),
        _ => {
            return Err(ApiError::BadRequest(
                "action must be \"start\", \"next\" or \"auto\" (with every_secs)".into(),
            ));
        }
    };
    let schedule = app
        .schedule()
        .filter(|s| s.freeze.is_some())
        .ok_or_else(|| conflict("there is no freeze to reveal: [contest] freeze is not set"))?;
    let now = app.now();
    if now < schedule.end {
        return Err(ApiError::Conflict(format!(
            "the reveal starts after the end of the contest ({})",
            timefmt::format_timestamp(&schedule.end)
        )));
    }
    if action == "next" {
        app.reveal_step(now, false)?;
    } else {
        start_reveal(app, &schedule, now, every, action == "start")?;
    }
    log::info!("reveal: {action}");
    let saved = app.freeze.lock();
    Ok(Reply::json(
        200,
        &json!({"reveal": saved.reveal.as_ref().map(Reveal::view)}),
    ))
}

fn every_secs(body: &Value) -> Result<u64, ApiError> {
    body["every_secs"]
        .as_u64()
        .filter(|n| (1..=MAX_REVEAL_EVERY_SECS).contains(n))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "every_secs must be an integer from 1 to {MAX_REVEAL_EVERY_SECS}"
            ))
        })
}

/// `start`, or `auto` (which starts the reveal when it has not started).
fn start_reveal(
    app: &App,
    schedule: &Schedule,
    now: DateTime<FixedOffset>,
    every: Option<u64>,
    only_start: bool,
) -> Result<(), ApiError> {
    let rule = app.ranking_rule();
    let started = app.freeze.lock().reveal.is_some();
    let teams = (!started).then(|| plan_teams(app, schedule, &rule));
    let refused = RefCell::new(None);
    app.freeze.update(&|saved| {
        let outcome = match (saved.reveal.as_mut(), &teams) {
            (Some(_), _) if only_start => Err("the reveal has already started"),
            (Some(reveal), _) => {
                reveal.auto_secs = every;
                reveal.last_step_at = timefmt::format_timestamp(&now);
                Ok(())
            }
            (None, Some(teams)) => {
                saved.reveal = Some(Reveal::start(&rule, teams, now, every));
                Ok(())
            }
            (None, None) => Err("the reveal was reset meanwhile: try again"),
        };
        thaw_if_finished(saved);
        *refused.borrow_mut() = outcome.err();
        outcome.is_ok()
    })?;
    if let Some(message) = refused.into_inner() {
        return Err(conflict(message));
    }
    app.reveal_changed();
    Ok(())
}

/// The teams of the reveal's plan: their standings at the freeze and at the end.
fn plan_teams(app: &App, schedule: &Schedule, rule: &RankingRule) -> Vec<reveal::Team> {
    let freeze = schedule.freeze.unwrap_or(schedule.end);
    app.board
        .admin_teams_json()
        .iter()
        .filter(|t| t["hidden"] != true)
        .filter_map(|t| {
            let id = TeamId::parse(t["team_id"].as_str()?).ok()?;
            let name = t["team_name"].as_str().unwrap_or(id.as_str()).to_string();
            Some(reveal::Team {
                frozen: standing(app.read_store(), rule, &id, schedule.start, freeze),
                last: standing(app.read_store(), rule, &id, schedule.start, schedule.end),
                id: id.to_string(),
                name,
            })
        })
        .collect()
}

/// A team's standing over the reports that arrived in `[from, to)`.
pub fn standing(
    store: &dyn ReadStore,
    rule: &RankingRule,
    id: &TeamId,
    from: DateTime<FixedOffset>,
    to: DateTime<FixedOffset>,
) -> Standing {
    let range = TimeRange {
        since: Some(from),
        until: Some(before(to)),
    };
    let mut standing = Standing::default();
    for (timestamp, headline) in store.headlines(id, &range).unwrap_or_default() {
        let at_ms = timefmt::parse_timestamp(&timestamp).map_or(0, |t| t.timestamp_millis());
        standing.add(rule, &headline, at_ms);
    }
    standing
}

/// `GET /api/alerts`: the organiser sees them live; during the freeze the public
/// sees them as they stood when the first change was held back.
pub(super) fn alerts(app: &App, reader: &Reader) -> Reply {
    if !matches!(reader, Reader::Admin)
        && app.board.visibility().is_frozen(app.now())
        && let Some(held) = app.freeze.lock().held_alerts.clone()
    {
        return Reply::json(200, &held);
    }
    Reply::json(
        200,
        &serde_json::to_value(app.alerts.answer()).expect("alerts serialize"),
    )
}

/// `GET /api/teams/{id}/history/summary` of the reports before `cutoff`.
pub(super) fn summary_before(
    app: &App,
    id: &TeamId,
    cutoff: DateTime<FixedOffset>,
) -> Result<api::Summary, ApiError> {
    let range = TimeRange {
        since: None,
        until: Some(before(cutoff)),
    };
    let mut summary = app.store.summary(id)?;
    let (total, newest) = app.store.page(id, &range, 0, query::RECENT_FILES)?;
    let newest: Vec<_> = newest.into_iter().filter_map(Result::ok).collect();
    let first = match total {
        0 => Vec::new(),
        n => app.store.page(id, &range, n - 1, 1)?.1,
    };
    summary.total_reports = total;
    summary.last_report = newest.first().map(|r| r.timestamp.clone());
    summary.first_report = first.into_iter().find_map(Result::ok).map(|r| r.timestamp);
    summary.recent_files = newest.into_iter().map(|r| r.file_name).collect();
    Ok(summary)
}

/// `GET /api/teams/{id}/history/series` of the reports before `cutoff`.
pub(super) fn series_before(
    app: &App,
    id: &TeamId,
    since_ms: i64,
    points: usize,
    cutoff: DateTime<FixedOffset>,
) -> Result<api::Series, ApiError> {
    let cutoff_ms = cutoff.timestamp_millis();
    if let Some(files) = app.store.files() {
        // Entries are oldest first: the ones before the cutoff are a head.
        let (total, folded, run_starts) = files.with_entries(id, |entries| {
            let end = entries.partition_point(|e| e.at < cutoff);
            let head = &entries[..end];
            let first = head.partition_point(|e| e.at.timestamp_millis() < since_ms);
            let shown = &head[first..];
            (
                end,
                query::downsample(shown, points),
                query::run_starts(shown),
            )
        });
        return Ok(api::Series {
            team_id: id.to_string(),
            total,
            points: folded.len(),
            series: folded,
            run_starts,
        });
    }
    // PostgreSQL folds in the database: its finest points, those before the cutoff
    // (a point's reports all precede its time `t`), taken evenly down to `points`.
    let mut series = app.store.series(id, since_ms, api::MAX_SERIES_POINTS)?;
    series.series.retain(|p| p.t < cutoff_ms);
    series.run_starts.retain(|r| r.t < cutoff_ms);
    let range = TimeRange {
        since: None,
        until: Some(before(cutoff)),
    };
    series.total = app.store.page(id, &range, 0, 0)?.0;
    if series.series.len() > points {
        let step = series.series.len().div_ceil(points);
        series.series = series.series.iter().step_by(step).cloned().collect();
    }
    series.points = series.series.len();
    Ok(series)
}
