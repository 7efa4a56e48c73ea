//! Every instance's board sees every report, exactly once and in order per team.
//!
//! Reports reach the [`Feed`] two ways: this instance's writer offers each report it
//! committed (before answering the POST, so a client reads its own report at once),
//! and the [`Listener`] thread offers what each `NOTIFY benchboard, '<team>
//! <first>-<last>…'` announces (one per committed batch of any instance, a line per
//! team: [`announce`]). The feed keeps the newest seq it passed on per
//! team: an offer at or below it is a duplicate and dropped, an offer beyond the next
//! one first fetches the reports in between. A team's seqs commit in order (its row
//! is locked), so when seq `n` is visible every seq below it is too.
//!
//! A lost listener connection is retried with backoff; once back, the listener
//! catches up from the `teams` table (each team's newest seq), so what was announced
//! while it was away is fetched, not missed. Gaps longer than [`REPLAY_LIMIT`] are not
//! replayed report by report: the team's state is sent whole instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::Client;
use postgres::fallible_iterator::FallibleIterator;

use super::admin::{SavedPresentation, read_presentation};
use super::announce;
use super::changes::{self, Change};
use super::read::{self, TeamRow};
use super::writer::Appended;
use super::{CHANNEL, PgError, Target};
use crate::metrics::Metrics;
use crate::report::Report;
use crate::store::StoredReport;
use crate::team::TeamId;

/// Longest gap replayed report by report; beyond it the team's state is sent whole.
pub const REPLAY_LIMIT: u64 = 200;
/// How long the listener waits for a notification before it looks at its stop flag.
const POLL: Duration = Duration::from_millis(100);
/// A silent listener connection is checked this often (a dead peer sends no FIN).
const CHECK_EVERY: Duration = Duration::from_secs(2);

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
    /// This instance's number in the `!` announcements of other changes (random).
    instance: u64,
}

impl Default for Feed {
    fn default() -> Feed {
        Feed {
            state: Mutex::default(),
            instance: fastrand::u64(..),
        }
    }
}

impl Feed {
    /// This instance's number in announcements of changes ([`changes`]).
    pub(super) fn instance(&self) -> u64 {
        self.instance
    }

