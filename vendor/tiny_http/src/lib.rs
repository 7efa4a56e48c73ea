//! # Simple usage
//!
//! ## Creating the server
//!
//! The easiest way to create a server is to call `Server::http()`.
//!
//! The `http()` function returns an `IoResult<Server>` which will return an error
//! in the case where the server creation fails (for example if the listening port is already
//! occupied).
//!
//! ```no_run
//! let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! ```
//!
//! A newly-created `Server` will immediately start listening for incoming connections and HTTP
//! requests.
//!
//! ## Receiving requests
//!
//! Calling `server.recv()` will block until the next request is available.
//! This function returns an `IoResult<Request>`, so you need to handle the possible errors.
//!
//! ```no_run
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//!
//! loop {
//!     // blocks until the next request is received
//!     let request = match server.recv() {
//!         Ok(rq) => rq,
//!         Err(e) => { println!("error: {}", e); break }
//!     };
//!
//!     // do something with the request
//!     // ...
//! }
//! ```
//!
//! In a real-case scenario, you will probably want to spawn multiple worker tasks and call
//! `server.recv()` on all of them. Like this:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use std::thread;
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! let server = Arc::new(server);
//! let mut guards = Vec::with_capacity(4);
//!
//! for _ in (0 .. 4) {
//!     let server = server.clone();
//!
//!     let guard = thread::spawn(move || {
//!         loop {
//!             let rq = server.recv().unwrap();
//!
//!             // ...
//!         }
//!     });
//!
//!     guards.push(guard);
//! }
//! ```
//!
//! If you don't want to block, you can call `server.try_recv()` instead.
//!
//! ## Handling requests
//!
//! The `Request` object returned by `server.recv()` contains informations about the client's request.
//! The most useful methods are probably `request.method()` and `request.url()` which return
//! the requested method (`GET`, `POST`, etc.) and url.
//!
//! To handle a request, you need to create a `Response` object. See the docs of this object for
//! more infos. Here is an example of creating a `Response` from a file:
//!
//! ```no_run
//! # use std::fs::File;
//! # use std::path::Path;
//! let response = tiny_http::Response::from_file(File::open(&Path::new("image.png")).unwrap());
//! ```
//!
//! All that remains to do is call `request.respond()`:
//!
//! ```no_run
//! # use std::fs::File;
//! # use std::path::Path;
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! # let request = server.recv().unwrap();
//! # let response = tiny_http::Response::from_file(File::open(&Path::new("image.png")).unwrap());
//! let _ = request.respond(response);
//! ```
#![deny(unsafe_code)]
#![deny(rust_2018_idioms)]
#![allow(clippy::match_like_matches_macro)]

use std::error::Error;
use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::net::ToSocketAddrs;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use polling::Poller;

use util::MessagesQueue;

pub use common::{HTTPVersion, Header, HeaderField, Method, StatusCode};
pub use connection::{ConfigListenAddr, ListenAddr, Listener};
pub use request::{ReadWrite, Request, UpgradeTcpError};
pub use response::{Response, ResponseBox};
pub use test::TestRequest;
pub use tls::{tls_config_from_pem, TlsConfigError};
pub use upgraded::{TlsStream, UpgradedStream};
/// The rustls this crate's TLS is built on (BenchBoard patch).
pub use rustls;

mod common;
mod conn;
mod connection;
mod head;
mod reactor;
mod request;
mod response;
mod sender;
mod test;
mod tls;
mod upgraded;
mod util;

/// The main class of this library.
///
/// Destroying this object will immediately close the listening socket and stop reading
///  from the clients' connections. Requests that have already been returned by
///  the `recv()` function will not close and the responses will be transferred to the client.
///
/// BenchBoard patch: a server runs exactly two threads of its own, whatever the number of
/// connections: a *reactor* that accepts connections and reads request heads (and small
/// bodies, see [`Limits::preread_body`]) without blocking, and a *writer* that finishes
/// responses a client does not take at once (see [`Request::respond_detached`]). An idle
/// keep-alive connection, or a client trickling its request, costs no thread; only a
/// complete request reaches [`Server::recv`].
pub struct Server {
    // should be false as long as the server exists
    // when set to true, the reactor thread stops
    close: Arc<AtomicBool>,

    // wakes the reactor thread up
    poller: Arc<Poller>,

