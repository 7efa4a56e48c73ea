//! Retrying a report: [`Backoff`] between attempts, [`RetryPolicy`] for how long, and
//! [`send_with_retry`], which gives up at once on a refusal (4xx).

use std::time::Duration;

use super::sender::{ReportSender, SendError};
use crate::stop::StopSignal;

/// Waits between attempts: `first`, doubled each time up to `max`, with ±20% jitter.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Wait after the first failure.
    pub first: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            first: Duration::from_millis(500),
            max: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: u32, rng: &mut fastrand::Rng) -> Duration {
        let doubled = self
            .first
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        doubled.min(self.max).mul_f64(0.8 + 0.4 * rng.f64())
    }
}

/// How hard to try one report.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryPolicy {
    /// Waits between attempts.
    pub backoff: Backoff,
    /// Attempts before giving up on a report; `None` keeps trying until stopped.
    pub max_attempts: Option<u32>,
}

/// Why [`send_with_retry`] did not deliver a report.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    /// The server refused the report (4xx); the message is the server's.
    #[error("{0}")]
    Refused(SendError),
    /// Every allowed attempt failed; the last error is kept.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: SendError },
    /// Stopped (Ctrl-C) while waiting to retry.
    #[error("stopped before the report was delivered")]
    Stopped,
}

/// Sends a report, retrying retryable failures with backoff; `on_retry(error,
/// attempt, wait)` is called before each wait. Returns the number of attempts made.
pub fn send_with_retry(
    sender: &ReportSender,
    team_id: &str,
    team_name: Option<&str>,
    body: &[u8],
    policy: &RetryPolicy,
    stop: &StopSignal,
    mut on_retry: impl FnMut(&SendError, u32, Duration),
) -> Result<u32, DeliveryError> {
    let mut rng = fastrand::Rng::new();
    for attempt in 1.. {
        let error = match sender.send(team_id, team_name, body) {
            Ok(()) => return Ok(attempt),
            Err(e) if !e.is_retryable() => return Err(DeliveryError::Refused(e)),
            Err(e) => e,
        };
        if policy.max_attempts.is_some_and(|max| attempt >= max) {
            return Err(DeliveryError::GaveUp {
                attempts: attempt,
                last: error,
            });
        }
        let wait = policy.backoff.delay(attempt, &mut rng);
        on_retry(&error, attempt, wait);
        if stop.wait(wait) {
            return Err(DeliveryError::Stopped);
        }
    }
    unreachable!("the attempt loop only ends by returning")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_max() {
        let backoff = Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(5),
        };
        let mut rng = fastrand::Rng::with_seed(1);
        let d3 = backoff.delay(3, &mut rng);
        assert!(d3 >= Duration::from_millis(3200) && d3 <= Duration::from_millis(4800));
        assert!(backoff.delay(30, &mut rng) <= Duration::from_secs(6));
    }
}
