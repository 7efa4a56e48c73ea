//! `benchboard-client watch`: follow a file a load tool is writing (k6's NDJSON,
//! Locust's history CSV, a JTL), aggregate it as it grows and push the team's
//! cumulative report every interval; when stopped, push a last one.
//!
//! Memory stays bounded whatever the file's size: it is read a chunk at a time
//! ([`crate::import::follow`]) into a [`Live`] aggregation, which keeps totals and
//! one histogram per operation kind. A rotated or truncated file is followed on from
//! its new beginning, and what was counted before stays counted.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::retry::{DeliveryError, RetryPolicy, send_with_retry};
use super::sender::{ReportSender, SendError};
use crate::import::follow::{CHUNK_BYTES, Follower, Poll, Restart};
use crate::import::{Format, ImportError, Live, Options};
use crate::stop::StopSignal;

/// How often the file is looked at when nothing new came.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// After the stop, how long what the tool wrote last is still read before the last push.
const LAST_READ: Duration = Duration::from_secs(1);

/// What to watch and where to push.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub path: PathBuf,
    /// A live format ([`Format::is_live`]).
    pub format: Format,
    pub options: Options,
    /// Time between two pushes.
    pub interval: Duration,
    pub team_id: String,
    pub team_name: Option<String>,
    /// Retries of each push (a failed push is retried by the next one anyway).
    pub retry: RetryPolicy,
}

/// Something a watch did, for the caller to print.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// A report was stored by the server.
    Pushed(Pushed),
    /// The file started over; its new content is read from the start.
    Restarted(Restart),
    /// A push failed; the next one carries the same numbers and more.
    PushFailed(DeliveryError),
    /// A push is being retried.
    Retrying {
        error: SendError,
        attempt: u32,
        wait: Duration,
    },
}

/// One stored push.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pushed {
    /// Pushes stored so far, this one included.
    pub number: u64,
    pub requests: u64,
    pub errors: u64,
    /// Bytes of the file (files) read so far.
    pub bytes_read: u64,
    /// True for the last push, after the stop.
    pub last: bool,
}

/// Why a watch ended before it was stopped.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The file is not (or no longer) the format.
    #[error("{0}")]
    Import(#[from] ImportError),
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The server refused a report (4xx): pushing more would not help.
    #[error("{0}")]
    Refused(DeliveryError),
}

/// Watches until `stop`, then pushes a last report; returns the pushes stored.
pub fn watch(
    sender: &ReportSender,
    config: &WatchConfig,
    stop: &StopSignal,
    mut on_event: impl FnMut(WatchEvent),
) -> Result<u64, WatchError> {
    let mut state = Watch {
        live: Live::new(config.format, config.options.clone())?,
        follower: Follower::new(&config.path),
        buffer: Vec::with_capacity(CHUNK_BYTES),
        pushed: 0,
        bytes_read: 0,
        changed: false,
    };
    let mut next_push = Instant::now() + config.interval;
    while !stop.is_stopped() {
        if state.step(config, &mut on_event)? == Poll::Idle {
            let until_push = next_push.saturating_duration_since(Instant::now());
            stop.wait(until_push.min(POLL_EVERY));
        }
        if Instant::now() >= next_push {
            state.push(sender, config, stop, false, &mut on_event)?;
            next_push = Instant::now() + config.interval;
        }
    }
    // What the tool wrote up to the stop goes into the last report (a line still
    // being written waits, as it would have), read for at most LAST_READ.
    let until = Instant::now() + LAST_READ;
    while Instant::now() < until && state.step(config, &mut on_event)? != Poll::Idle {}
    state.push(sender, config, stop, true, &mut on_event)?;
    Ok(state.pushed)
}

struct Watch {
    live: Live,
    follower: Follower,
    buffer: Vec<u8>,
    pushed: u64,
    bytes_read: u64,
    /// Something was read since the last push.
    changed: bool,
}

impl Watch {
    /// Reads what is new in the file (a chunk at most) into the aggregation.
    fn step(
        &mut self,
        config: &WatchConfig,
        on_event: &mut impl FnMut(WatchEvent),
    ) -> Result<Poll, WatchError> {
        let poll = self
            .follower
            .poll(&mut self.buffer)
            .map_err(|source| WatchError::Read {
                path: config.path.display().to_string(),
                source,
            })?;
        match poll {
            Poll::Data(n) => {
                self.live.feed(&self.buffer)?;
                self.bytes_read += n as u64;
                self.changed = true;
            }
            Poll::Restarted(why) => {
                self.live.restart_file();
                on_event(WatchEvent::Restarted(why));
            }
            Poll::Idle => {}
        }
        Ok(poll)
    }

    /// Pushes the cumulative report if anything was read since the last push.
    fn push(
        &mut self,
        sender: &ReportSender,
        config: &WatchConfig,
        stop: &StopSignal,
        last: bool,
        on_event: &mut impl FnMut(WatchEvent),
    ) -> Result<(), WatchError> {
        if !self.changed {
            return Ok(());
        }
        let run = self.live.run();
        let converted = run.converted(config.format);
        let body = serde_json::to_vec(&converted.report).expect("JSON values serialize");
        let result = send_with_retry(
            sender,
            &config.team_id,
            config.team_name.as_deref(),
            &body,
            &config.retry,
            stop,
            |error, attempt, wait| {
                on_event(WatchEvent::Retrying {
                    error: error.clone(),
                    attempt,
                    wait,
                })
            },
        );
        match result {
            Ok(_) => {
                self.changed = false;
                self.pushed += 1;
                on_event(WatchEvent::Pushed(Pushed {
                    number: self.pushed,
                    requests: run.tally.requests(),
                    errors: run.tally.errors(),
                    bytes_read: self.bytes_read,
                    last,
                }));
                Ok(())
            }
            Err(refused @ DeliveryError::Refused(_)) => Err(WatchError::Refused(refused)),
            Err(other) => {
                on_event(WatchEvent::PushFailed(other));
                Ok(())
            }
        }
    }
}
