//! Delivery: one thread sends the alerts' messages, never the ingest path.
//!
//! [`AlertSender::send`] only puts the changes in a bounded queue (`try_send`:
//! when it is full the changes are dropped and counted, the report is not held up).
//! The thread keeps a list per destination and sends it as one message when the
//! platform's rate limit allows ([`NotifyKind::rate_limits`]): under the limit each
//! change goes at once, over it the changes wait and go together, batched into one
//! message. A failed message is retried with a doubling backoff; a destination that
//! hangs costs the sender thread at most `timeout` per attempt, and nothing else.
//! The last delivery status of every destination is kept for `GET /api/alerts`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};
use serde::Serialize;

use super::engine::{Change, Phase};
use super::notify::message::MAX_LISTED;
use super::notify::{self, Destination, Notice, NotifyKind};
pub use super::transport::send_test;
use super::transport::{agent, post, unix_ms};
use crate::timefmt::format_timestamp;

/// Changes waiting per destination; past it the oldest are dropped (and counted).
pub const MAX_WAITING: usize = 1000;

impl NotifyKind {
    /// The platform's documented rate limits: at most `n` messages per `window`.
    /// The generic webhook has none documented; 10/s keeps a receiver's burst sane.
    pub fn rate_limits(self) -> &'static [(Duration, usize)] {
        const SECOND: Duration = Duration::from_secs(1);
        const MINUTE: Duration = Duration::from_secs(60);
        match self {
            NotifyKind::Feishu => &[(SECOND, 5), (MINUTE, 100)],
            NotifyKind::Dingtalk | NotifyKind::Wecom => &[(MINUTE, 20)],
            NotifyKind::Slack => &[(SECOND, 1)],
            NotifyKind::Webhook => &[(SECOND, 10)],
        }
    }
}

/// Counts the messages sent in sliding windows.
#[derive(Debug, Clone)]
pub struct Limiter {
    limits: &'static [(Duration, usize)],
    sent: VecDeque<Instant>,
}

impl Limiter {
    pub fn new(limits: &'static [(Duration, usize)]) -> Limiter {
        Limiter {
            limits,
            sent: VecDeque::new(),
        }
    }

    /// The earliest time, `now` or later, at which one more message is allowed.
    pub fn next_allowed(&mut self, now: Instant) -> Instant {
        let longest = self
            .limits
            .iter()
            .map(|(w, _)| *w)
            .max()
            .unwrap_or_default();
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= longest)
        {
            self.sent.pop_front();
        }
        let mut allowed = now;
        for &(window, max) in self.limits {
            let in_window = self
                .sent
                .iter()
                .filter(|t| now.duration_since(**t) < window)
                .count();
            if in_window >= max {
                // The message that must leave the window before one more may go.
                let blocking = self.sent[self.sent.len() - max];
                allowed = allowed.max(blocking + window);
            }
        }
        allowed
    }

    /// Counts a message sent at `at`.
    pub fn record(&mut self, at: Instant) {
        self.sent.push_back(at);
    }
}

/// How the sender behaves; the defaults suit real platforms, tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct SenderOptions {
    /// Changes the queue to the sender thread holds.
    pub queue: usize,
    /// Longest wait for one destination's answer.
    pub timeout: Duration,
    /// Attempts per message, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub first_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// The same limits for every destination instead of each platform's own
    /// (tests use a short window); `None` in the server.
    pub rate_limits: Option<&'static [(Duration, usize)]>,
}

impl Default for SenderOptions {
    fn default() -> SenderOptions {
        SenderOptions {
            queue: 1024,
            timeout: Duration::from_secs(10),
            max_attempts: 4,
            first_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            rate_limits: None,
        }
    }
}

/// Where the deliveries to one destination stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Nothing sent yet.
    Idle,
    /// The last message was taken.
    Delivered,
    /// The last attempt failed; another will follow.
    Retrying,
    /// The last message was given up on.
    Failed,
}

/// The last delivery status of one destination.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryStatus {
    pub name: String,
    pub kind: NotifyKind,
    pub state: DeliveryState,
    /// When the last attempt was made (RFC 3339).
    pub last_attempt: Option<String>,
    /// When a message was last taken.
    pub last_delivered: Option<String>,
    /// What the destination answered last (status and the start of the body), or
    /// why there was no answer.
    pub answer: Option<String>,
    /// Messages taken, and given up on.
    pub delivered: u64,
    pub failed: u64,
    /// Changes waiting for the next message.
    pub waiting: usize,
    /// Changes dropped: a full queue or too many waiting.
    pub dropped: u64,
}

