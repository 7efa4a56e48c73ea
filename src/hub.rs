//! Fans board events out to subscribers (the WebSocket viewers).
//!
//! Each subscriber has a bounded queue. Publishing never blocks: a subscriber whose
//! queue is full has fallen behind and is dropped (its [`Subscription::lagged`]
//! turns true and its queue disconnects once drained), so one slow viewer never
//! slows ingest or the other viewers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender, TrySendError};

/// One encoded message (a JSON text), shared by every subscriber.
pub type Message = Arc<str>;

/// Refusal of a new subscriber.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubscribeError {
    /// The hub already serves its maximum number of subscribers.
    #[error("too many viewers (limit {0}); try again later")]
    Full(usize),
}

struct Subscriber {
    id: u64,
    queue: Sender<Message>,
    lagged: Arc<AtomicBool>,
}

/// The set of subscribers.
pub struct Hub {
    subscribers: Mutex<Vec<Subscriber>>,
    queue_capacity: usize,
    max_subscribers: usize,
    next_id: AtomicU64,
}

/// A subscriber's end: messages in publish order.
pub struct Subscription {
    id: u64,
    pub messages: Receiver<Message>,
    lagged: Arc<AtomicBool>,
    hub: Arc<Hub>,
}

impl Subscription {
    /// True once the hub dropped this subscriber for falling behind.
    pub fn lagged(&self) -> bool {
        self.lagged.load(Ordering::Relaxed)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.remove(self.id);
    }
}

impl Hub {
    /// A hub whose subscribers each queue up to `queue_capacity` messages.
    pub fn new(queue_capacity: usize, max_subscribers: usize) -> Arc<Hub> {
        Arc::new(Hub {
            subscribers: Mutex::new(Vec::new()),
            queue_capacity: queue_capacity.max(1),
            max_subscribers,
            next_id: AtomicU64::new(0),
        })
    }

    /// Adds a subscriber, or refuses when `max_subscribers` are connected.
    pub fn subscribe(self: &Arc<Hub>) -> Result<Subscription, SubscribeError> {
        let mut subscribers = self.subscribers.lock().expect("hub lock poisoned");
        if subscribers.len() >= self.max_subscribers {
            return Err(SubscribeError::Full(self.max_subscribers));
        }
        let (queue, messages) = crossbeam_channel::bounded(self.queue_capacity);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let lagged = Arc::new(AtomicBool::new(false));
        subscribers.push(Subscriber {
            id,
            queue,
            lagged: Arc::clone(&lagged),
        });
        Ok(Subscription {
            id,
            messages,
            lagged,
            hub: Arc::clone(self),
        })
    }

    /// Sends a message to every subscriber without blocking; drops those that lag.
    pub fn publish(&self, message: Message) {
        let mut subscribers = self.subscribers.lock().expect("hub lock poisoned");
        subscribers.retain(|s| match s.queue.try_send(Arc::clone(&message)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                s.lagged.store(true, Ordering::Relaxed);
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
    }

    /// Drops every subscriber (shutdown): their queues disconnect once drained.
    pub fn close_all(&self) {
        self.subscribers.lock().expect("hub lock poisoned").clear();
    }

    /// Number of connected subscribers.
    pub fn len(&self) -> usize {
        self.subscribers.lock().expect("hub lock poisoned").len()
    }

    /// True when nobody is subscribed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn remove(&self, id: u64) {
        self.subscribers
            .lock()
            .expect("hub lock poisoned")
            .retain(|s| s.id != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_subscriber_is_dropped_and_others_keep_receiving() {
        let hub = Hub::new(2, 10);
        let slow = hub.subscribe().unwrap();
        let fast = hub.subscribe().unwrap();
        for i in 0..3 {
            hub.publish(format!("m{i}").into());
            assert_eq!(&*fast.messages.recv().unwrap(), format!("m{i}"));
        }
        assert!(slow.lagged());
        assert_eq!(slow.messages.try_iter().count(), 2);
        assert!(
            slow.messages.recv().is_err(),
            "queue disconnects once drained"
        );
        assert_eq!(hub.len(), 1);
    }

    #[test]
    fn refuses_past_max_and_frees_on_drop() {
        let hub = Hub::new(2, 1);
        let first = hub.subscribe().unwrap();
        assert_eq!(hub.subscribe().err(), Some(SubscribeError::Full(1)));
        drop(first);
        assert!(hub.subscribe().is_ok());
    }
}
