//! TLS inside the reactor (BenchBoard patch): a connection of an HTTPS server is a
//! [`TlsSocket`], a rustls [`ServerConnection`] over the connection's TCP socket, driven
//! without blocking by whoever uses the connection (see PATCHES.md, patch 12).
//!
//! The reactor, the writer thread and the application's threads keep calling the same
//! `recv_now` / `send_now` / `recv_blocking` / `send_blocking` as for a plain socket:
//!
//! - **reading** writes the TLS records rustls has queued first (handshake flights,
//!   alerts, key updates), then hands out decrypted bytes, reading and decrypting more
//!   records from the socket (`MSG_DONTWAIT`) when none are left. So the handshake is
//!   done by the reactor as part of reading a connection's first request, on no thread of
//!   its own, and a handshake that stalls is an idle connection, closed after the request
//!   timeout like one that sends nothing.
//! - **writing** accepts plaintext only once every TLS record queued before it is on the
//!   wire, and at most [`MAX_SEND`] bytes at a time, so a response counts as sent (and
//!   against the minimum rate) at most one piece ahead of the socket; `flush_now` says
//!   whether the records are all out, which a response waits for before it is done.
//! - **blocking** reads and writes (a body the application reads, `respond`) wait with
//!   `poll` on the descriptor, without holding the session's lock, within the timeouts
//!   `set_read_timeout` / `set_write_timeout` stored here (a plain socket's are its
//!   `SO_RCVTIMEO` / `SO_SNDTIMEO`).
//!
//! The session is shared under a mutex by every handle of the connection: the reactor's,
//! and the stream [`Request::upgrade_stream`](crate::Request::upgrade_stream) hands over
//! ([`TlsStream`]), which keeps the TLS session going for a WebSocket.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::net::{RecvFlags, SendFlags};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

use crate::connection::{no_sigpipe, recv_with, send_with};

/// Most plaintext bytes accepted by one write (one TLS record holds 16 KiB).
pub(crate) const MAX_SEND: usize = 16 * 1024;

/// Most bytes a client speaking plain HTTP to the TLS port may send after its answer
/// before the connection is closed.
const MAX_PLAIN_DISCARD: u64 = 1024 * 1024;

/// Sentinel of a stored timeout: none.
const NO_TIMEOUT: u64 = u64::MAX;

/// Why PEM certificates and a private key cannot make a TLS configuration.
#[derive(Debug)]
pub enum TlsConfigError {
    /// The certificate file holds no `CERTIFICATE` block.
    NoCertificate,
    /// A `CERTIFICATE` block cannot be decoded.
    BadCertificate(String),
    /// The key file holds no private key (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE
    /// KEY` block), or it cannot be decoded.
    BadKey(String),
    /// rustls refused the pair: the key does not belong to the first certificate, or its
    /// algorithm is not supported.
    Refused(String),
}

impl std::fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsConfigError::NoCertificate => {
                f.write_str("no PEM certificate found (expected a \"BEGIN CERTIFICATE\" block)")
            }
            TlsConfigError::BadCertificate(e) => write!(f, "the PEM certificate cannot be read: {}", e),
            TlsConfigError::BadKey(e) => write!(f, "no usable PEM private key: {}", e),
            TlsConfigError::Refused(e) => {
                write!(f, "the private key does not fit the certificate: {}", e)
            }
        }
    }
}

impl std::error::Error for TlsConfigError {}

/// A TLS server configuration from a PEM certificate chain (the server's certificate
/// first) and its PEM private key (PKCS#8, PKCS#1 or SEC1), with rustls's safe defaults
/// (TLS 1.2 and 1.3, the ring provider) and ALPN `http/1.1` (BenchBoard patch).
pub fn tls_config_from_pem(
    certificates: &[u8],
    private_key: &[u8],
) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let chain = CertificateDer::pem_slice_iter(certificates)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::BadCertificate(e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsConfigError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(private_key)
        .map_err(|e| TlsConfigError::BadKey(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsConfigError::Refused(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsConfigError::Refused(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

struct Session {
    tls: ServerConnection,
    /// The first byte from the client has been looked at.
    sniffed: bool,
    /// The client spoke plain HTTP: it got a plain `400`; what it sends now is discarded.
    plain: Option<u64>,
}

/// One handle of a TLS connection: its own descriptor of the TCP socket and the shared
/// session.
pub(crate) struct TlsSocket {
    tcp: TcpStream,
    session: Arc<Mutex<Session>>,
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
}

impl std::fmt::Debug for TlsSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSocket").field("tcp", &self.tcp).finish()
    }
}

/// Reads the socket without waiting, for rustls.
struct ReadNow<'a>(BorrowedFd<'a>);

impl Read for ReadNow<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        recv_with(self.0, buf, RecvFlags::DONTWAIT)
    }
}

