//! Every instance's board sees every report, exactly once and in order per team.
//!
//! Reports reach the [`Feed`] two ways: this instance's writer offers each report it
//! committed (before answering the POST, so a client reads its own report at once),
//! and the [`Listener`](super::listener::Listener) thread offers what each `NOTIFY`
//! of another instance announces (one per committed batch, a line per team:
//! [`announce`](super::announce)); it skips this instance's own. The feed keeps the
//! newest seq it passed on per team: an offer at or below it is a duplicate and
//! dropped, an offer beyond the next one first fetches the reports in between. A
//! team's seqs commit in order (its row is locked), so when seq `n` is visible every
//! seq below it is too.
//!
//! A lost listener connection is retried with backoff; once back, the listener
//! catches up from the `teams` table (each team's newest seq), so what was announced
//! while it was away is fetched, not missed. A batch whose COMMIT failed without an
//! answer may have been stored: its teams are [suspects](Feed::suspect), caught up
//! the same way at the listener's next turn. Gaps longer than [`REPLAY_LIMIT`] are
//! not replayed report by report: the team's state is sent whole instead.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use postgres::Client;

use super::PgError;
use super::admin::{SavedPresentation, read_presentation};
use super::changes::{self, Change};
use super::read::{self, TeamRow};
use super::writer::Appended;
use crate::metrics::Metrics;
use crate::report::Report;
use crate::store::StoredReport;
use crate::team::TeamId;

/// Longest gap replayed report by report; beyond it the team's state is sent whole.
pub const REPLAY_LIMIT: u64 = 200;

/// What the board learns from the store.
#[derive(Debug, Clone)]
pub enum FeedEvent {
    /// A report stored by this or another instance; per team, seqs come in order.
    Report {
        seq: u64,
        stored: Arc<StoredReport>,
        metrics: Metrics,
    },
    /// A team's whole state, sent instead of a long run of reports.
    Team(Box<TeamRow>),
    /// The database became unreachable (`false`) or reachable again (`true`).
    Available(bool),
    /// The database's clock minus ours, measured at each (re)connection.
    Clock(chrono::TimeDelta),
    /// Another instance changed a team's reports (trash, restore, reset): its state
    /// now, `None` when no report of it is left outside the trash.
    TeamChanged(TeamId, Option<Box<TeamRow>>),
    /// Another instance changed the hidden teams or given names: all of them now.
    Presentation(SavedPresentation),
    /// Another instance's organiser action, as viewers get it (`admin_action`).
    AdminAction(serde_json::Value),
    /// Another instance's alert state change, the message viewers get.
    Alert(serde_json::Value),
    /// Another instance changed the contest state (the reveal): it now, and its
    /// version in the database.
    Contest(i64, Box<crate::contest::state::SavedContest>),
}

type Sink = Box<dyn Fn(FeedEvent) + Send + Sync>;

#[derive(Default)]
struct State {
    /// Per team, the newest seq passed on.
    known: HashMap<TeamId, u64>,
    sink: Option<Sink>,
}

/// Passes reports on exactly once and in order per team (see the module docs).
pub struct Feed {
    state: Mutex<State>,
    /// This instance's number in its announcements (random).
    instance: u64,
    /// Teams with reports that may be stored but were not passed on (see [`Feed::suspect`]).
    suspects: Mutex<HashSet<TeamId>>,
}

impl Default for Feed {
    fn default() -> Feed {
        Feed {
            state: Mutex::default(),
            instance: fastrand::u64(..),
            suspects: Mutex::default(),
        }
    }
}

impl Feed {
    /// This instance's number in its announcements ([`changes`], and of reports:
    /// [`announce`](super::announce)), by which its listener skips its own.
    pub(super) fn instance(&self) -> u64 {
        self.instance
    }

    /// A change another instance announced: reads what it changed and passes it on.
    pub(super) fn offer_change(
        &self,
        client: &mut Client,
        target: &str,
        payload: &str,
    ) -> Result<(), PgError> {
        let Some((instance, change)) = changes::parse(payload) else {
            return Ok(());
        };
        if instance == self.instance {
            return Ok(());
        }
        let event = match change {
            Change::Team(id) => {
                let row = read::team(client, target, &id)?.map(Box::new);
                FeedEvent::TeamChanged(id, row)
            }
            Change::Presentation => FeedEvent::Presentation(read_presentation(client, target)?),
            Change::AdminAction(entry) => FeedEvent::AdminAction(entry),
            Change::Alert(message) => FeedEvent::Alert(message),
            Change::Contest => contest_event(client, target)?,
        };
        self.send(event);
        Ok(())
    }

    pub(super) fn set_sink(&self, known: impl IntoIterator<Item = (TeamId, u64)>, sink: Sink) {
        let mut state = self.state.lock().expect("feed lock poisoned");
        state.known = known.into_iter().collect();
        state.sink = Some(sink);
    }

    /// A report this instance has just committed, with the metrics it computed.
    pub(super) fn offer_own(
        &self,
        client: &mut Client,
        target: &str,
        appended: &Appended,
        metrics: &Metrics,
    ) {
        let mut state = self.state.lock().expect("feed lock poisoned");
        if state.sink.is_none() {
            return;
        }
        let id = &appended.stored.team_id;
        let known = state.known.get(id).copied().unwrap_or(0);
        if appended.seq <= known {
            return;
        }
        if appended.seq > known + 1 {
            // Another instance's reports came in between and were not announced yet.
            if let Err(e) = fill(&mut state, client, target, id, appended.seq - 1) {
                log::warn!(
                    "{e}; the board skips reports of {id} before #{}",
                    appended.seq
                );
            }
            if state.known.get(id).copied().unwrap_or(0) >= appended.seq {
                return;
            }
        }
        emit(
            &mut state,
            id,
            appended.seq,
            Arc::clone(&appended.stored),
            metrics.clone(),
        );
    }

