//! Simulated teams reporting on their own threads: [`start_fleet`] runs a [`Fleet`]
//! on a [`Schedule`] and reports what happens to each team as [`Update`]s.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::retry::{DeliveryError, RetryPolicy, send_with_retry};
use super::sender::{ReportSender, SendError};
use crate::simulate::{Profile, SimulatedTeam, default_team_name};
use crate::stop::StopSignal;

/// Time between two reports of a team: a value (jittered ±10%) or a range `A-B` (uniform).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalSpec {
    /// Shortest wait.
    pub min: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl IntervalSpec {
    /// One wait, drawn from the spec.
    pub fn pick(&self, rng: &mut fastrand::Rng) -> Duration {
        self.min + (self.max - self.min).mul_f64(rng.f64())
    }
}

/// When simulated teams report.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Wait between two reports of one team.
    pub interval: IntervalSpec,
    /// Reports per team; `None` runs until stopped.
    pub count: Option<u64>,
}

/// Who a simulated team is, for display.
#[derive(Debug, Clone)]
pub struct TeamInfo {
    pub id: String,
    pub name: String,
    pub profile: Profile,
}

/// Something that happened to one team of a fleet.
#[derive(Debug, Clone, PartialEq)]
pub enum TeamEvent {
    /// Report number `number` (1-based) was stored by the server.
    Sent {
        number: u64,
        /// `avgCompletedQPS` of the report.
        completed_qps: f64,
        /// `totalErrors` of the report.
        errors: u64,
    },
    /// An attempt failed; the next comes after `retry_in`.
    Retrying {
        attempt: u32,
        error: SendError,
        retry_in: Duration,
    },
    /// The server refused a report; this team stops.
    Refused { message: String },
    /// A report was dropped after its allowed attempts; the team carries on.
    GaveUp { error: String },
    /// The team sent its last report (or was stopped).
    Finished,
}

/// One event of the team at index `team` of the fleet.
#[derive(Debug, Clone)]
pub struct Update {
    pub team: usize,
    pub event: TeamEvent,
}

/// Simulated teams reporting on their own threads.
pub struct Fleet {
    /// The teams, in index order.
    pub teams: Vec<TeamInfo>,
    events: Receiver<Update>,
    threads: Vec<JoinHandle<()>>,
}

impl Fleet {
    /// The next update, waiting up to `timeout`; `Err(Disconnected)` once every team finished.
    pub fn next_update(&self, timeout: Duration) -> Result<Update, RecvTimeoutError> {
        self.events.recv_timeout(timeout)
    }

    /// Waits for every team thread (stop them first, or let their count run out) and
    /// returns the updates not yet read.
    pub fn join(self) -> Vec<Update> {
        for thread in self.threads {
            let _ = thread.join();
        }
        self.events.try_iter().collect()
    }
}

/// `count` simulated teams: ids `<prefix>1..`, names `<name> N` (or 第N小组), profiles in turn.
pub fn simulated_teams(
    count: usize,
    id_prefix: &str,
    name: Option<&str>,
    seed: u64,
) -> Vec<SimulatedTeam> {
    (1..=count)
        .map(|n| {
            let name = match name {
                Some(name) if count == 1 => name.to_string(),
                Some(name) => format!("{name} {n}"),
                None => default_team_name(n),
            };
            let team_seed = seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(n as u64);
            SimulatedTeam::new(
                &format!("{id_prefix}{n}"),
                &name,
                Profile::for_team(n - 1),
                team_seed,
            )
        })
        .collect()
}

/// Starts one thread per team; each sends its first report at once, then one per interval.
pub fn start_fleet(
    sender: Arc<ReportSender>,
    teams: Vec<SimulatedTeam>,
    schedule: Schedule,
    retry: RetryPolicy,
    stop: StopSignal,
) -> Fleet {
    let (events_tx, events) = crossbeam_channel::unbounded();
    let infos = teams
        .iter()
        .map(|t| TeamInfo {
            id: t.id.clone(),
            name: t.name.clone(),
            profile: t.profile,
        })
        .collect();
    let threads = teams
        .into_iter()
        .enumerate()
        .map(|(index, team)| {
            let run = TeamRun {
                index,
                sender: Arc::clone(&sender),
                schedule,
                retry,
                stop: stop.clone(),
                events: events_tx.clone(),
            };
            std::thread::Builder::new()
                .name(format!("team-{}", team.id))
                .spawn(move || run.run(team))
                .expect("spawning a simulated team's thread")
        })
        .collect();
    Fleet {
        teams: infos,
        events,
        threads,
    }
}

/// What one team's thread needs.
struct TeamRun {
    index: usize,
    sender: Arc<ReportSender>,
    schedule: Schedule,
    retry: RetryPolicy,
    stop: StopSignal,
    events: Sender<Update>,
}

impl TeamRun {
    fn emit(&self, event: TeamEvent) {
        // The receiver is gone only when the program is ending anyway.
        let _ = self.events.send(Update {
            team: self.index,
            event,
        });
    }

    fn run(self, mut team: SimulatedTeam) {
        let start = Instant::now();
        let mut rng = fastrand::Rng::new();
        let mut number = 0u64;
        while self.schedule.count.is_none_or(|count| number < count) {
            let first = number == 0;
            if self.stop.is_stopped()
                || (!first && self.stop.wait(self.schedule.interval.pick(&mut rng)))
            {
                break;
            }
            number += 1;
            let report = team.report_at(start.elapsed());
            let body = serde_json::to_vec(&report).expect("a JSON value serializes");
            let delivered = send_with_retry(
                &self.sender,
                &team.id,
                Some(&team.name),
                &body,
                &self.retry,
                &self.stop,
                |error, attempt, retry_in| {
                    self.emit(TeamEvent::Retrying {
                        attempt,
                        error: error.clone(),
                        retry_in,
                    })
                },
            );
            match delivered {
                Ok(_) => self.emit(TeamEvent::Sent {
                    number,
                    completed_qps: report["performanceMetrics"]["avgCompletedQPS"]
                        .as_f64()
                        .unwrap_or(0.0),
                    errors: report["totalErrors"].as_u64().unwrap_or(0),
                }),
                Err(DeliveryError::Refused(e)) => {
                    self.emit(TeamEvent::Refused {
                        message: e.to_string(),
                    });
                    break;
                }
                Err(e @ DeliveryError::GaveUp { .. }) => self.emit(TeamEvent::GaveUp {
                    error: e.to_string(),
                }),
                Err(DeliveryError::Stopped) => break,
            }
        }
        self.emit(TeamEvent::Finished);
    }
}