impl DeliveryStatus {
    fn new(destination: &Destination) -> DeliveryStatus {
        DeliveryStatus {
            name: destination.name.clone(),
            kind: destination.kind,
            state: DeliveryState::Idle,
            last_attempt: None,
            last_delivered: None,
            answer: None,
            delivered: 0,
            failed: 0,
            waiting: 0,
            dropped: 0,
        }
    }
}

type Statuses = Arc<Mutex<Vec<DeliveryStatus>>>;

fn lock(statuses: &Statuses) -> std::sync::MutexGuard<'_, Vec<DeliveryStatus>> {
    statuses.lock().unwrap_or_else(|e| e.into_inner())
}

/// The handle of the sender thread; dropping it stops the thread.
pub struct AlertSender {
    queue: Option<Sender<Vec<Change>>>,
    statuses: Statuses,
    finished: Receiver<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AlertSender {
    /// Starts the thread for `destinations`; `board_url` is linked from messages of
    /// destinations without their own `board_url`.
    pub fn start(
        destinations: Vec<Destination>,
        board_url: String,
        options: SenderOptions,
    ) -> AlertSender {
        let statuses: Statuses = Arc::new(Mutex::new(
            destinations.iter().map(DeliveryStatus::new).collect(),
        ));
        let (queue, incoming) = bounded(options.queue.max(1));
        let (done, finished) = bounded(1);
        let worker = Worker {
            agent: agent(options.timeout),
            options,
            board_url,
            lanes: destinations
                .into_iter()
                .map(|d| {
                    let limits = options.rate_limits.unwrap_or(d.kind.rate_limits());
                    Lane::new(d, limits)
                })
                .collect(),
            statuses: Arc::clone(&statuses),
        };
        let thread = std::thread::Builder::new()
            .name("alert-sender".into())
            .spawn(move || {
                worker.run(&incoming);
                let _ = done.send(());
            })
            .expect("spawning the alert sender thread");
        AlertSender {
            queue: Some(queue),
            statuses,
            finished,
            thread: Some(thread),
        }
    }

    /// Hands the firing and resolved ones of `changes` to the sender thread; never
    /// waits. When the queue is full they are dropped and counted.
    pub fn send(&self, changes: &[Change]) {
        let wanted: Vec<Change> = changes
            .iter()
            .filter(|c| matches!(c.to, Phase::Firing | Phase::Resolved))
            .cloned()
            .collect();
        if wanted.is_empty() {
            return;
        }
        let Some(queue) = &self.queue else { return };
        if let Err(TrySendError::Full(lost) | TrySendError::Disconnected(lost)) =
            queue.try_send(wanted)
        {
            for status in lock(&self.statuses).iter_mut() {
                status.dropped += lost.len() as u64;
            }
        }
    }

    /// The last delivery status of every destination, in the contest file's order.
    pub fn statuses(&self) -> Vec<DeliveryStatus> {
        lock(&self.statuses).clone()
    }
}

impl Drop for AlertSender {
    /// Stops the thread; one stuck on a destination that does not answer is left
    /// to end by itself (within `timeout`) rather than holding up the shutdown.
    fn drop(&mut self) {
        self.queue = None;
        if self.finished.recv_timeout(Duration::from_secs(1)).is_ok()
            && let Some(thread) = self.thread.take()
        {
            let _ = thread.join();
        }
    }
}

/// One destination's waiting changes and limits.
struct Lane {
    destination: Destination,
    limiter: Limiter,
    waiting: VecDeque<Change>,
    /// Failed attempts of the message now waiting.
    attempts: u32,
    retry_at: Option<Instant>,
}

impl Lane {
    fn new(destination: Destination, limits: &'static [(Duration, usize)]) -> Lane {
        Lane {
            limiter: Limiter::new(limits),
            destination,
            waiting: VecDeque::new(),
            attempts: 0,
            retry_at: None,
        }
    }