    /// A change another instance announced: reads what it changed and passes it on.
    fn offer_change(
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
    fn offer_announced(
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
    fn catch_up(&self, client: &mut Client, target: &str) -> Result<(), PgError> {
        let rows = client
            .query("SELECT team_id, reports FROM teams WHERE reports > 0", &[])
            .map_err(|e| PgError::from_driver(target, e))?;
        for row in rows {
            let Ok(id) = TeamId::parse(row.get(0)) else {
                continue;
            };
            self.offer_announced(client, target, &id, row.get::<_, i64>(1) as u64)?;
        }
        Ok(())
    }

    /// After a lost connection: passes on the hidden teams and names and every
    /// team's state whole (what other instances' organiser actions changed meanwhile).
    fn resync(&self, client: &mut Client, target: &str) -> Result<(), PgError> {
        self.send(FeedEvent::Presentation(read_presentation(client, target)?));
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

    fn send(&self, event: FeedEvent) {
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

/// The listener thread; stopped and joined on drop.
pub struct Listener {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    pub(super) fn start(mut target: Target, feed: Arc<Feed>) -> Listener {
        // Named apart, so that operators (and tests) can tell it in pg_stat_activity.
        target.config.application_name("benchboard-listener");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("pg-listener".into())
            .spawn(move || listen(&target, &feed, &stopping))
            .expect("spawning the PostgreSQL listener thread");
        Listener {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn listen(target: &Target, feed: &Feed, stop: &AtomicBool) {
    let mut available = true;
    let mut wait = Duration::from_millis(100);
    while !stop.load(Ordering::SeqCst) {
        let outcome = target.connect().and_then(|mut client| {
            client
                .batch_execute(&format!("LISTEN {CHANNEL}"))
                .map_err(|e| PgError::from_driver(&target.shown, e))?;
            feed.send(FeedEvent::Clock(clock_offset(&mut client, &target.shown)?));
            // Listening first, then catching up: nothing falls in between.
            feed.catch_up(&mut client, &target.shown)?;
            if !available {
                // Organiser actions of other instances meanwhile were not heard.
                feed.resync(&mut client, &target.shown)?;
                log::info!(
                    "PostgreSQL at {} is back; the board is live again",
                    target.shown
                );
                available = true;
                feed.send(FeedEvent::Available(true));
            }
            wait = Duration::from_millis(100);
            relay(&mut client, &target.shown, feed, stop)
        });
        if let Err(e) = outcome {
            if available {
                log::warn!("{e}; the board waits for the database and retries");
                available = false;
                feed.send(FeedEvent::Available(false));
            }
            sleep_unless_stopped(wait, stop);
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }
}

/// The database's clock minus ours (taken at the middle of the round trip).
fn clock_offset(client: &mut Client, target: &str) -> Result<chrono::TimeDelta, PgError> {
    let before = chrono::Utc::now();
    let row = client
        .query_one("SELECT statement_timestamp()", &[])
        .map_err(|e| PgError::from_driver(target, e))?;
    let after = chrono::Utc::now();
    let theirs: chrono::DateTime<chrono::Utc> = row.get(0);
    Ok(theirs - (before + (after - before) / 2))
}

/// Passes notifications on until the connection breaks (`Err`) or `stop` is set.
fn relay(client: &mut Client, target: &str, feed: &Feed, stop: &AtomicBool) -> Result<(), PgError> {
    let mut last_heard = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let announced = next_notifications(client, target)?;
        if announced.is_empty() {
            if client.is_closed() {
                return Err(lost(target, "the connection closed"));
            }
            if last_heard.elapsed() >= CHECK_EVERY {
                client
                    .is_valid(CHECK_EVERY)
                    .map_err(|e| PgError::from_driver(target, e))?;
                last_heard = Instant::now();
            }
            continue;
        }
        last_heard = Instant::now();
        for announcement in coalesce(announced) {
            match announcement {
                Announced::Report(id, seq) => feed.offer_announced(client, target, &id, seq)?,
                Announced::Change(payload) => feed.offer_change(client, target, &payload)?,
            }
        }
    }
    Ok(())
}

/// Waits up to [`POLL`] for one notification, then takes whatever else is buffered.
fn next_notifications(client: &mut Client, target: &str) -> Result<Vec<Announced>, PgError> {
    let fail = |e| PgError::from_driver(target, e);
    let mut notifications = client.notifications();
    let mut announced = Vec::new();
    let Some(note) = notifications.timeout_iter(POLL).next().map_err(fail)? else {
        return Ok(announced);
    };
    announced.extend(parse(note.payload()));
    let mut rest = notifications.iter();
    while let Some(note) = rest.next().map_err(fail)? {
        announced.extend(parse(note.payload()));
        if announced.len() >= 4096 {
            break;
        }
    }
    Ok(announced)
}

/// What a notification on the channel announces.
enum Announced {
    Report(TeamId, u64),
    /// Another change, `!…` ([`changes`]).
    Change(String),
}

/// The reports of a payload ([`announce`]) or a `!` change; anything else
/// (someone else's NOTIFY on our channel) is ignored.
fn parse(payload: &str) -> Vec<Announced> {
    if payload.starts_with('!') {
        return vec![Announced::Change(payload.to_string())];
    }
    announce::parse(payload)
        .into_iter()
        .map(|(id, seq)| Announced::Report(id, seq))
        .collect()
}

/// Folds each run of report announcements between changes into one per team (its
/// newest seq): a team's reports are then fetched in one query, not one per batch.
fn coalesce(announced: Vec<Announced>) -> Vec<Announced> {
    let mut out: Vec<Announced> = Vec::with_capacity(announced.len());
    let mut run: HashMap<TeamId, usize> = HashMap::new();
    for announcement in announced {
        match announcement {
            Announced::Report(id, seq) => match run.get(&id) {
                Some(&at) => {
                    if let Announced::Report(_, newest) = &mut out[at] {
                        *newest = (*newest).max(seq);
                    }
                }
                None => {
                    run.insert(id.clone(), out.len());
                    out.push(Announced::Report(id, seq));
                }
            },
            change @ Announced::Change(_) => {
                run.clear();
                out.push(change);
            }
        }
    }
    out
}

fn lost(target: &str, reason: &str) -> PgError {
    PgError::Unavailable {
        target: target.to_string(),
        reason: reason.to_string(),
    }
}

fn sleep_unless_stopped(wait: Duration, stop: &AtomicBool) {
    let until = Instant::now() + wait;
    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20).min(wait));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_payloads_are_read() {
        assert!(matches!(parse("team-1 42")[..], [Announced::Report(_, 42)]));
        assert!(matches!(
            parse("a 1-3\nb 4")[..],
            [Announced::Report(_, 3), Announced::Report(_, 4)]
        ));
        assert!(matches!(parse("!team 1 a")[..], [Announced::Change(_)]));
        assert!(parse("team 1 2").is_empty());
        assert!(parse("../x 1").is_empty());
        assert!(parse("hello").is_empty());
    }

    #[test]
    fn runs_of_reports_fold_but_never_across_a_change() {
        let id = |s: &str| TeamId::parse(s).unwrap();
        let report = |s: &str, n| Announced::Report(id(s), n);
        let folded = coalesce(vec![
            report("a", 3),
            report("b", 1),
            report("a", 7),
            report("a", 5),
            Announced::Change("!team 1 a".into()),
            report("a", 9),
            report("b", 2),
            report("a", 10),
        ]);
        let shown: Vec<String> = folded
            .iter()
            .map(|a| match a {
                Announced::Report(id, n) => format!("{id} {n}"),
                Announced::Change(p) => p.clone(),
            })
            .collect();
        assert_eq!(shown, ["a 7", "b 1", "!team 1 a", "a 10", "b 2"]);
    }
}
