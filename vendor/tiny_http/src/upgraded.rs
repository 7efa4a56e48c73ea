//! What an upgraded request hands over ([`Request::upgrade_stream`](crate::Request::upgrade_stream),
//! BenchBoard patch 12): the TCP socket, or a [`TlsStream`] on the connection's TLS
//! session.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::tls::TlsSocket;

/// The stream of an upgraded HTTPS connection (BenchBoard patch; see
/// [`Request::upgrade_stream`](crate::Request::upgrade_stream)): reads and writes go
/// through the connection's TLS session. Blocking by default, with the timeouts set
/// here; after [`set_nonblocking(true)`](TlsStream::set_nonblocking) a read or write
/// that cannot go on at once fails with `WouldBlock`, and `flush` writes the records
/// still queued without waiting (`WouldBlock` while some are left): poll the descriptor
/// for writability while [`has_unsent`](TlsStream::has_unsent) is true.
#[derive(Debug)]
pub struct TlsStream {
    socket: TlsSocket,
    nonblocking: AtomicBool,
}

impl TlsStream {
    pub(crate) fn new(socket: TlsSocket) -> TlsStream {
        TlsStream {
            socket,
            nonblocking: AtomicBool::new(false),
        }
    }

    fn nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::SeqCst)
    }

    /// Non-blocking reads and writes (`WouldBlock` instead of waiting).
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.nonblocking.store(nonblocking, Ordering::SeqCst);
        Ok(())
    }

    /// Longest wait of a blocking read; `None`: no limit.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_read_timeout(timeout);
        Ok(())
    }

    /// Longest wait of a blocking write or flush; `None`: no limit.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_write_timeout(timeout);
        Ok(())
    }

    /// Encrypted records are queued that the socket has not taken yet.
    pub fn has_unsent(&self) -> bool {
        self.socket.has_unsent()
    }

    /// `Write`: sends a TLS `close_notify` first (in blocking mode after the records
    /// still queued, within the write timeout), then shuts the TCP socket's side down.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if how == Shutdown::Write && !self.nonblocking() {
            let _ = self.socket.flush_blocking();
        }
        self.socket.shutdown(how)
    }

    /// The TCP socket underneath, for socket options: reading or writing it directly
    /// would break the TLS session.
    pub fn tcp(&self) -> &TcpStream {
        self.socket.tcp()
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.nonblocking() {
            true => self.socket.recv_now(buf),
            false => self.socket.recv_blocking(buf),
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.nonblocking() {
            true => self.socket.send_now(buf),
            false => self.socket.send_blocking(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.nonblocking() {
            true => self.socket.flush_now(),
            false => self.socket.flush_blocking(),
        }
    }
}

impl AsFd for TlsStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for TlsStream {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.tcp().as_raw_fd()
    }
}

/// The connection an upgraded request hands over ([`Request::upgrade_stream`](crate::Request::upgrade_stream)):
/// the TCP socket itself, or the TLS stream over it (BenchBoard patch). Both read and write
/// the application's bytes, can be polled through their descriptor, and are blocking
/// until [`set_nonblocking`](UpgradedStream::set_nonblocking).
#[derive(Debug)]
pub enum UpgradedStream {
    /// A plain TCP connection.
    Tcp(TcpStream),
    /// A connection of an HTTPS server.
    Tls(TlsStream),
}

impl UpgradedStream {
    /// Non-blocking reads and writes (`WouldBlock` instead of waiting).
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            UpgradedStream::Tcp(s) => s.set_nonblocking(nonblocking),
            UpgradedStream::Tls(s) => s.set_nonblocking(nonblocking),
        }
    }

    /// Longest wait of a blocking read; `None`: no limit.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            UpgradedStream::Tcp(s) => s.set_read_timeout(timeout),
            UpgradedStream::Tls(s) => s.set_read_timeout(timeout),
        }
    }

    /// Longest wait of a blocking write; `None`: no limit.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            UpgradedStream::Tcp(s) => s.set_write_timeout(timeout),
            UpgradedStream::Tls(s) => s.set_write_timeout(timeout),
        }
    }

    /// Shuts the connection down (for TLS, `Write` sends a `close_notify` first).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            UpgradedStream::Tcp(s) => s.shutdown(how),
            UpgradedStream::Tls(s) => s.shutdown(how),
        }
    }

    /// Bytes written are still queued in the TLS session (never for plain TCP): `flush`
    /// them when the socket is writable.
    pub fn has_unsent(&self) -> bool {
        match self {
            UpgradedStream::Tcp(_) => false,
            UpgradedStream::Tls(s) => s.has_unsent(),
        }
    }

    /// The TCP socket, for socket options (for TLS, never read or write it directly).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            UpgradedStream::Tcp(s) => s,
            UpgradedStream::Tls(s) => s.tcp(),
        }
    }

    /// The connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, UpgradedStream::Tls(_))
    }
}

impl Read for UpgradedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            UpgradedStream::Tcp(s) => s.read(buf),
            UpgradedStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for UpgradedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            UpgradedStream::Tcp(s) => s.write(buf),
            UpgradedStream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            UpgradedStream::Tcp(s) => s.flush(),
            UpgradedStream::Tls(s) => s.flush(),
        }
    }
}

impl AsFd for UpgradedStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.tcp().as_fd()
    }
}

impl AsRawFd for UpgradedStream {
    fn as_raw_fd(&self) -> RawFd {
        self.tcp().as_raw_fd()
    }
}
