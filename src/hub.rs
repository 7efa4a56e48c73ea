//! Fans board events out to subscribers (the WebSocket viewers).
//!
//! Every event goes once into one shared ring of the newest `capacity` messages;
//! each subscriber reads from it at its own cursor. Publishing costs the same
//! whatever the number of viewers (one push, one wake-up call), and never blocks on
//! a viewer. A subscriber whose cursor has fallen out of the ring is *lagged*: it
//! missed messages, so it must start again from a fresh snapshot. One slow viewer
//! therefore never slows ingest or the other viewers.
//!
//! Messages may carry a key (the team an update is about): a batch holds only the
//! newest message of each key, since it supersedes the older ones; messages without a
//! key are all kept. Order is kept either way.
//!
//! Nothing here blocks: a subscriber reads the batch after its cursor with
//! [`Hub::batch_after`] when a [`Waker`] tells it something was published, then moves
//! its cursor with [`Subscription::advance_to`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One encoded message (a JSON text), shared by every subscriber.
pub type Message = Arc<str>;

/// Refusal of a new subscriber.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubscribeError {
    /// The hub already serves its maximum number of subscribers.
    #[error("too many viewers (limit {0}); try again later")]
    Full(usize),
}

/// Why [`Hub::batch_after`] has no batch for a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    /// The subscriber fell more than the ring's capacity behind; reconnect.
    Lagged,
}

/// The newest messages with their keys; `next_seq` is the sequence number the next one gets.
struct Ring {
    messages: VecDeque<(Option<Box<str>>, Message)>,
    /// Bytes of the messages kept (bounded by [`MAX_RING_BYTES`]).
    bytes: usize,
    next_seq: u64,
    closed: bool,
}

/// Most bytes of messages the ring keeps, whatever its length: reports may be up to
/// `--max-body` each, and every update carries its report's stats.
pub const MAX_RING_BYTES: usize = 64 * 1024 * 1024;

impl Ring {
    fn first_seq(&self) -> u64 {
        self.next_seq - self.messages.len() as u64
    }
}

/// Called after each publish and on close: how a thread that waits on its sockets
/// (the WebSocket writer) learns that there is something to read.
pub type Waker = Box<dyn Fn() + Send + Sync>;

/// The shared ring and its subscribers.
pub struct Hub {
    ring: Mutex<Ring>,
    wakers: Mutex<Vec<Waker>>,
    capacity: usize,
    max_subscribers: usize,
    subscribers: AtomicUsize,
}

/// A subscriber's cursor: it receives every message published after it subscribed.
pub struct Subscription {
    hub: Arc<Hub>,
    cursor: u64,
}

impl Hub {
    /// A hub that keeps the newest `capacity` messages: a subscriber more than that
    /// far behind is lagged. At most `max_subscribers` at once.
    pub fn new(capacity: usize, max_subscribers: usize) -> Arc<Hub> {
        Arc::new(Hub {
            ring: Mutex::new(Ring {
                messages: VecDeque::new(),
                bytes: 0,
                next_seq: 0,
                closed: false,
            }),
            wakers: Mutex::new(Vec::new()),
            capacity: capacity.max(1),
            max_subscribers,
            subscribers: AtomicUsize::new(0),
        })
    }

