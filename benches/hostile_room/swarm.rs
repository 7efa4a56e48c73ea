//! Many hostile connections driven by one thread each kind: every socket is
//! non-blocking, and once a tick each one sends its drip (or takes its sip of an
//! answer). A connection the server closes is opened again at once, so the pressure
//! stays at its full size for the whole run.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// What each connection of a swarm does.
#[derive(Clone)]
pub enum Behaviour {
    /// Connects and sends nothing.
    Idle,
    /// Sends `start`, then `drip` once a tick, forever (a slowloris head or body, an
    /// oversized head, an endless chunk-size line).
    Drip { start: Vec<u8>, drip: Vec<u8> },
    /// Sends `request`, then reads at most `sip` bytes a tick (a slow reader).
    SlowRead { request: Vec<u8>, sip: usize },
}

/// A swarm's counters, read when the run ends.
#[derive(Default)]
pub struct Counts {
    /// Connections opened (first ones and re-openings).
    pub opened: AtomicU64,
    /// Connections the server ended (closed, reset, or after an error answer).
    pub ended: AtomicU64,
    /// Connections that could not be opened.
    pub refused: AtomicU64,
    /// Bytes sent and received.
    pub sent: AtomicU64,
    pub received: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
}

/// One swarm, running on its own thread until `stop` is set.
pub struct Swarm {
    pub name: &'static str,
    pub size: usize,
    pub counts: Arc<Counts>,
    thread: JoinHandle<()>,
}

struct Socket {
    stream: Option<TcpStream>,
    /// Bytes of the first message still to go (non-blocking writes may be short).
    pending: Vec<u8>,
}

impl Swarm {
    /// Starts `size` connections to `addr` behaving as `behaviour`, one action a `tick`.
    pub fn start(
        name: &'static str,
        addr: &str,
        size: usize,
        behaviour: Behaviour,
        tick: Duration,
        stop: Arc<AtomicBool>,
    ) -> Swarm {
        let counts = Arc::new(Counts::default());
        let thread = {
            let (addr, counts) = (addr.to_string(), Arc::clone(&counts));
            std::thread::Builder::new()
                .name(format!("swarm-{name}"))
                .spawn(move || run(&addr, size, &behaviour, tick, &stop, &counts))
                .expect("a swarm thread")
        };
        Swarm {
            name,
            size,
            counts,
            thread,
        }
    }

    /// Waits for the swarm's thread (after `stop` is set); its sockets are closed.
    pub fn join(self) -> (&'static str, usize, Arc<Counts>) {
        self.thread.join().expect("swarm thread");
        (self.name, self.size, self.counts)
    }
}

fn run(
    addr: &str,
    size: usize,
    behaviour: &Behaviour,
    tick: Duration,
    stop: &AtomicBool,
    counts: &Counts,
) {
    let mut sockets: Vec<Socket> = Vec::with_capacity(size);
    let mut buffer = vec![0u8; 64 * 1024];
    // A tenth of them a tick, so that the ramp is not one burst.
    let per_tick = size.div_ceil(10).max(1);
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..per_tick.min(size - sockets.len()) {
            sockets.push(open(addr, behaviour, counts));
        }
        for socket in &mut sockets {
            if !step(socket, behaviour, &mut buffer, counts) {
                counts.ended.fetch_add(1, Ordering::Relaxed);
                counts.open.fetch_sub(1, Ordering::Relaxed);
                *socket = open(addr, behaviour, counts);
            }
        }
        std::thread::sleep(tick);
    }
}

fn open(addr: &str, behaviour: &Behaviour, counts: &Counts) -> Socket {
    let stream = connect(addr, matches!(behaviour, Behaviour::SlowRead { .. }));
    let pending = match behaviour {
        Behaviour::Idle => Vec::new(),
        Behaviour::Drip { start, .. } => start.clone(),
        Behaviour::SlowRead { request, .. } => request.clone(),
    };
    match stream {
        Ok(stream) => {
            counts.opened.fetch_add(1, Ordering::Relaxed);
            counts.open.fetch_add(1, Ordering::Relaxed);
            Socket {
                stream: Some(stream),
                pending,
            }
        }
        Err(_) => {
            counts.refused.fetch_add(1, Ordering::Relaxed);
            Socket {
                stream: None,
                pending,
            }
        }
    }
}

/// A non-blocking connection; `small_window`: with a 4 KiB receive buffer, as a phone
/// on a bad link has, so that the kernel cannot take a whole answer off the server's
/// hands (set before connecting: the window is agreed on then).
fn connect(addr: &str, small_window: bool) -> std::io::Result<TcpStream> {
    let addr: std::net::SocketAddr = addr.parse().map_err(std::io::Error::other)?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    if small_window {
        socket.set_recv_buffer_size(4096)?;
    }
    socket.connect(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// One tick of one connection; false when the server has ended it.
fn step(socket: &mut Socket, behaviour: &Behaviour, buffer: &mut [u8], counts: &Counts) -> bool {
    let Some(stream) = socket.stream.as_mut() else {
        // Not opened: counted as ended so that it is tried again (and not twice open).
        counts.open.fetch_add(1, Ordering::Relaxed);
        return false;
    };
    let sip = match behaviour {
        Behaviour::SlowRead { sip, .. } => (*sip).min(buffer.len()),
        // The others read whatever comes (an error answer), to see the close.
        _ => buffer.len(),
    };
    if !receive(stream, &mut buffer[..sip], counts) {
        return false;
    }
    if socket.pending.is_empty()
        && let Behaviour::Drip { drip, .. } = behaviour
    {
        socket.pending.extend_from_slice(drip);
    }
    send(stream, &mut socket.pending, counts)
}

fn receive(stream: &mut TcpStream, buffer: &mut [u8], counts: &Counts) -> bool {
    match stream.read(buffer) {
        Ok(0) => false,
        Ok(n) => {
            counts.received.fetch_add(n as u64, Ordering::Relaxed);
            true
        }
        Err(e) => e.kind() == ErrorKind::WouldBlock,
    }
}

fn send(stream: &mut TcpStream, pending: &mut Vec<u8>, counts: &Counts) -> bool {
    if pending.is_empty() {
        return true;
    }
    match stream.write(pending) {
        Ok(n) => {
            counts.sent.fetch_add(n as u64, Ordering::Relaxed);
            pending.drain(..n);
            true
        }
        Err(e) => e.kind() == ErrorKind::WouldBlock,
    }
}
