//! Abstractions of Tcp and Unix socket types

//!
//! BenchBoard patch: this fork is Unix-only (it polls sockets and reads them with
//! `MSG_DONTWAIT`), so the `cfg(unix)` branches below are always taken.

use rustix::net::{RecvFlags, SendFlags};
use std::os::fd::{AsFd, BorrowedFd};
#[cfg(unix)]
use std::os::unix::net as unix_net;
use std::time::Duration;

use crate::tls::TlsSocket;
use crate::upgraded::TlsStream;
use std::{
    net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs},
    path::PathBuf,
};

/// Unified listener. Either a [`TcpListener`] or [`std::os::unix::net::UnixListener`]
pub enum Listener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(unix_net::UnixListener),
}
impl Listener {
    pub(crate) fn local_addr(&self) -> std::io::Result<ListenAddr> {
        match self {
            Self::Tcp(l) => l.local_addr().map(ListenAddr::from),
            #[cfg(unix)]
            Self::Unix(l) => l.local_addr().map(ListenAddr::from),
        }
    }

    pub(crate) fn accept(&self) -> std::io::Result<(Connection, Option<SocketAddr>)> {
        match self {
            Self::Tcp(l) => l
                .accept()
                .map(|(conn, addr)| (Connection::from(conn), Some(addr))),
            #[cfg(unix)]
            Self::Unix(l) => l.accept().map(|(conn, _)| (Connection::from(conn), None)),
        }
    }
}
impl Listener {
    pub(crate) fn set_nonblocking(&self) -> std::io::Result<()> {
        match self {
            Self::Tcp(l) => l.set_nonblocking(true),
            #[cfg(unix)]
            Self::Unix(l) => l.set_nonblocking(true),
        }
    }
}
impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Self::Tcp(l) => l.as_fd(),
            Self::Unix(l) => l.as_fd(),
        }
    }
}
impl From<TcpListener> for Listener {
    fn from(s: TcpListener) -> Self {
        Self::Tcp(s)
    }
}
#[cfg(unix)]
impl From<unix_net::UnixListener> for Listener {
    fn from(s: unix_net::UnixListener) -> Self {
        Self::Unix(s)
    }
}

/// Unified connection. Either a [`TcpStream`] or [`std::os::unix::net::UnixStream`].
#[derive(Debug)]
pub(crate) enum Connection {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(unix_net::UnixStream),
    /// A TCP connection of an HTTPS server (BenchBoard patch: `tls.rs`).
    Tls(Box<TlsSocket>),
}
impl Connection {
    pub(crate) fn shutdown(&self, how: Shutdown) -> std::io::Result<()> {
        match self {
            Self::Tcp(s) => s.shutdown(how),
            #[cfg(unix)]
            Self::Unix(s) => s.shutdown(how),
            Self::Tls(s) => s.shutdown(how),
        }
    }

    /// `SO_RCVTIMEO`: bounds every blocking read of this socket (all its handles).
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_read_timeout(timeout),
            #[cfg(unix)]
            Self::Unix(s) => s.set_read_timeout(timeout),
            Self::Tls(s) => Ok(s.set_read_timeout(timeout)),
        }
    }

    /// `SO_SNDTIMEO`: bounds every blocking write of this socket (all its handles).
    pub(crate) fn set_write_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_write_timeout(timeout),
            #[cfg(unix)]
            Self::Unix(s) => s.set_write_timeout(timeout),
            Self::Tls(s) => Ok(s.set_write_timeout(timeout)),
        }
    }

    /// Reads what is there without waiting (`MSG_DONTWAIT`); the socket itself stays in
    /// blocking mode, so blocking readers and writers of the same socket are not disturbed.
    /// For TLS: decrypted bytes, reading and decrypting what the socket has without waiting.
    pub(crate) fn recv_now(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Tls(s) => s.recv_now(buf),
            _ => recv_with(self.as_fd(), buf, RecvFlags::DONTWAIT),
        }
    }

    /// Blocking read, bounded by the socket's read timeout (`WouldBlock` when it fires).
    pub(crate) fn recv_blocking(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Tls(s) => s.recv_blocking(buf),
            _ => recv_with(self.as_fd(), buf, RecvFlags::empty()),
        }
    }

    /// Writes what fits without waiting (`MSG_DONTWAIT`), never raising `SIGPIPE`.
    /// For TLS: plaintext accepted once the records queued before are out (see `flush_now`).
    pub(crate) fn send_now(&self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Tls(s) => s.send_now(buf),
            _ => send_with(self.as_fd(), buf, SendFlags::DONTWAIT | no_sigpipe()),
        }
    }

    /// Blocking write, bounded by the socket's write timeout (`WouldBlock` when it fires).
    pub(crate) fn send_blocking(&self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Tls(s) => s.send_blocking(buf),
            _ => send_with(self.as_fd(), buf, no_sigpipe()),
        }
    }

    /// Everything accepted by `send_now` is on the wire (always, for a plain socket); for
    /// TLS writes the queued records without waiting, `WouldBlock` while some are left.
    pub(crate) fn flush_now(&self) -> std::io::Result<()> {
        match self {
            Self::Tls(s) => s.flush_now(),
            _ => Ok(()),
        }
    }

    /// Like `flush_now`, waiting within the write timeout.
    pub(crate) fn flush_blocking(&self) -> std::io::Result<()> {
        match self {
            Self::Tls(s) => s.flush_blocking(),
            _ => Ok(()),
        }
    }

    /// TLS records wait for the socket to take them (the poller should watch for
    /// writability too).
    pub(crate) fn has_unsent(&self) -> bool {
        match self {
            Self::Tls(s) => s.has_unsent(),
            _ => false,
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    /// A second handle of the connection for the application (`Request::upgrade_stream`);
    /// `None` for a Unix socket.
    pub(crate) fn try_clone_upgraded(&self) -> Option<std::io::Result<crate::UpgradedStream>> {
        match self {
            Self::Tcp(s) => Some(s.try_clone().map(crate::UpgradedStream::Tcp)),
            #[cfg(unix)]
            Self::Unix(_) => None,
            Self::Tls(s) => Some(
                s.try_clone()
                    .map(|s| crate::UpgradedStream::Tls(TlsStream::new(s))),
            ),
        }
    }
}

impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Self::Tcp(s) => s.as_fd(),
            Self::Unix(s) => s.as_fd(),
            Self::Tls(s) => s.as_fd(),
        }
    }
}