/// Writes to the socket without waiting, for rustls.
struct WriteNow<'a>(BorrowedFd<'a>);

impl Write for WriteNow<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        send_with(self.0, buf, SendFlags::DONTWAIT | no_sigpipe())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn store(timeout: Option<Duration>) -> u64 {
    timeout.map_or(NO_TIMEOUT, |t| t.as_nanos().min(NO_TIMEOUT as u128 - 1) as u64)
}

fn load(stored: &AtomicU64) -> Option<Duration> {
    match stored.load(Ordering::SeqCst) {
        NO_TIMEOUT => None,
        nanos => Some(Duration::from_nanos(nanos)),
    }
}

impl TlsSocket {
    pub(crate) fn new(tcp: TcpStream, config: &Arc<ServerConfig>) -> io::Result<TlsSocket> {
        let tls = ServerConnection::new(Arc::clone(config))
            .map_err(|e| io::Error::new(ErrorKind::Other, e))?;
        let session = Session {
            tls,
            sniffed: false,
            plain: None,
        };
        Ok(TlsSocket {
            tcp,
            session: Arc::new(Mutex::new(session)),
            read_timeout: AtomicU64::new(NO_TIMEOUT),
            write_timeout: AtomicU64::new(NO_TIMEOUT),
        })
    }

