//! Coordination between a client connection's task and the requests read from it, so that an
//! unread request body is never drained into memory (or on an application thread).
//!
//! - A request body is read through a [`TrackedBody`], which records in a [`BodyTracker`]
//!   how much of the body is still unread on the socket.
//! - When the application is done with the request (the body reader is dropped), a small
//!   unread remainder (at most [`MAX_SKIP`] bytes) is handed to the connection task, which
//!   reads and discards it in fixed-size chunks before parsing the next request, keeping the
//!   keep-alive connection. Anything larger, a body of unknown remaining length (chunked
//!   and not read to its end) or a body whose reading failed marks the connection as
//!   closing: the response gets `Connection: close`, and the [`ConnectionReader`] shuts the
//!   socket down instead of reading anything more from it.

use std::io::{BufReader, ErrorKind, Read, Result as IoResult};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::util::RefinedTcpStream;

/// Largest unread remainder of a request body that is skipped (read and discarded by the
/// connection task) to keep a keep-alive connection open. Anything larger closes the
/// connection instead.
pub(crate) const MAX_SKIP: usize = 64 * 1024;

/// Size of the scratch buffer used to discard a skipped body remainder.
const SKIP_CHUNK: usize = 8 * 1024;

/// Marks an unknown number of unread bytes.
const UNKNOWN: usize = usize::MAX;

/// State of one client connection, shared by its task and the requests read from it.
#[derive(Debug, Default)]
pub(crate) struct ConnectionState {
    /// No more requests must be read from this connection: the socket is to be shut down.
    closing: AtomicBool,
    /// Bytes of the previous request's body to discard before reading the next request.
    skip: AtomicUsize,
}

impl ConnectionState {
    pub(crate) fn new() -> Arc<ConnectionState> {
        Arc::new(ConnectionState::default())
    }

    /// Closes the connection once the current response has been written.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }
}

/// How much of one request's body is still unread on the socket.
#[derive(Debug)]
pub(crate) struct BodyTracker {
    connection: Arc<ConnectionState>,
    unread: AtomicUsize,
}

impl BodyTracker {
    /// `unread`: the body length, or `None` if unknown (chunked).
    pub(crate) fn new(connection: Arc<ConnectionState>, unread: Option<usize>) -> Arc<Self> {
        Arc::new(BodyTracker {
            connection,
            unread: AtomicUsize::new(unread.unwrap_or(UNKNOWN)),
        })
    }

    /// Bytes not yet read from the socket, `None` if unknown.
    pub(crate) fn unread(&self) -> Option<usize> {
        match self.unread.load(Ordering::SeqCst) {
            UNKNOWN => None,
            n => Some(n),
        }
    }

    /// True if giving up on the rest of the body would make the connection unusable, i.e.
    /// the response must carry `Connection: close`.
    pub(crate) fn forces_close(&self) -> bool {
        match self.unread() {
            Some(n) => n > MAX_SKIP,
            None => true,
        }
    }

    fn consumed(&self, n: usize) {
        let _ = self
            .unread
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| match u {
                UNKNOWN => None,
                u => Some(u.saturating_sub(n)),
            });
    }

    fn set_unread(&self, unread: Option<usize>) {
        self.unread
            .store(unread.unwrap_or(UNKNOWN), Ordering::SeqCst);
    }

    /// Called when the body reader is dropped, before the socket is handed to the reader of
    /// the next request.
    fn release(&self) {
        match self.unread() {
            Some(0) => (),
            _ if self.connection.is_closing() => (),
            Some(n) if n <= MAX_SKIP => {
                self.connection.skip.fetch_add(n, Ordering::SeqCst);
            }
            _ => self.connection.close(),
        }
    }
}

/// Reader of a request body that keeps its [`BodyTracker`] up to date.
pub(crate) struct TrackedBody<R> {
    inner: R,
    tracker: Arc<BodyTracker>,
}

impl<R: Read> TrackedBody<R> {
    pub(crate) fn new(inner: R, tracker: Arc<BodyTracker>) -> TrackedBody<R> {
        TrackedBody { inner, tracker }
    }
}

impl<R: Read> Read for TrackedBody<R> {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        match self.inner.read(buf) {
            Ok(0) if !buf.is_empty() => {
                self.tracker.set_unread(Some(0));
                Ok(0)
            }
            Ok(n) => {
                self.tracker.consumed(n);
                Ok(n)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Err(e),
            Err(e) => {
                // timeout, reset, invalid chunk...: where the next request would start is
                // no longer known
                self.tracker.set_unread(None);
                Err(e)
            }
        }
    }
}

impl<R> Drop for TrackedBody<R> {
    fn drop(&mut self) {
        // runs before `inner` (which hands the socket to the next request) is dropped
        self.tracker.release();
    }
}

/// The bottom of a connection's chain of readers: applies `ConnectionState` before anything
/// is read for the next request.
pub(crate) struct ConnectionReader {
    inner: BufReader<RefinedTcpStream>,
    state: Arc<ConnectionState>,
}

impl ConnectionReader {
    pub(crate) fn new(
        inner: BufReader<RefinedTcpStream>,
        state: Arc<ConnectionState>,
    ) -> ConnectionReader {
        ConnectionReader { inner, state }
    }

    fn shut_down(&mut self) {
        self.inner.get_mut().shutdown(Shutdown::Both).ok();
    }
}

impl Read for ConnectionReader {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        if self.state.is_closing() {
            self.shut_down();
            return Ok(0);
        }

        let mut skip = self.state.skip.swap(0, Ordering::SeqCst);
        if skip > 0 {
            let mut scratch = [0u8; SKIP_CHUNK];
            while skip > 0 {
                let chunk = skip.min(SKIP_CHUNK);
                match self.inner.read(&mut scratch[..chunk]) {
                    Ok(0) => return Ok(0),
                    Ok(n) => skip -= n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => (),
                    Err(e) => {
                        log::debug!("Closing connection, cannot skip unread body: {}", e);
                        self.state.close();
                        self.shut_down();
                        return Ok(0);
                    }
                }
            }
        }

        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::{BodyTracker, ConnectionState, TrackedBody, MAX_SKIP};
    use std::io::{Cursor, Read};

    #[test]
    fn small_remainder_is_skipped() {
        let conn = ConnectionState::new();
        let tracker = BodyTracker::new(conn.clone(), Some(10));
        let mut body = TrackedBody::new(Cursor::new(vec![0u8; 10]), tracker.clone());
        body.read_exact(&mut [0u8; 4]).unwrap();
        assert_eq!(tracker.unread(), Some(6));
        assert!(!tracker.forces_close());
        drop(body);
        assert!(!conn.is_closing());
        assert_eq!(conn.skip.load(std::sync::atomic::Ordering::SeqCst), 6);
    }

    #[test]
    fn large_remainder_closes() {
        let conn = ConnectionState::new();
        let tracker = BodyTracker::new(conn.clone(), Some(100_000_000_000));
        let body = TrackedBody::new(std::io::empty(), tracker.clone());
        assert!(tracker.forces_close());
        drop(body);
        assert!(conn.is_closing());
        assert_eq!(conn.skip.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn unknown_remainder_closes_and_eof_does_not() {
        let conn = ConnectionState::new();
        let tracker = BodyTracker::new(conn.clone(), None);
        assert!(tracker.forces_close());
        let mut body = TrackedBody::new(Cursor::new(vec![1u8; MAX_SKIP * 2]), tracker.clone());
        body.read_to_end(&mut Vec::new()).unwrap();
        assert_eq!(tracker.unread(), Some(0));
        drop(body);
        assert!(!conn.is_closing());
    }
}
