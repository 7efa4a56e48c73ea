//! Log lines about refused requests, rate-limited per client address
//! ([`RefusalLog`]): a client that sends thousands of bad requests gets a few lines
//! and then one "N lines suppressed" summary per window, so it can neither fill the
//! disk nor bury the lines about everybody else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lines about one client's refused requests per window, by default.
pub const LINES_PER_WINDOW: u32 = 10;
/// The window of [`LINES_PER_WINDOW`], by default.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Most client addresses followed at once; past that the others share one count.
const MAX_CLIENTS: usize = 10_000;

/// One client's current window.
#[derive(Debug)]
struct Window {
    started: Instant,
    logged: u32,
    suppressed: u64,
}

/// What to do with the next line about a client's refused request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Log it, after a summary of the lines suppressed in the client's last window.
    Log { suppressed_before: u64 },
    /// Leave it out (counted for the summary).
    Suppress,
}

/// The per-address rate limit of refused-request lines.
pub struct RefusalLog {
    window: Duration,
    per_window: u32,
    /// By client address; `None` for clients without one, and for all clients
    /// beyond [`MAX_CLIENTS`].
    clients: Mutex<HashMap<Option<IpAddr>, Window>>,
}

impl Default for RefusalLog {
    fn default() -> RefusalLog {
        RefusalLog::new(WINDOW, LINES_PER_WINDOW)
    }
}

impl RefusalLog {
    /// At most `per_window` lines per client per `window`.
    pub fn new(window: Duration, per_window: u32) -> RefusalLog {
        RefusalLog {
            window,
            per_window,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Logs `line` (already [`clean`](crate::logging::clean)ed) at `level` unless
    /// `client` has used up its lines for this window.
    pub fn log(&self, client: Option<IpAddr>, level: log::Level, line: &str) {
        match self.verdict(client, Instant::now()) {
            Verdict::Suppress => {}
            Verdict::Log { suppressed_before } => {
                if suppressed_before > 0 {
                    self.log_summary(client, suppressed_before);
                }
                log::log!(level, "{line}");
            }
        }
    }

    /// Decides about the next line of `client` at `now`.
    pub fn verdict(&self, client: Option<IpAddr>, now: Instant) -> Verdict {
        let mut clients = self.clients.lock().expect("refusal log lock poisoned");
        let mut key = client;
        if !clients.contains_key(&key) && clients.len() >= MAX_CLIENTS {
            self.take_ended(&mut clients, now);
            if clients.len() >= MAX_CLIENTS {
                key = None;
            }
        }
        let window = clients.entry(key).or_insert(Window {
            started: now,
            logged: 0,
            suppressed: 0,
        });
        let mut suppressed_before = 0;
        if now.duration_since(window.started) >= self.window {
            suppressed_before = window.suppressed;
            *window = Window {
                started: now,
                logged: 0,
                suppressed: 0,
            };
        }
        if window.logged < self.per_window {
            window.logged += 1;
            Verdict::Log { suppressed_before }
        } else {
            window.suppressed += 1;
            Verdict::Suppress
        }
    }

    /// Logs the summary of every window that has ended (call now and then: a client
    /// that went quiet still gets its summary) and forgets those clients.
    pub fn flush_ended(&self) {
        self.flush(Instant::now(), false);
    }

    /// Logs the summary of every window, ended or not (at shutdown).
    pub fn flush_all(&self) {
        self.flush(Instant::now(), true);
    }

    fn flush(&self, now: Instant, all: bool) {
        let ended = {
            let mut clients = self.clients.lock().expect("refusal log lock poisoned");
            if all {
                clients
                    .drain()
                    .map(|(client, w)| (client, w.suppressed))
                    .collect()
            } else {
                self.take_ended(&mut clients, now)
            }
        };
        for (client, suppressed) in ended {
            if suppressed > 0 {
                self.log_summary(client, suppressed);
            }
        }
    }

    fn log_summary(&self, client: Option<IpAddr>, suppressed: u64) {
        let who = client.map_or_else(|| "other clients".to_string(), |ip| format!("client {ip}"));
        log::warn!(
            "{who}: {suppressed} lines suppressed (refused requests, more than {} lines in {} s)",
            self.per_window,
            self.window.as_secs()
        );
    }

    /// Removes the clients whose window has ended; returns them with their counts.
    fn take_ended(
        &self,
        clients: &mut HashMap<Option<IpAddr>, Window>,
        now: Instant,
    ) -> Vec<(Option<IpAddr>, u64)> {
        let mut ended = Vec::new();
        clients.retain(|client, w| {
            let over = now.duration_since(w.started) >= self.window;
            if over {
                ended.push((*client, w.suppressed));
            }
            !over
        });
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_lines_then_one_summary_per_window() {
        let log = RefusalLog::new(Duration::from_secs(60), 3);
        let client = Some("192.0.2.1".parse().unwrap());
        let other = Some("192.0.2.2".parse().unwrap());
        let start = Instant::now();
        let verdicts: Vec<Verdict> = (0..10).map(|_| log.verdict(client, start)).collect();
        assert_eq!(
            verdicts.iter().filter(|v| **v == Verdict::Suppress).count(),
            7
        );
        // Another address is not held back by the first one.
        assert_eq!(
            log.verdict(other, start),
            Verdict::Log {
                suppressed_before: 0
            }
        );
        let later = start + Duration::from_secs(61);
        assert_eq!(
            log.verdict(client, later),
            Verdict::Log {
                suppressed_before: 7
            }
        );
        assert_eq!(
            log.verdict(client, later),
            Verdict::Log {
                suppressed_before: 0
            }
        );
    }

    #[test]
    fn ended_windows_are_forgotten_and_the_map_stays_bounded() {
        let log = RefusalLog::new(Duration::from_secs(1), 1);
        let start = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 + 50) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            log.verdict(Some(ip), start);
        }
        let clients = log.clients.lock().unwrap().len();
        assert!(clients <= MAX_CLIENTS + 1, "{clients}");
        let ended = log.take_ended(
            &mut log.clients.lock().unwrap(),
            start + Duration::from_secs(2),
        );
        assert_eq!(ended.len(), clients);
        assert!(log.clients.lock().unwrap().is_empty());
    }
}
