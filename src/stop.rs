//! [`StopSignal`]: one stop request (Ctrl-C, the end of a demo) that every waiting
//! thread sees at once.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A stop request that wakes every waiting thread at once (Ctrl-C, end of a demo).
#[derive(Clone, Default)]
pub struct StopSignal {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl StopSignal {
    /// A signal not yet raised.
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Raises the signal; every [`wait`](StopSignal::wait) returns at once.
    pub fn stop(&self) {
        let (lock, condvar) = &*self.inner;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        condvar.notify_all();
    }

    /// True once [`stop`](StopSignal::stop) was called.
    pub fn is_stopped(&self) -> bool {
        *self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps for `duration` or until stopped; returns true when stopped.
    pub fn wait(&self, duration: Duration) -> bool {
        let guard = self.inner.0.lock().unwrap_or_else(|e| e.into_inner());
        self.wait_locked(guard, duration)
    }

    /// [`wait`](StopSignal::wait) with the flag's lock already held: the lock is given
    /// up only once the thread waits, so a test can raise the signal for certain after.
    fn wait_locked(&self, guard: std::sync::MutexGuard<'_, bool>, duration: Duration) -> bool {
        let (guard, _) = self
            .inner
            .1
            .wait_timeout_while(guard, duration, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_signal_wakes_a_thread_already_waiting() {
        let stop = StopSignal::new();
        let (locked, is_locked) = std::sync::mpsc::channel();
        let (woke, has_woken) = std::sync::mpsc::channel();
        let waiter = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let guard = stop.inner.0.lock().unwrap();
                locked.send(()).unwrap();
                woke.send(stop.wait_locked(guard, Duration::from_secs(600)))
                    .unwrap();
            })
        };
        is_locked.recv().unwrap();
        // Takes the lock the waiter holds until it waits: the waiter is surely waiting.
        stop.stop();
        let stopped = has_woken
            .recv_timeout(Duration::from_secs(20))
            .expect("stop() wakes the waiter at once, not after its 600 s");
        assert!(stopped);
        waiter.join().unwrap();
        // Once raised, a wait returns at once.
        let (done, is_done) = std::sync::mpsc::channel();
        let later = stop.clone();
        std::thread::spawn(move || done.send(later.wait(Duration::from_secs(600))));
        assert_eq!(is_done.recv_timeout(Duration::from_secs(20)), Ok(true));
    }
}
