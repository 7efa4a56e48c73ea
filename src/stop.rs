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
        let (lock, condvar) = &*self.inner;
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = condvar
            .wait_timeout_while(guard, duration, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_signal_wakes_waiters() {
        let stop = StopSignal::new();
        let waiter = {
            let stop = stop.clone();
            std::thread::spawn(move || stop.wait(Duration::from_secs(30)))
        };
        stop.stop();
        assert!(waiter.join().unwrap());
        assert!(stop.wait(Duration::from_secs(30)));
    }
}
