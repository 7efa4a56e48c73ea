//! A small pool of connections for the readers. Hand-written rather than r2d2 so that
//! a database that is down fails a request at once (r2d2 keeps a caller waiting for
//! its whole connection timeout while it retries in the background), and a broken
//! connection is dropped instead of handed out again.

use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use postgres::Client;

use super::{PgError, Target};

/// Most connections the readers of one instance hold open at once.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a reader waits for a connection when all are in use.
const WAIT_FOR_FREE: Duration = Duration::from_secs(10);

struct Slots {
    idle: Vec<Client>,
    /// Connections handed out or idle.
    open: usize,
}

/// Connections to one database, at most `max` at a time.
pub struct Pool {
    target: Target,
    max: usize,
    slots: Mutex<Slots>,
    freed: Condvar,
}

/// A connection on loan; back to the pool on drop unless it broke.
pub struct Conn<'a> {
    pool: &'a Pool,
    client: Option<Client>,
}

impl Pool {
    pub fn new(target: Target, max: usize) -> Pool {
        Pool {
            target,
            max: max.max(1),
            slots: Mutex::new(Slots {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// An idle connection, or a new one while fewer than `max` are open.
    pub fn get(&self) -> Result<Conn<'_>, PgError> {
        let mut slots = self.slots.lock().expect("pool lock poisoned");
        loop {
            if let Some(client) = slots.idle.pop() {
                if client.is_closed() {
                    slots.open -= 1;
                    continue;
                }
                return Ok(self.lend(client));
            }
            if slots.open < self.max {
                slots.open += 1;
                drop(slots);
                return match self.target.connect() {
                    Ok(client) => Ok(self.lend(client)),
                    Err(e) => {
                        self.forget_one();
                        Err(e)
                    }
                };
            }
            let (next, timeout) = self
                .freed
                .wait_timeout(slots, WAIT_FOR_FREE)
                .expect("pool lock poisoned");
            slots = next;
            if timeout.timed_out() && slots.idle.is_empty() && slots.open >= self.max {
                return Err(PgError::Unavailable {
                    target: self.target.shown.clone(),
                    reason: format!("all {} connections busy for {WAIT_FOR_FREE:?}", self.max),
                });
            }
        }
    }

    /// Puts a connection opened elsewhere into the pool (the one that migrated).
    pub fn give_back(&self, client: Client) {
        let mut slots = self.slots.lock().expect("pool lock poisoned");
        if slots.open < self.max {
            slots.open += 1;
            slots.idle.push(client);
            self.freed.notify_one();
        }
    }

    /// Drops every idle connection (after the database went away, they are all dead).
    pub fn clear(&self) {
        let mut slots = self.slots.lock().expect("pool lock poisoned");
        let dropped = slots.idle.len();
        slots.idle.clear();
        slots.open -= dropped;
        self.freed.notify_all();
    }

    fn lend(&self, client: Client) -> Conn<'_> {
        Conn {
            pool: self,
            client: Some(client),
        }
    }

    fn forget_one(&self) {
        let mut slots = self.slots.lock().expect("pool lock poisoned");
        slots.open -= 1;
        self.freed.notify_one();
    }
}

impl Conn<'_> {
    /// Marks the connection as broken: it is closed instead of going back.
    pub fn discard(mut self) {
        self.client = None;
        self.pool.forget_one();
    }
}

impl Deref for Conn<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.client
            .as_ref()
            .expect("a lent connection until dropped")
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client
            .as_mut()
            .expect("a lent connection until dropped")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if client.is_closed() {
            self.pool.forget_one();
            return;
        }
        let mut slots = self.pool.slots.lock().expect("pool lock poisoned");
        slots.idle.push(client);
        self.pool.freed.notify_one();
    }
}
