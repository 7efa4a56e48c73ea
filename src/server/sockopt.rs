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

/// Bytes the kernel may hold for one viewer's socket (`SO_SNDBUF`; Linux doubles
/// it for its own bookkeeping). Without a bound it grows to several MiB per viewer;
/// with 256 KiB a viewer on a 100 ms link still gets over 2 MB/s, and what a stuck
/// viewer has not taken waits in the writer, where the read rate is watched.
pub const VIEWER_SEND_BUFFER: usize = 256 * 1024;

/// Bounds the kernel's send buffer of a viewer's socket to [`VIEWER_SEND_BUFFER`];
/// failing to set it only costs memory; it is logged.
pub fn bound_send_buffer(socket: &TcpStream) {
    if let Err(e) = SockRef::from(socket).set_send_buffer_size(VIEWER_SEND_BUFFER) {
        log::debug!("SO_SNDBUF not set: {e}");
    }
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
    fn accepted_connections_get_nodelay_and_the_user_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        set_nodelay(&listener).unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert!(SockRef::from(&accepted).tcp_nodelay().unwrap());
        give_up_on_silent_peer(&accepted, Duration::from_millis(2500));
        assert_eq!(
            SockRef::from(&accepted).tcp_user_timeout().unwrap(),
            Some(Duration::from_millis(2500))
        );
    }
}
