//! The server's one clock: the store's arrival times, the alerts' `for` and
//! `silent` rules and the contest's phases all read it ([`crate::server::Config::clock`]).
//! It is the system's ([`SystemClock`]) or one a test moves by hand ([`ManualClock`]),
//! so tests move time instead of sleeping.
//!
//! A thread that must act at a time (the next phase of the contest) waits with
//! [`Clock::wait_until`] on a [`Wakeup`]: it returns when the clock reaches the time
//! or when someone notifies the wakeup (a reload, a shutdown). A [`ManualClock`]
//! notifies every waiter when it moves, so a test wakes the thread by moving the
//! clock, never by waiting.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use benchboard::clock::{Clock, ManualClock, Wakeup};
//!
//! let clock = Arc::new(ManualClock::starting_now());
//! let deadline = clock.now() + chrono::Duration::seconds(60);
//! let wake = Arc::new(Wakeup::default());
//! clock.watch(&wake);
//! let seen = wake.seen();
//! let waiter = {
//!     let (clock, wake) = (clock.clone(), wake.clone());
//!     std::thread::spawn(move || clock.wait_until(Some(deadline), &wake, seen))
//! };
//! clock.advance(Duration::from_secs(60));
//! waiter.join().unwrap();
//! assert!(clock.now() >= deadline);
//! ```

use std::fmt::Debug;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// Now, with the local UTC offset.
    fn now(&self) -> DateTime<FixedOffset>;

    /// Lets `wake` be notified when this clock moves by other means than the passing
    /// of time (a test's [`ManualClock`]); call it once before waiting on `wake`.
    fn watch(&self, _wake: &Arc<Wakeup>) {}

    /// Blocks until the clock reads `deadline` or later (never, for `None`) or until
    /// `wake` is notified after its generation `seen` ([`Wakeup::seen`]), or when a
    /// watched clock moves. It may return early: callers re-read the time and loop.
    fn wait_until(&self, deadline: Option<DateTime<FixedOffset>>, wake: &Arc<Wakeup>, seen: u64) {
        loop {
            let left = match deadline {
                None => None,
                Some(deadline) => match (deadline - self.now()).to_std() {
                    Ok(left) if !left.is_zero() => Some(left),
                    _ => return,
                },
            };
            if wake.wait(seen, left) {
                return;
            }
        }
    }
}

/// Something threads wait on, and others notify: a generation number under a lock.
#[derive(Debug, Default)]
pub struct Wakeup {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Wakeup {
    fn lock(&self) -> MutexGuard<'_, u64> {
        self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The generation now: pass it to [`Clock::wait_until`] so that a notification
    /// between this reading and the wait is not missed.
    pub fn seen(&self) -> u64 {
        *self.lock()
    }

    /// Wakes every waiter.
    pub fn notify(&self) {
        *self.lock() += 1;
        self.changed.notify_all();
    }

    /// Waits at most `timeout` (forever for `None`) for a generation after `seen`;
    /// true when there is one.
    fn wait(&self, seen: u64, timeout: Option<Duration>) -> bool {
        let guard = self.lock();
        let guard = match timeout {
            // Capped so that an absurd deadline cannot overflow the condvar's.
            Some(t) => {
                let t = t.min(Duration::from_secs(3600));
                self.changed
                    .wait_timeout_while(guard, t, |g| *g == seen)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => self
                .changed
                .wait_while(guard, |g| *g == seen)
                .unwrap_or_else(|e| e.into_inner()),
        };
        *guard != seen
    }
}

/// The system's clock, in local time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<FixedOffset> {
        crate::timefmt::now().fixed_offset()
    }
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<FixedOffset>>,
    /// Who waits on this clock: notified at every move.
    waiters: Mutex<Vec<Weak<Wakeup>>>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<FixedOffset>) -> ManualClock {
        ManualClock {
            now: Mutex::new(start),
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// A clock showing the system's time now, from then on moved by hand.
    pub fn starting_now() -> ManualClock {
        ManualClock::new(SystemClock.now())
    }

    /// Moves the clock forward by `by`, waking whoever waits on it.
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).expect("a test's step fits a chrono duration");
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
        drop(now);
        self.wake_all();
    }

    /// Sets the clock to `at` (forward or back), waking whoever waits on it.
    pub fn set(&self, at: DateTime<FixedOffset>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = at;
        self.wake_all();
    }

    fn wake_all(&self) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        waiters.retain(|w| match w.upgrade() {
            Some(wake) => {
                wake.notify();
                true
            }
            None => false,
        });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<FixedOffset> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn watch(&self, wake: &Arc<Wakeup>) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if !waiters.iter().any(|w| w.as_ptr() == Arc::as_ptr(wake)) {
            waiters.push(Arc::downgrade(wake));
        }
    }

    /// Waits without a timeout: a move of the clock (it notifies the wakeups it
    /// watches) or another notification ends the wait.
    fn wait_until(&self, deadline: Option<DateTime<FixedOffset>>, wake: &Arc<Wakeup>, seen: u64) {
        if deadline.is_some_and(|d| self.now() >= d) {
            return;
        }
        wake.wait(seen, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_wakes_a_waiter_without_a_deadline() {
        let clock = Arc::new(ManualClock::starting_now());
        let wake = Arc::new(Wakeup::default());
        let seen = wake.seen();
        let waiter = {
            let (clock, wake) = (clock.clone(), wake.clone());
            std::thread::spawn(move || clock.wait_until(None, &wake, seen))
        };
        wake.notify();
        waiter.join().unwrap();
    }

    #[test]
    fn the_system_clock_returns_at_once_for_a_past_deadline() {
        let wake = Arc::new(Wakeup::default());
        let past = SystemClock.now() - chrono::Duration::seconds(1);
        SystemClock.wait_until(Some(past), &wake, wake.seen());
    }
}
