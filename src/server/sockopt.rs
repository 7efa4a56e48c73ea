//! The TCP options the server sets on its sockets, through `socket2`.

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use socket2::SockRef;

/// Turns Nagle's algorithm off for every connection the listener accepts (Linux
/// copies `TCP_NODELAY` from the listening socket). Without it an answer larger
/// than tiny_http's 1 KiB write buffer leaves in two segments, and the second waits
/// for the client's delayed ACK: ~40 ms per history page instead of well under 1 ms.
pub fn set_nodelay(listener: &TcpListener) -> std::io::Result<()> {
    SockRef::from(listener).set_tcp_nodelay(true)
}

/// Makes the kernel give up on a viewer whose sent data (our pings at least) stays
/// unacknowledged for `timeout` (`TCP_USER_TIMEOUT`): a peer that vanished without
/// a reset is then noticed by the next write instead of after TCP's retransmissions
/// (about 15 minutes). Failing to set it only costs that; it is logged.
pub fn give_up_on_silent_peer(socket: &TcpStream, timeout: Duration) {
    if let Err(e) = SockRef::from(socket).set_tcp_user_timeout(Some(timeout)) {
        log::debug!("TCP_USER_TIMEOUT not set: {e}");
    }
}

/// Bytes the kernel may hold for one connection's unsent answer (`SO_SNDBUF`; Linux
/// doubles it for its own bookkeeping). Without a bound it grows to 4 MiB per
/// connection, so that a slow reader of a history page or an export (or a stuck
/// viewer) has its whole answer taken off the server's hands into kernel memory,
/// where no minimum rate watches it: 400 such readers held 460 MiB of the machine's
/// memory. With 128 KiB (256 KiB as Linux counts) a client on a 100 ms link still
/// gets over 1 MB/s, one on the room's LAN far more, and what a slow one has not
/// taken waits in the server, where its read rate is watched.
pub const SEND_BUFFER: usize = 128 * 1024;

/// Bounds the send buffer of every connection the listener accepts to
/// [`SEND_BUFFER`] (Linux copies `SO_SNDBUF` from the listening socket).
pub fn bound_send_buffers(listener: &TcpListener) -> std::io::Result<()> {
    SockRef::from(listener).set_send_buffer_size(SEND_BUFFER)
}

/// Bytes written to `socket` that the peer has not acknowledged yet (`SIOCOUTQ`):
/// written minus this is what the peer has really taken, however large the
/// kernel's buffers. `None` if the kernel does not say.
pub fn unacknowledged_bytes(socket: &TcpStream) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let mut queued: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one int through the pointer, which lives
    // for the call; the descriptor is open for as long as `socket` is borrowed.
    let result = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    (result == 0).then_some(u64::try_from(queued).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_connections_get_nodelay_a_bounded_send_buffer_and_the_user_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        set_nodelay(&listener).unwrap();
        bound_send_buffers(&listener).unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert!(SockRef::from(&accepted).tcp_nodelay().unwrap());
        // Linux reports the doubled size.
        assert_eq!(
            SockRef::from(&accepted).send_buffer_size().unwrap(),
            2 * SEND_BUFFER
        );
        give_up_on_silent_peer(&accepted, Duration::from_millis(2500));
        assert_eq!(
            SockRef::from(&accepted).tcp_user_timeout().unwrap(),
            Some(Duration::from_millis(2500))
        );
    }
}