    /// A report announced by NOTIFY: passes on what is missing of the team up to `seq`.
    pub(super) fn offer_announced(
        &self,
        client: &mut Client,
        target: &str,
        id: &TeamId,
        seq: u64,
    ) -> Result<(), PgError> {
        let mut state = self.state.lock().expect("feed lock poisoned");
        if state.known.get(id).copied().unwrap_or(0) >= seq {
            return Ok(());
        }
        fill(&mut state, client, target, id, seq)
    }

    /// After a reconnection: passes on every team's reports stored meanwhile.
    pub(super) fn catch_up(&self, client: &mut Client, target: &str) -> Result<(), PgError> {
        let rows = client
            .query("SELECT team_id, reports FROM teams WHERE reports > 0", &[])
            .map_err(|e| PgError::from_driver(target, e))?;
        self.offer_counts(client, target, &rows)
    }

    /// The writer's COMMIT of reports of `teams` failed without an answer: they may
    /// be stored, and its listener would skip their announcement as its own.
    pub(super) fn suspect<'a>(&self, teams: impl IntoIterator<Item = &'a TeamId>) {
        self.suspects().extend(teams.into_iter().cloned());
    }

    /// Passes on what is stored of the suspect teams (see [`Feed::suspect`]).
    pub(super) fn clear_suspects(&self, client: &mut Client, target: &str) -> Result<(), PgError> {
        let teams: Vec<TeamId> = self.suspects().iter().cloned().collect();
        if teams.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = teams.iter().map(TeamId::as_str).collect();
        let rows = client
            .query(
                "SELECT team_id, reports FROM teams WHERE team_id = ANY($1)",
                &[&ids],
            )
            .map_err(|e| PgError::from_driver(target, e))?;
        self.offer_counts(client, target, &rows)?;
        let mut suspects = self.suspects();
        for team in &teams {
            suspects.remove(team);
        }
        Ok(())
    }

    /// Offers each `(team_id, reports)` row as announced.
    fn offer_counts(
        &self,
        client: &mut Client,
        target: &str,
        rows: &[postgres::Row],
    ) -> Result<(), PgError> {
        for row in rows {
            let Ok(id) = TeamId::parse(row.get(0)) else {
                continue;
            };
            self.offer_announced(client, target, &id, row.get::<_, i64>(1) as u64)?;
        }
        Ok(())
    }

    fn suspects(&self) -> std::sync::MutexGuard<'_, HashSet<TeamId>> {
        self.suspects.lock().expect("feed lock poisoned")
    }

    /// After a lost connection: passes on the hidden teams and names and every
    /// team's state whole (what other instances' organiser actions changed meanwhile).
    pub(super) fn resync(&self, client: &mut Client, target: &str) -> Result<(), PgError> {
        self.send(FeedEvent::Presentation(read_presentation(client, target)?));
        self.send(contest_event(client, target)?);
        for row in read::teams(client, target)? {
            let id = row.latest.team_id.clone();
            self.send(FeedEvent::TeamChanged(id, Some(Box::new(row))));
        }
        let emptied = client
            .query("SELECT team_id FROM teams WHERE latest_seq IS NULL", &[])
            .map_err(|e| PgError::from_driver(target, e))?;
        for row in emptied {
            if let Ok(id) = TeamId::parse(row.get(0)) {
                self.send(FeedEvent::TeamChanged(id, None));
            }
        }
        Ok(())
    }

    pub(super) fn send(&self, event: FeedEvent) {
        let state = self.state.lock().expect("feed lock poisoned");
        if let Some(sink) = &state.sink {
            sink(event);
        }
    }
}

/// Passes on the team's reports after the known seq up to `upto`: one by one, or
/// the team's whole state when the gap is longer than [`REPLAY_LIMIT`].
fn fill(
    state: &mut State,
    client: &mut Client,
    target: &str,
    id: &TeamId,
    upto: u64,
) -> Result<(), PgError> {
    let known = state.known.get(id).copied().unwrap_or(0);
    if upto - known > REPLAY_LIMIT {
        if let Some(row) = read::team(client, target, id)? {
            state.known.insert(id.clone(), row.seq);
            if let Some(sink) = &state.sink {
                sink(FeedEvent::Team(Box::new(row)));
            }
        }
        return Ok(());
    }
    let reports =
        read::reports_between(client, target, id.as_str(), known as i64 + 1, upto as i64)?;
    for (seq, stored) in reports {
        let metrics = Report::fields_of(&stored.stats)
            .map(|report| Metrics::of(&report))
            .unwrap_or_default();
        emit(state, id, seq as u64, Arc::new(stored), metrics);
    }
    Ok(())
}

fn contest_event(client: &mut Client, target: &str) -> Result<FeedEvent, PgError> {
    let (version, state) = super::contest::read(client, target)?;
    Ok(FeedEvent::Contest(version, Box::new(state)))
}

fn emit(state: &mut State, id: &TeamId, seq: u64, stored: Arc<StoredReport>, metrics: Metrics) {
    state.known.insert(id.clone(), seq);
    if let Some(sink) = &state.sink {
        sink(FeedEvent::Report {
            seq,
            stored,
            metrics,
        });
    }
}