    /// When the waiting changes may go; `None` when nothing waits.
    fn due(&mut self, now: Instant) -> Option<Instant> {
        if self.waiting.is_empty() {
            return None;
        }
        let allowed = self.limiter.next_allowed(now);
        Some(self.retry_at.map_or(allowed, |retry| retry.max(allowed)))
    }
}

struct Worker {
    agent: ureq::Agent,
    options: SenderOptions,
    board_url: String,
    lanes: Vec<Lane>,
    statuses: Statuses,
}

impl Worker {
    fn run(mut self, incoming: &Receiver<Vec<Change>>) {
        loop {
            let now = Instant::now();
            for index in 0..self.lanes.len() {
                if self.lanes[index].due(now).is_some_and(|due| due <= now) {
                    self.deliver(index);
                }
            }
            let now = Instant::now();
            let next = self.lanes.iter_mut().filter_map(|lane| lane.due(now)).min();
            let wait = next.map_or(Duration::from_secs(3600), |due| {
                due.saturating_duration_since(now)
            });
            match incoming.recv_timeout(wait) {
                Ok(changes) => self.distribute(changes),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn distribute(&mut self, changes: Vec<Change>) {
        let mut statuses = lock(&self.statuses);
        for (lane, status) in self.lanes.iter_mut().zip(statuses.iter_mut()) {
            for change in changes.iter().filter(|c| lane.destination.wants(&c.rule)) {
                if lane.waiting.len() == MAX_WAITING {
                    lane.waiting.pop_front();
                    status.dropped += 1;
                }
                lane.waiting.push_back(change.clone());
            }
            status.waiting = lane.waiting.len();
        }
    }

    /// Sends everything waiting for lane `index` as one message.
    fn deliver(&mut self, index: usize) {
        let lane = &mut self.lanes[index];
        let board_url = lane
            .destination
            .board_url
            .as_deref()
            .unwrap_or(&self.board_url);
        let changes: Vec<Change> = lane.waiting.iter().take(MAX_LISTED).cloned().collect();
        let notice = Notice {
            changes: &changes,
            left_out: lane.waiting.len() - changes.len(),
            board_url,
            test: false,
        };
        let outgoing = notify::build(&lane.destination, &notice, unix_ms());
        lane.limiter.record(Instant::now());
        let attempt_at = format_timestamp(&crate::timefmt::now().fixed_offset());
        let (status_code, result) = post(&self.agent, &outgoing, lane.destination.kind);
        let mut statuses = lock(&self.statuses);
        let status = &mut statuses[index];
        status.last_attempt = Some(attempt_at.clone());
        match result {
            Ok(answer) => {
                status.state = DeliveryState::Delivered;
                status.last_delivered = Some(attempt_at);
                status.answer = Some(answer);
                status.delivered += 1;
                lane.waiting.clear();
                lane.attempts = 0;
                lane.retry_at = None;
            }
            Err(answer) => {
                log::warn!(
                    "alert delivery to {:?} failed: {answer}",
                    lane.destination.name
                );
                status.answer = Some(answer);
                lane.attempts += 1;
                // A refusal of the request itself will not change on its own.
                let final_refusal =
                    status_code.is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429);
                if final_refusal || lane.attempts >= self.options.max_attempts {
                    status.state = DeliveryState::Failed;
                    status.failed += 1;
                    lane.waiting.clear();
                    lane.attempts = 0;
                    lane.retry_at = None;
                } else {
                    status.state = DeliveryState::Retrying;
                    let backoff = self
                        .options
                        .first_backoff
                        .saturating_mul(1 << (lane.attempts - 1).min(16));
                    lane.retry_at = Some(Instant::now() + backoff.min(self.options.max_backoff));
                }
            }
        }
        status.waiting = lane.waiting.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feishu_allows_five_a_second_and_a_hundred_a_minute() {
        let start = Instant::now();
        let mut limiter = Limiter::new(NotifyKind::Feishu.rate_limits());
        for _ in 0..5 {
            assert_eq!(limiter.next_allowed(start), start);
            limiter.record(start);
        }
        assert_eq!(limiter.next_allowed(start), start + Duration::from_secs(1));
        // Five a second for 20 seconds: the 101st waits for the minute.
        let mut now = start;
        for second in 1..20 {
            now = start + Duration::from_secs(second);
            for _ in 0..5 {
                assert_eq!(limiter.next_allowed(now), now);
                limiter.record(now);
            }
        }
        assert_eq!(
            limiter.next_allowed(now + Duration::from_secs(1)),
            start + Duration::from_secs(60)
        );
    }

    #[test]
    fn dingtalk_and_wecom_allow_twenty_a_minute() {
        for kind in [NotifyKind::Dingtalk, NotifyKind::Wecom] {
            let start = Instant::now();
            let mut limiter = Limiter::new(kind.rate_limits());
            for i in 0..20 {
                let at = start + Duration::from_secs(i);
                assert_eq!(limiter.next_allowed(at), at);
                limiter.record(at);
            }
            let later = start + Duration::from_secs(30);
            assert_eq!(limiter.next_allowed(later), start + Duration::from_secs(60));
            assert_eq!(
                limiter.next_allowed(start + Duration::from_secs(61)),
                start + Duration::from_secs(61)
            );
        }
    }
}