    // queue for messages received by child threads
    messages: Arc<MessagesQueue<Message>>,

    // shared with the connections
    shared: Arc<conn::Shared>,

    // result of TcpListener::local_addr()
    listening_addr: ListenAddr,
}

enum Message {
    Error(IoError),
    NewRequest(Request),
}

impl From<IoError> for Message {
    fn from(e: IoError) -> Message {
        Message::Error(e)
    }
}

impl From<Request> for Message {
    fn from(rq: Request) -> Message {
        Message::NewRequest(rq)
    }
}

// this trait is to make sure that Server implements Share and Send
#[doc(hidden)]
#[allow(dead_code)] // only exists to fail compilation if `Server` loses Sync or Send
trait MustBeShareDummy: Sync + Send {}
#[doc(hidden)]
impl MustBeShareDummy for Server {}

pub struct IncomingRequests<'a> {
    server: &'a Server,
}

/// Represents the parameters required to create a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The addresses to try to listen to.
    pub addr: ConfigListenAddr,

    /// `Some`: serve HTTPS with this certificate and key (BenchBoard patch: TLS runs
    /// inside the reactor, see [`Server::from_listener_with_tls`]).
    pub ssl: Option<SslConfig>,
}

/// Time limits applied to every client connection.
///
/// `Default` gives upstream tiny_http's behaviour: no time limits at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// The request timeout (BenchBoard patch: a deadline per request, no longer a timeout
    /// per read). A request's head and body must have arrived within this time of its first
    /// byte: a head still incomplete then is answered `408`; a body the application reads
    /// fails with `ErrorKind::TimedOut`. It is also how long an idle keep-alive connection
    /// (or a new one that sends nothing) is kept, and the per-read timeout of an upgraded
    /// stream. `None` = no limit.
    pub read_timeout: Option<Duration>,
    /// The window of the minimum send rate (BenchBoard patch): in every window of this
    /// length, a client must take at least `Limits::min_send_rate` × this many bytes of its
    /// response, else it is cut off (and `Request::respond` returns an error). Also the
    /// per-write timeout of an upgraded stream. `None` = no limit.
    pub write_timeout: Option<Duration>,
}

impl ConnectionOptions {
    fn validate(&self) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
        if self.read_timeout == Some(Duration::ZERO) || self.write_timeout == Some(Duration::ZERO) {
            return Err("connection timeouts must be non-zero (use `None` for no timeout)".into());
        }
        Ok(())
    }
}

/// Bounds on what clients can make the server hold (BenchBoard patch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most client connections open at once, idle ones included (each costs one file
    /// descriptor). Past it, the connection idle for the longest time is closed to make
    /// room; if none is idle, a new connection is answered `503` with `Retry-After: 5` and
    /// closed. Default 10,000.
    pub max_connections: usize,
    /// Request bodies up to this many bytes on the wire (`Content-Length`, or chunked) are
    /// read by the reactor before the request is handed over, within the request timeout
    /// and without holding a thread, so that a client trickling its body holds no
    /// application thread either (all such bodies together take at most 32 MiB; past that,
    /// the application reads them). Larger bodies, and those with `Expect: 100-continue`,
    /// are read by the application through [`Request::as_reader`]. `None` (default):
    /// upstream's behaviour, `Content-Length` bodies up to 1 KiB.
    pub preread_body: Option<usize>,
    /// Largest chunked request body on the wire, chunk framing included; reading more
    /// fails with an error whose inner error is a [`BodyTooLarge`]. (A `Content-Length` body
    /// is checked by the application against [`Request::body_length`].) Default: none.
    pub max_chunked_body: Option<u64>,
    /// Slowest acceptable reader of a response, in bytes per second, measured over each
    /// window of [`ConnectionOptions::write_timeout`]. Default 1024.
    pub min_send_rate: u64,
    /// Lingering close: after the last answer on a connection the server closes, what the
    /// client still sends (e.g. the rest of a body refused with 413) is read and discarded
    /// for at most this long, so that the client reads the answer instead of a connection
    /// reset. Default 5 s; zero closes at once.
    pub linger_time: Duration,
    /// Most bytes discarded during a lingering close. Default 16 MiB.
    pub linger_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 10_000,
            preread_body: None,
            max_chunked_body: None,
            min_send_rate: 1024,
            linger_time: Duration::from_secs(5),
            linger_bytes: 16 * 1024 * 1024,
        }
    }
}

