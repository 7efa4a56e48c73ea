use std::io::Result as IoResult;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::connection::Connection;
#[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
use crate::ssl::SslStream;

pub(crate) enum Stream {
    Http(Connection),
    #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
    Https(SslStream),
}

impl From<Connection> for Stream {
    fn from(tcp_stream: Connection) -> Self {
        Stream::Http(tcp_stream)
    }
}

impl Stream {
    /// Duplicates the handle. Fails (instead of panicking) when the process is out of file
    /// descriptors, so that the accept loop can drop the connection and keep running.
    fn try_clone(&self) -> IoResult<Stream> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.try_clone().map(Stream::Http),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => Ok(Stream::Https(ssl_stream.clone())),
        }
    }

    fn secure(&self) -> bool {
        match self {
            Stream::Http(_) => false,
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(_) => true,
        }
    }

    fn peer_addr(&mut self) -> IoResult<Option<SocketAddr>> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.peer_addr(),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.peer_addr(),
        }
    }

    fn shutdown(&mut self, how: Shutdown) -> IoResult<()> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.shutdown(how),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.shutdown(how),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.read(buf),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.write(buf),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.write(buf),
        }
    }

    fn flush(&mut self) -> IoResult<()> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.flush(),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.flush(),
        }
    }
}

pub struct RefinedTcpStream {
    stream: Stream,
    close_read: bool,
    close_write: bool,
    // shared by the read and write halves: once the socket has been handed over to the
    // application (`Request::upgrade_tcp`), dropping a half must not shut it down
    detached: Arc<AtomicBool>,
}

/// A plain TCP socket of a connection, ready to be handed over to the application (see
/// `Request::upgrade_tcp`): a clone of the socket, and the switch that keeps tiny_http's
/// own handles from shutting the socket down once they are dropped.
pub(crate) struct Handover {
    pub(crate) socket: TcpStream,
    pub(crate) detached: Arc<AtomicBool>,
}

impl Handover {
    /// From now on, tiny_http's handles close only their own descriptors.
    pub(crate) fn detach(self) -> TcpStream {
        self.detached.store(true, Ordering::SeqCst);
        self.socket
    }
}

impl RefinedTcpStream {
    pub(crate) fn new<S>(stream: S) -> IoResult<(RefinedTcpStream, RefinedTcpStream)>
    where
        S: Into<Stream>,
    {
        let stream: Stream = stream.into();

        let (read, write) = (stream.try_clone()?, stream);
        let detached = Arc::new(AtomicBool::new(false));

        let read = RefinedTcpStream {
            stream: read,
            close_read: true,
            close_write: false,
            detached: detached.clone(),
        };

        let write = RefinedTcpStream {
            stream: write,
            close_read: false,
            close_write: true,
            detached,
        };

        Ok((read, write))
    }

    /// Returns true if this struct wraps around a secure connection.
    #[inline]
    pub(crate) fn secure(&self) -> bool {
        self.stream.secure()
    }

    pub(crate) fn peer_addr(&mut self) -> IoResult<Option<SocketAddr>> {
        self.stream.peer_addr()
    }

    /// A clone of the socket for `Request::upgrade_tcp`: `None` for TLS and Unix sockets,
    /// or if the descriptor cannot be duplicated (e.g. out of file descriptors).
    pub(crate) fn handover(&self) -> Option<Handover> {
        match self.stream {
            Stream::Http(Connection::Tcp(ref socket)) => socket.try_clone().ok().map(|socket| Handover {
                socket,
                detached: self.detached.clone(),
            }),
            _ => None,
        }
    }

    /// Shuts down the underlying socket (this affects every handle of it).
    pub(crate) fn shutdown(&mut self, how: Shutdown) -> IoResult<()> {
        self.stream.shutdown(how)
    }
}

impl Drop for RefinedTcpStream {
    fn drop(&mut self) {
        if self.detached.load(Ordering::SeqCst) {
            return; // the application owns the socket now
        }
        if self.close_read {
            self.stream.shutdown(Shutdown::Read).ok();
        }

        if self.close_write {
            self.stream.shutdown(Shutdown::Write).ok();
        }
    }
}

impl Read for RefinedTcpStream {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        self.stream.read(buf)
    }
}

impl Write for RefinedTcpStream {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> IoResult<()> {
        self.stream.flush()
    }
}
