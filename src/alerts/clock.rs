//! The time the alerts see: the system's, or one a test moves by hand.
//!
//! Rules with `for = "30s"` and the `silent > N` rule depend on time passing; the
//! engine reads it only through [`Clock`], so tests move a [`ManualClock`] instead
//! of sleeping.

use std::fmt::Debug;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// Now, with the local UTC offset.
    fn now(&self) -> DateTime<FixedOffset>;
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
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<FixedOffset>) -> ManualClock {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    /// A clock showing the system's time now, from then on moved by hand.
    pub fn starting_now() -> ManualClock {
        ManualClock::new(SystemClock.now())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += chrono::Duration::from_std(by).expect("a test's step fits a chrono duration");
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<FixedOffset> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}