pub(crate) fn recv_with(fd: BorrowedFd<'_>, buf: &mut [u8], flags: RecvFlags) -> std::io::Result<usize> {
    loop {
        match rustix::net::recv(fd, &mut *buf, flags) {
            Ok((n, _)) => return Ok(n),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

pub(crate) fn send_with(fd: BorrowedFd<'_>, buf: &[u8], flags: SendFlags) -> std::io::Result<usize> {
    loop {
        match rustix::net::send(fd, buf, flags) {
            Ok(n) => return Ok(n),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
pub(crate) fn no_sigpipe() -> SendFlags {
    SendFlags::NOSIGNAL
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
pub(crate) fn no_sigpipe() -> SendFlags {
    SendFlags::empty()
}

impl From<TcpStream> for Connection {
    fn from(s: TcpStream) -> Self {
        Self::Tcp(s)
    }
}
#[cfg(unix)]
impl From<unix_net::UnixStream> for Connection {
    fn from(s: unix_net::UnixStream) -> Self {
        Self::Unix(s)
    }
}

#[derive(Debug, Clone)]
pub enum ConfigListenAddr {
    IP(Vec<SocketAddr>),
    #[cfg(unix)]
    // TODO: use SocketAddr when bind_addr is stabilized
    Unix(std::path::PathBuf),
}
impl ConfigListenAddr {
    pub fn from_socket_addrs<A: ToSocketAddrs>(addrs: A) -> std::io::Result<Self> {
        addrs.to_socket_addrs().map(|it| Self::IP(it.collect()))
    }

    #[cfg(unix)]
    pub fn unix_from_path<P: Into<PathBuf>>(path: P) -> Self {
        Self::Unix(path.into())
    }

    pub(crate) fn bind(&self) -> std::io::Result<Listener> {
        match self {
            Self::IP(a) => TcpListener::bind(a.as_slice()).map(Listener::from),
            #[cfg(unix)]
            Self::Unix(a) => unix_net::UnixListener::bind(a).map(Listener::from),
        }
    }
}

/// Unified listen socket address. Either a [`SocketAddr`] or [`std::os::unix::net::SocketAddr`].
#[derive(Debug, Clone)]
pub enum ListenAddr {
    IP(SocketAddr),
    #[cfg(unix)]
    Unix(unix_net::SocketAddr),
}
impl ListenAddr {
    pub fn to_ip(self) -> Option<SocketAddr> {
        match self {
            Self::IP(s) => Some(s),
            #[cfg(unix)]
            Self::Unix(_) => None,
        }
    }

    /// Gets the Unix socket address.
    ///
    /// This is also available on non-Unix platforms, for ease of use, but always returns `None`.
    #[cfg(unix)]
    pub fn to_unix(self) -> Option<unix_net::SocketAddr> {
        match self {
            Self::IP(_) => None,
            Self::Unix(s) => Some(s),
        }
    }
    #[cfg(not(unix))]
    pub fn to_unix(self) -> Option<SocketAddr> {
        None
    }
}
impl From<SocketAddr> for ListenAddr {
    fn from(s: SocketAddr) -> Self {
        Self::IP(s)
    }
}
#[cfg(unix)]
impl From<unix_net::SocketAddr> for ListenAddr {
    fn from(s: unix_net::SocketAddr) -> Self {
        Self::Unix(s)
    }
}
impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::IP(s) => s.fmt(f),
            #[cfg(unix)]
            Self::Unix(s) => std::fmt::Debug::fmt(s, f),
        }
    }
}
