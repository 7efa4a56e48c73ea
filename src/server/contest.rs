//! The contest's phases as they happen: a thread that wakes at the next boundary
//! (start, freeze, end) through the server's clock and shows the new phase on the
//! board (a `contest` message to every viewer), and `GET /api/contest`.
//!
//! The thread waits with [`Clock::wait_until`]: a test's `ManualClock` wakes it
//! when moved, a reload or the shutdown by [`ContestWatch::wake`]; it never polls.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::App;
use super::reply::Reply;
use super::trust::TrustState;
use crate::clock::{Clock, Wakeup};
use crate::contest::live::{ContestAnswer, ContestInfo, TeamName};
use crate::contest::ranking::RuleDescription;
use crate::contest::standings::Rules;
use crate::store::StoreError;

type Shown = (Option<ContestInfo>, Option<RuleDescription>);

/// What the phase thread last showed, and how to wake it.
pub struct ContestWatch {
    wake: Arc<Wakeup>,
    stopping: AtomicBool,
    /// The contest and rule last put on the board.
    shown: Mutex<Option<Shown>>,
}

impl ContestWatch {
    /// A watch woken by `clock`'s moves (a test's clock) as well as by [`Self::wake`].
    pub fn new(clock: &Arc<dyn Clock>) -> ContestWatch {
        let wake = Arc::new(Wakeup::default());
        clock.watch(&wake);
        ContestWatch {
            wake,
            stopping: AtomicBool::new(false),
            shown: Mutex::new(None),
        }
    }

    /// Makes the thread look again (the schedule may have changed).
    pub fn wake(&self) {
        self.wake.notify();
    }

    /// Ends [`Self::run`].
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify();
    }

    /// Shows the contest on the board when it differs from what was shown; returns
    /// the next boundary to wake at.
    pub fn refresh(&self, app: &App) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        let now = app.config.clock.now();
        let info = (contest_at(app, now), rule_of(app));
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        if shown.as_ref() != Some(&info) {
            app.board
                .set_contest(info.0.as_ref(), info.1.as_ref(), now.timestamp_millis());
            *shown = Some(info);
        }
        app.trust.state().schedule?.next_boundary(now)
    }

    /// Shows each phase as it begins, until [`Self::stop`].
    pub fn run(&self, app: &App) {
        loop {
            let seen = self.wake.seen();
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            let next = self.refresh(app);
            app.config.clock.wait_until(next, &self.wake, seen);
        }
    }
}

/// Puts the ranking rule and the schedule in force on the board: `[ranking]` (or
/// the original's latest QPS when only `[contest]` is given, so that reports after
/// the end are not ranked); neither: the original's order, no `rank`.
pub fn set_rules(app: &App) -> Result<(), StoreError> {
    let state = app.trust.state();
    let rules = (state.ranking.is_some() || state.schedule.is_some()).then(|| Rules {
        rule: state.ranking.clone().unwrap_or_default(),
        schedule: state.schedule,
    });
    app.board.set_rules(&*app.store, rules)
}

/// After a reload: a changed schedule takes effect now (the phase thread then waits
/// for its new next boundary), a changed rule or schedule ranks again.
pub(super) fn reloaded(app: &App, before: &TrustState) {
    app.contest.refresh(app);
    app.contest.wake();
    let now = app.trust.state();
    if (now.ranking.as_ref(), now.schedule) != (before.ranking.as_ref(), before.schedule)
        && let Err(e) = set_rules(app)
    {
        log::error!("the new ranking rule is not on the board yet: {e}");
    }
}

/// The contest in force at `now`; `None` without `[contest]`.
pub fn contest_at(app: &App, now: chrono::DateTime<chrono::FixedOffset>) -> Option<ContestInfo> {
    let state = app.trust.state();
    let schedule = state.schedule?;
    let teams = state
        .access
        .teams
        .values()
        .map(|t| TeamName {
            team_id: t.id.to_string(),
            team_name: t.name.clone(),
        })
        .collect();
    Some(ContestInfo::at(&schedule, now, app.thawed_at(), teams))
}

/// The `[ranking]` rule in force, described.
fn rule_of(app: &App) -> Option<RuleDescription> {
    app.trust.state().ranking.as_ref().map(|r| r.describe())
}

/// `GET /api/contest`: the contest (or null), the ranking rule (or null) and the
/// server's time in ms.
pub(super) fn answer(app: &App) -> Reply {
    let now = app.config.clock.now();
    let answer = ContestAnswer {
        contest: contest_at(app, now),
        ranking: rule_of(app),
        now: now.timestamp_millis(),
    };
    let mut answer = serde_json::to_value(&answer).expect("the contest serializes");
    // The frozen banner and the reveal's step, as the snapshot's `freeze` carries them.
    answer["freeze"] = app.freeze_note_now();
    Reply::json(200, &answer)
}