impl Limits {
    fn validate(&self) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
        if self.max_connections == 0 {
            return Err("max_connections must be at least 1".into());
        }
        Ok(())
    }
}

/// The error inside the `io::Error` of a request body read that went past
/// [`Limits::max_chunked_body`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTooLarge {
    /// The limit, in bytes on the wire.
    pub limit: u64,
}

impl std::fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the chunked request body is larger than {} bytes on the wire",
            self.limit
        )
    }
}

impl Error for BodyTooLarge {}

/// Raises the process's soft limit of open files (`RLIMIT_NOFILE`) to its hard limit,
/// since every client connection takes a file descriptor (BenchBoard patch). Returns the
/// soft limit now in force.
pub fn raise_open_files_limit() -> IoResult<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        setrlimit(Resource::Nofile, limit)?;
    }
    Ok(getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX))
}

/// The hard limit of open files (`RLIMIT_NOFILE`) of this process, which
/// [`raise_open_files_limit`] raises the soft limit to; `None` if unlimited.
pub fn open_files_hard_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum
}

/// Configuration of the server for SSL.
#[derive(Debug, Clone)]
pub struct SslConfig {
    /// Contains the public certificate to send to clients (PEM, the server's
    /// certificate first, then its chain).
    pub certificate: Vec<u8>,
    /// Contains the ultra-secret private key used to decode communications (PEM).
    pub private_key: Vec<u8>,
}