    /// A second handle of the same connection (its own descriptor, no timeouts).
    pub(crate) fn try_clone(&self) -> io::Result<TlsSocket> {
        Ok(TlsSocket {
            tcp: self.tcp.try_clone()?,
            session: Arc::clone(&self.session),
            read_timeout: AtomicU64::new(NO_TIMEOUT),
            write_timeout: AtomicU64::new(NO_TIMEOUT),
        })
    }

    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    fn lock(&self) -> MutexGuard<'_, Session> {
        // every update of the session is one rustls call: it stays usable after a panic
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes queued TLS records without waiting; true when none is left.
    fn flush_records(&self, s: &mut Session) -> io::Result<bool> {
        while s.tls.wants_write() {
            match s.tls.write_tls(&mut WriteNow(self.tcp.as_fd())) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(_) => (),
                Err(ref e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// TLS records are queued and not yet written.
    pub(crate) fn has_unsent(&self) -> bool {
        self.lock().tls.wants_write()
    }

    /// Decrypted bytes, reading what the socket has without waiting (`WouldBlock` when it
    /// has nothing); `Ok(0)` when the client closed.
    pub(crate) fn recv_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.lock();
        if s.plain.is_some() {
            return self.discard_plain(&mut s);
        }
        self.flush_records(&mut s)?;
        loop {
            match s.tls.reader().read(buf) {
                Err(ref e) if e.kind() == ErrorKind::WouldBlock => (),
                Err(ref e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                other => return other,
            }
            if !s.sniffed && self.sniff(&mut s)? {
                return self.discard_plain(&mut s);
            }
            let n = s.tls.read_tls(&mut ReadNow(self.tcp.as_fd()))?;
            if let Err(e) = s.tls.process_new_packets() {
                // the alert that says why, if the socket takes it
                let _ = self.flush_records(&mut s);
                return Err(io::Error::new(ErrorKind::InvalidData, e));
            }
            self.flush_records(&mut s)?;
            if n == 0 {
                // end of stream: what was decrypted before it, then the end
                return Ok(s.tls.reader().read(buf).unwrap_or(0));
            }
        }
    }

    /// Looks at the first byte: a TLS handshake starts with 0x16; a letter is a plain
    /// HTTP request (`GET /`), which gets a plain `400` saying to use https. True then.
    fn sniff(&self, s: &mut Session) -> io::Result<bool> {
        let mut first = [0u8; 1];
        let n = recv_with(self.tcp.as_fd(), &mut first, RecvFlags::DONTWAIT | RecvFlags::PEEK)?;
        if n == 0 {
            return Ok(false); // the end of stream is read as such by rustls
        }
        s.sniffed = true;
        if !first[0].is_ascii_alphabetic() {
            return Ok(false);
        }
        log::debug!("A client spoke plain HTTP to the TLS port: answered 400");
        let body = "{\"error\":\"this port speaks HTTPS: use an https:// URL\"}";
        let answer = format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}",
            body.len(),
            body
        );
        s.plain = Some(0);
        // read what the request sent so far, so that closing sends no reset over it
        let _ = self.discard_plain(s);
        let _ = send_with(self.tcp.as_fd(), answer.as_bytes(), SendFlags::DONTWAIT | no_sigpipe());
        let _ = self.tcp.shutdown(Shutdown::Write);
        Ok(true)
    }

    /// After the plain `400`: reads and discards what comes (`WouldBlock` when nothing
    /// is there, `Ok(0)` at the end), for at most [`MAX_PLAIN_DISCARD`] bytes; the
    /// reactor's idle timeout bounds the time.
    fn discard_plain(&self, s: &mut Session) -> io::Result<usize> {
        let mut scratch = [0u8; 4096];
        loop {
            let n = recv_with(self.tcp.as_fd(), &mut scratch, RecvFlags::DONTWAIT)?;
            let total = s.plain.as_mut().expect("only called for a plain client");
            *total += n as u64;
            if n == 0 || *total > MAX_PLAIN_DISCARD {
                return Ok(0);
            }
        }
    }

    /// Accepts plaintext (at most [`MAX_SEND`] bytes) once the records queued before it are
    /// out; `WouldBlock` while they are not.
    pub(crate) fn send_now(&self, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.lock();
        if s.plain.is_some() {
            return Err(ErrorKind::BrokenPipe.into());
        }
        if !self.flush_records(&mut s)? {
            return Err(ErrorKind::WouldBlock.into());
        }
        let n = s.tls.writer().write(&buf[..buf.len().min(MAX_SEND)])?;
        self.flush_records(&mut s)?;
        if n == 0 && !buf.is_empty() {
            return Err(ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    /// Writes the queued records without waiting: `Ok` once they are all out, else
    /// `WouldBlock`.
    pub(crate) fn flush_now(&self) -> io::Result<()> {
        let mut s = self.lock();
        match self.flush_records(&mut s)? {
            true => Ok(()),
            false => Err(ErrorKind::WouldBlock.into()),
        }
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) {
        self.read_timeout.store(store(timeout), Ordering::SeqCst);
    }

    pub(crate) fn set_write_timeout(&self, timeout: Option<Duration>) {
        self.write_timeout.store(store(timeout), Ordering::SeqCst);
    }

    /// Blocking read within the read timeout (`WouldBlock` when it passes).
    pub(crate) fn recv_blocking(&self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = load(&self.read_timeout).map(|t| Instant::now() + t);
        loop {
            match self.recv_now(buf) {
                Err(ref e) if e.kind() == ErrorKind::WouldBlock => {
                    self.wait(PollFlags::IN, deadline)?
                }
                other => return other,
            }
        }
    }

    /// Blocking write within the write timeout (`WouldBlock` when it passes).
    pub(crate) fn send_blocking(&self, buf: &[u8]) -> io::Result<usize> {
        let deadline = load(&self.write_timeout).map(|t| Instant::now() + t);
        loop {
            match self.send_now(buf) {
                Err(ref e) if e.kind() == ErrorKind::WouldBlock => {
                    self.wait(PollFlags::OUT, deadline)?
                }
                other => return other,
            }
        }
    }

    /// Waits until the queued records are out, within the write timeout.
    pub(crate) fn flush_blocking(&self) -> io::Result<()> {
        let deadline = load(&self.write_timeout).map(|t| Instant::now() + t);
        loop {
            match self.flush_now() {
                Err(ref e) if e.kind() == ErrorKind::WouldBlock => {
                    self.wait(PollFlags::OUT, deadline)?
                }
                other => return other,
            }
        }
    }

    /// Waits (without the session's lock) until the socket is ready for `flags`, or
    /// writable while records wait to go out; `WouldBlock` at the deadline.
    fn wait(&self, mut flags: PollFlags, deadline: Option<Instant>) -> io::Result<()> {
        if self.has_unsent() {
            flags |= PollFlags::OUT;
        }
        let timeout = match deadline {
            None => None,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ErrorKind::WouldBlock.into());
                }
                Some(rustix::time::Timespec {
                    tv_sec: left.as_secs() as _,
                    tv_nsec: left.subsec_nanos() as _,
                })
            }
        };
        let mut fds = [PollFd::new(&self.tcp, flags)];
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(0) => Err(ErrorKind::WouldBlock.into()),
            Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// `Write`: a `close_notify` (if the socket takes it) before the TCP shutdown; `Both`
    /// cuts the connection without one.
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if how == Shutdown::Write {
            let mut s = self.lock();
            if s.plain.is_none() {
                s.tls.send_close_notify();
                let _ = self.flush_records(&mut s);
            }
        }
        self.tcp.shutdown(how)
    }
}

impl AsFd for TlsSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.tcp.as_fd()
    }
}
