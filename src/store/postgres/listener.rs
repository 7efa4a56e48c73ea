//! The listener thread of an instance: `LISTEN`s on its own connection and hands
//! what other instances announce to the [`Feed`]: their batches of reports
//! ([`announce`]; its own it skips, the writer offered them already) and their other
//! changes ([`changes`](super::changes)).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::Client;
use postgres::fallible_iterator::FallibleIterator;

use super::announce;
use super::feed::{Feed, FeedEvent};
use super::{CHANNEL, PgError, Target};
use crate::team::TeamId;

/// How long the listener waits for a notification before it looks at its stop flag
/// (and at the feed's suspects).
const POLL: Duration = Duration::from_millis(100);
/// A silent listener connection is checked this often (a dead peer sends no FIN).
const CHECK_EVERY: Duration = Duration::from_secs(2);

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
        feed.clear_suspects(client, target)?;
        let announced = next_notifications(client, target, feed.instance())?;
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

/// Waits up to [`POLL`] for one notification, then takes whatever else is buffered;
/// what it announces unless `ours` announced it.
fn next_notifications(
    client: &mut Client,
    target: &str,
    ours: u64,
) -> Result<Vec<Announced>, PgError> {
    let fail = |e| PgError::from_driver(target, e);
    let mut notifications = client.notifications();
    let mut announced = Vec::new();
    let Some(note) = notifications.timeout_iter(POLL).next().map_err(fail)? else {
        return Ok(announced);
    };
    announced.extend(parse(note.payload(), ours));
    let mut rest = notifications.iter();
    while let Some(note) = rest.next().map_err(fail)? {
        announced.extend(parse(note.payload(), ours));
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

/// The reports of a payload ([`announce`]) unless instance `ours` stored them, or a
/// `!` change; anything else (someone else's NOTIFY on our channel) is ignored.
fn parse(payload: &str, ours: u64) -> Vec<Announced> {
    if payload.starts_with('!') {
        return vec![Announced::Change(payload.to_string())];
    }
    let (by, reports) = announce::parse(payload);
    if by == Some(ours) {
        return Vec::new();
    }
    reports
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
    fn only_other_instances_payloads_are_read() {
        assert!(matches!(
            parse("team-1 42", 7)[..],
            [Announced::Report(_, 42)]
        ));
        assert!(matches!(
            parse("@5\na 1-3\nb 4", 7)[..],
            [Announced::Report(_, 3), Announced::Report(_, 4)]
        ));
        assert!(parse("@7\na 1-3\nb 4", 7).is_empty(), "our own batch");
        assert!(matches!(parse("!team 1 a", 7)[..], [Announced::Change(_)]));
        assert!(parse("team 1 2", 7).is_empty());
        assert!(parse("../x 1", 7).is_empty());
        assert!(parse("hello", 7).is_empty());
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