    /// Adds a subscriber that starts with the next message published, or refuses
    /// when `max_subscribers` are connected.
    pub fn subscribe(self: &Arc<Hub>) -> Result<Subscription, SubscribeError> {
        let taken = self
            .subscribers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.max_subscribers).then_some(n + 1)
            });
        if taken.is_err() {
            return Err(SubscribeError::Full(self.max_subscribers));
        }
        let cursor = self.lock().next_seq;
        Ok(Subscription {
            hub: Arc::clone(self),
            cursor,
        })
    }

    /// Adds a message for every subscriber; never blocks on one. A message with a
    /// `key` supersedes the earlier ones with the same key that a subscriber has not
    /// read yet.
    ///
    /// Nothing is kept while nobody is subscribed: a new subscriber starts after the
    /// snapshot it is given, never with older messages.
    pub fn publish(&self, key: Option<&str>, message: Message) {
        {
            let mut ring = self.lock();
            ring.next_seq += 1;
            if self.subscribers.load(Ordering::SeqCst) == 0 {
                ring.messages.clear();
                ring.bytes = 0;
            } else {
                ring.bytes += message.len();
                ring.messages.push_back((key.map(Box::from), message));
                while ring.messages.len() > 1
                    && (ring.messages.len() > self.capacity || ring.bytes > MAX_RING_BYTES)
                {
                    let (_, dropped) = ring.messages.pop_front().expect("len > 1");
                    ring.bytes -= dropped.len();
                }
            }
        }
        self.wake();
    }

    /// Closes the hub (shutdown) and calls the wakers: [`is_closed`](Hub::is_closed)
    /// turns true, and whoever serves the subscribers sends them what is left, then
    /// closes them.
    pub fn close_all(&self) {
        self.lock().closed = true;
        self.wake();
    }

    /// True once [`close_all`](Hub::close_all) was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Calls `waker` after every publish and on close, from the publishing thread: keep
    /// it short and non-blocking (e.g. set a flag and wake a poller).
    pub fn add_waker(&self, waker: Waker) {
        self.wakers.lock().expect("hub wakers poisoned").push(waker);
    }

    /// The messages published at or after sequence number `cursor` (only the newest of
    /// each key), and the cursor that follows them; never waits. An empty batch means
    /// nothing new. [`Missed::Lagged`] when `cursor` has fallen out of the ring.
    /// Subscribers at the same cursor get the same batch, so it can be read (and
    /// encoded) once for all of them; see [`Subscription::advance_to`].
    pub fn batch_after(&self, cursor: u64) -> Result<(Vec<Message>, u64), Missed> {
        let ring = self.lock();
        if cursor < ring.first_seq() {
            return Err(Missed::Lagged);
        }
        let start = (cursor - ring.first_seq()) as usize;
        let batch = newest_per_key(ring.messages.range(start.min(ring.messages.len())..));
        Ok((batch, ring.next_seq.max(cursor)))
    }

    /// Sequence number of the oldest message still in the ring: a cursor below it is
    /// lagged.
    pub fn oldest_kept(&self) -> u64 {
        self.lock().first_seq()
    }

    fn wake(&self) {
        for waker in self.wakers.lock().expect("hub wakers poisoned").iter() {
            waker();
        }
    }

    /// Number of connected subscribers.
    pub fn len(&self) -> usize {
        self.subscribers.load(Ordering::SeqCst)
    }

    /// True when nobody is subscribed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().expect("hub lock poisoned")
    }
}

impl Subscription {
    /// Sequence number of the next message this subscriber will get.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Moves the cursor past a batch read with [`Hub::batch_after`].
    pub fn advance_to(&mut self, cursor: u64) {
        self.cursor = self.cursor.max(cursor);
    }
}

