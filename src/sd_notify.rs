//! systemd's readiness protocol (sd_notify): with `Type=notify`, systemd starts dependent units and
//! counts the service as up only once it says `READY=1`, and `STOPPING=1` tells it the stop it sees
//! next is a drain, not a crash. The protocol is one datagram to the socket named by
//! `$NOTIFY_SOCKET` (a path, or an abstract name written `@name`), so no crate is needed.
//!
//! Outside systemd the variable is unset and every call is a no-op.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The environment variable systemd sets for a `Type=notify` service.
pub const SOCKET_VAR: &str = "NOTIFY_SOCKET";

/// Every listener is bound and the store is migrated: dependants may start, traffic may come.
pub fn ready(status: &str) {
    send_logged(&format!(
        "READY=1\nSTATUS={status}\nMAINPID={}",
        std::process::id()
    ));
}

/// Shutdown has begun: readiness is now 503 and in-flight requests are draining.
pub fn stopping() {
    send_logged("STOPPING=1\nSTATUS=draining");
}

fn send_logged(state: &str) {
    match send(std::env::var_os(SOCKET_VAR).as_deref(), state) {
        Ok(_) => {}
        // The service still works; systemd will report the unit as failed to start, which is the
        // right signal for an operator, and the log says why.
        Err(e) => tracing::warn!(error = %e, "cannot notify systemd"),
    }
}

/// Sends `state` to `socket`; `Ok(false)` when there is no socket to send to.
///
/// # Errors
/// The socket name is empty or relative, or the datagram cannot be sent.
pub fn send(socket: Option<&std::ffi::OsStr>, state: &str) -> io::Result<bool> {
    let Some(socket) = socket.filter(|s| !s.is_empty()) else {
        return Ok(false);
    };
    let addr = address(socket)?;
    let sock = UnixDatagram::unbound()?;
    sock.send_to_addr(state.as_bytes(), &addr)?;
    Ok(true)
}

fn address(socket: &std::ffi::OsStr) -> io::Result<SocketAddr> {
    use std::os::unix::ffi::OsStrExt as _;
    let bytes = socket.as_bytes();
    match bytes.first() {
        Some(b'/') => SocketAddr::from_pathname(socket),
        #[cfg(target_os = "linux")]
        Some(b'@') => {
            use std::os::linux::net::SocketAddrExt as _;
            SocketAddr::from_abstract_name(&bytes[1..])
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET is neither an absolute path nor an abstract socket name",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_socket_is_a_no_op() {
        assert!(!send(None, "READY=1").unwrap());
        assert!(!send(Some("".as_ref()), "READY=1").unwrap());
    }

    #[test]
    fn a_relative_name_is_refused() {
        assert!(send(Some("notify.sock".as_ref()), "READY=1").is_err());
    }

    #[test]
    fn sends_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        assert!(send(Some(path.as_os_str()), "READY=1").unwrap());
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sends_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt as _;
        let name = format!("resetgate-test-{}", uuid::Uuid::new_v4());
        let listener =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        assert!(send(Some(format!("@{name}").as_ref()), "STOPPING=1").unwrap());
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
    }
}