impl Server {
    /// Shortcut for an HTTPS server on a specific address.
    #[inline]
    pub fn https<A>(
        addr: A,
        config: SslConfig,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>>
    where
        A: ToSocketAddrs,
    {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::from_socket_addrs(addr)?,
            ssl: Some(config),
        })
    }

    /// Shortcut for a simple server on a specific address.
    #[inline]
    pub fn http<A>(addr: A) -> Result<Server, Box<dyn Error + Send + Sync + 'static>>
    where
        A: ToSocketAddrs,
    {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::from_socket_addrs(addr)?,
            ssl: None,
        })
    }

    /// Same as [`Server::http`], with time limits for every connection.
    #[inline]
    pub fn http_with_options<A>(
        addr: A,
        options: ConnectionOptions,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>>
    where
        A: ToSocketAddrs,
    {
        Server::new_with_options(
            ServerConfig {
                addr: ConfigListenAddr::from_socket_addrs(addr)?,
                ssl: None,
            },
            options,
        )
    }

    #[cfg(unix)]
    #[inline]
    /// Shortcut for a UNIX socket server at a specific path
    pub fn http_unix(
        path: &std::path::Path,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::unix_from_path(path),
            ssl: None,
        })
    }

    /// Builds a new server that listens on the specified address.
    pub fn new(config: ServerConfig) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Self::new_with_options(config, ConnectionOptions::default())
    }

    /// Same as [`Server::new`], with time limits for every connection.
    pub fn new_with_options(
        config: ServerConfig,
        options: ConnectionOptions,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        options.validate()?;
        let listener = config.addr.bind()?;
        Self::from_listener_with_options(listener, config.ssl, options)
    }

    /// Builds a new server using the specified TCP listener.
    ///
    /// This is useful if you've constructed TcpListener using some less usual method
    /// such as from systemd. For other cases, you probably want the `new()` function.
    pub fn from_listener<L: Into<Listener>>(
        listener: L,
        ssl_config: Option<SslConfig>,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Self::from_listener_with_options(listener, ssl_config, ConnectionOptions::default())
    }

    /// Same as [`Server::from_listener`], with time limits for every connection.
    pub fn from_listener_with_options<L: Into<Listener>>(
        listener: L,
        ssl_config: Option<SslConfig>,
        options: ConnectionOptions,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let tls = match ssl_config {
            Some(ssl) => Some(tls_config_from_pem(&ssl.certificate, &ssl.private_key)?),
            None => None,
        };
        Self::start(listener.into(), options, Limits::default(), tls)
    }

    /// Like [`Server::from_listener_with_limits`], serving HTTPS with `tls` (BenchBoard
    /// patch; [`tls_config_from_pem`] makes one from PEM files). The TLS handshake and all
    /// the encryption run on the server's own two threads and the application's, like
    /// plain HTTP: the limits and deadlines of [`Limits`] and [`ConnectionOptions`] hold
    /// for the decrypted requests, and a handshake is bounded by the request timeout like
    /// an idle connection. A client speaking plain HTTP to the port gets a `400` saying
    /// to use https. TCP listeners only.
    pub fn from_listener_with_tls<L: Into<Listener>>(
        listener: L,
        options: ConnectionOptions,
        limits: Limits,
        tls: Arc<rustls::ServerConfig>,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Self::start(listener.into(), options, limits, Some(tls))
    }

    /// Builds a server on `listener` with time limits and bounds for every connection
    /// (BenchBoard patch). Fails if the server's two threads cannot be started.
    pub fn from_listener_with_limits<L: Into<Listener>>(
        listener: L,
        options: ConnectionOptions,
        limits: Limits,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Self::start(listener.into(), options, limits, None)
    }

    fn start(
        listener: Listener,
        options: ConnectionOptions,
        limits: Limits,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        options.validate()?;
        limits.validate()?;
        if tls.is_some() && !matches!(listener, Listener::Tcp(_)) {
            return Err("TLS needs a TCP listener".into());
        }
        let local_addr = listener.local_addr()?;
        log::debug!("Server listening on {}", local_addr);

        let close = Arc::new(AtomicBool::new(false));
        let messages = MessagesQueue::with_capacity(8);
        let reactor_poller = Arc::new(Poller::new()?);
        let sender_poller = Arc::new(Poller::new()?);
        let (reactor_tx, reactor_rx) = mpsc::channel();
        let (sender_tx, sender_rx) = mpsc::channel();
        let shared = Arc::new(conn::Shared::new(
            options,
            limits,
            tls,
            conn::Link::new(reactor_tx, Arc::clone(&reactor_poller)),
            conn::Link::new(sender_tx, Arc::clone(&sender_poller)),
        ));
        let reactor = reactor::Reactor::new(
            Arc::clone(&reactor_poller),
            listener,
            Arc::clone(&shared),
            Arc::clone(&messages),
            reactor_rx,
            Arc::clone(&close),
        )?;
        let sender = sender::Sender::new(sender_poller, sender_rx);
        thread::Builder::new()
            .name("http-writer".into())
            .spawn(move || sender.run())?;
        thread::Builder::new()
            .name("http-reactor".into())
            .spawn(move || reactor.run())?;

        Ok(Server {
            close,
            poller: reactor_poller,
            messages,
            shared,
            listening_addr: local_addr,
        })
    }

    /// Returns an iterator for all the incoming requests.
    ///
    /// The iterator will return `None` if the server socket is shutdown.
    #[inline]
    pub fn incoming_requests(&self) -> IncomingRequests<'_> {
        IncomingRequests { server: self }
    }

    /// Returns the address the server is listening to.
    #[inline]
    pub fn server_addr(&self) -> ListenAddr {
        self.listening_addr.clone()
    }

    /// Returns the number of clients currently connected to the server.
    pub fn num_connections(&self) -> usize {
        self.shared.open.load(SeqCst)
    }

    /// Blocks until an HTTP request has been submitted and returns it.
    pub fn recv(&self) -> IoResult<Request> {
        match self.messages.pop() {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(rq),
            None => Err(IoError::other("thread unblocked")),
        }
    }

    /// Same as `recv()` but doesn't block longer than timeout
    pub fn recv_timeout(&self, timeout: Duration) -> IoResult<Option<Request>> {
        match self.messages.pop_timeout(timeout) {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(Some(rq)),
            None => Ok(None),
        }
    }

    /// Same as `recv()` but doesn't block.
    pub fn try_recv(&self) -> IoResult<Option<Request>> {
        match self.messages.try_pop() {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(Some(rq)),
            None => Ok(None),
        }
    }

    /// Unblock thread stuck in recv() or incoming_requests().
    /// If there are several such threads, only one is unblocked.
    /// This method allows graceful shutdown of server.
    pub fn unblock(&self) {
        self.messages.unblock();
    }
}

impl Iterator for IncomingRequests<'_> {
    type Item = Request;
    fn next(&mut self) -> Option<Request> {
        self.server.recv().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close.store(true, SeqCst);
        let _ = self.poller.notify();

        #[cfg(unix)]
        if let ListenAddr::Unix(addr) = &self.listening_addr {
            if let Some(path) = addr.as_pathname() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}