/// The messages in order, leaving out those superseded by a later one of the same key.
fn newest_per_key<'a>(
    messages: impl DoubleEndedIterator<Item = &'a (Option<Box<str>>, Message)>,
) -> Vec<Message> {
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut batch: Vec<Message> = Vec::new();
    for (key, message) in messages.rev() {
        if let Some(key) = key
            && !seen.insert(key)
        {
            continue;
        }
        batch.push(Arc::clone(message));
    }
    batch.reverse();
    batch
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.subscribers.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// What `sub` gets now, read the way the WebSocket writer reads it: the batch
    /// after its cursor, then the cursor moved past it. Empty: nothing new.
    fn take(hub: &Hub, sub: &mut Subscription) -> Result<Vec<Message>, Missed> {
        let (batch, next) = hub.batch_after(sub.cursor())?;
        sub.advance_to(next);
        Ok(batch)
    }

    #[test]
    fn each_subscriber_gets_every_message_in_order() {
        let hub = Hub::new(8, 10);
        let mut a = hub.subscribe().unwrap();
        hub.publish(None, "m0".into());
        let mut b = hub.subscribe().unwrap();
        hub.publish(None, "m1".into());
        assert_eq!(
            take(&hub, &mut a).unwrap(),
            vec!["m0".into(), "m1".into()] as Vec<Message>
        );
        assert_eq!(
            take(&hub, &mut b).unwrap(),
            vec!["m1".into()] as Vec<Message>
        );
        assert_eq!(take(&hub, &mut a), Ok(Vec::new()));
    }

    #[test]
    fn slow_subscriber_is_lagged_and_others_keep_receiving() {
        let hub = Hub::new(2, 10);
        let mut slow = hub.subscribe().unwrap();
        let mut fast = hub.subscribe().unwrap();
        for i in 0..3 {
            hub.publish(None, format!("m{i}").into());
            assert_eq!(&*take(&hub, &mut fast).unwrap()[0], format!("m{i}"));
        }
        assert_eq!(take(&hub, &mut slow), Err(Missed::Lagged));
    }

    #[test]
    fn a_publish_and_the_close_from_another_thread_wake_the_waiting_side() {
        let hub = Hub::new(4, 10);
        let (woken, wake_ups) = crossbeam_channel::unbounded();
        hub.add_waker(Box::new(move || {
            let _ = woken.send(());
        }));
        let mut sub = hub.subscribe().unwrap();
        let publisher = Arc::clone(&hub);
        let thread = std::thread::spawn(move || {
            publisher.publish(None, "late".into());
            publisher.close_all();
        });
        for _ in 0..2 {
            wake_ups
                .recv_timeout(Duration::from_secs(10))
                .expect("woken by the publish and by the close");
        }
        thread.join().unwrap();
        assert!(hub.is_closed());
        assert_eq!(
            take(&hub, &mut sub).unwrap(),
            vec!["late".into()] as Vec<Message>
        );
        assert_eq!(take(&hub, &mut sub), Ok(Vec::new()));
    }

    #[test]
    fn refuses_past_max_and_frees_on_drop() {
        let hub = Hub::new(2, 1);
        let first = hub.subscribe().unwrap();
        assert_eq!(hub.subscribe().err(), Some(SubscribeError::Full(1)));
        drop(first);
        let _second = hub.subscribe().unwrap();
        assert_eq!(hub.len(), 1);
    }

    #[test]
    fn batch_after_reads_without_waiting_and_wakes_registered_wakers() {
        let hub = Hub::new(2, 10);
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&wakes);
        hub.add_waker(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        let mut sub = hub.subscribe().unwrap();
        assert_eq!(hub.batch_after(sub.cursor()), Ok((Vec::new(), 0)));
        hub.publish(Some("a"), "a1".into());
        hub.publish(Some("a"), "a2".into());
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
        let (batch, next) = hub.batch_after(sub.cursor()).unwrap();
        assert_eq!(batch, vec!["a2".into()] as Vec<Message>);
        sub.advance_to(next);
        assert_eq!(hub.batch_after(sub.cursor()), Ok((Vec::new(), next)));
        hub.publish(None, "m3".into());
        assert_eq!(hub.oldest_kept(), 1);
        assert_eq!(hub.batch_after(0), Err(Missed::Lagged));
        hub.close_all();
        assert!(hub.is_closed());
        assert_eq!(wakes.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn keeps_nothing_while_nobody_is_subscribed() {
        let hub = Hub::new(8, 10);
        hub.publish(None, "unseen".into());
        assert_eq!(hub.lock().messages.len(), 0);
        let mut sub = hub.subscribe().unwrap();
        assert_eq!(take(&hub, &mut sub), Ok(Vec::new()));
        hub.publish(None, "seen".into());
        assert_eq!(
            take(&hub, &mut sub).unwrap(),
            vec!["seen".into()] as Vec<Message>
        );
    }

    #[test]
    fn keeps_only_the_newest_message_of_each_key_in_order() {
        let hub = Hub::new(8, 10);
        let mut sub = hub.subscribe().unwrap();
        hub.publish(Some("a"), "a1".into());
        hub.publish(Some("b"), "b1".into());
        hub.publish(None, "status-a".into());
        hub.publish(Some("a"), "a2".into());
        let batch = take(&hub, &mut sub).unwrap();
        assert_eq!(
            batch,
            vec!["b1".into(), "status-a".into(), "a2".into()] as Vec<Message>
        );
    }
}
