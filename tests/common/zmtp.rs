//! ZMTP by hand over a real TCP connection, for tests that play a peer zmesh's own
//! API would not let them be (a stranger, a peer that stops reading).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use zmesh::engine::link::{Link, LinkEvent};

/// Runs `link`'s ZMTP handshake over `tcp` until it is ready (20 s at most).
pub fn handshake(tcp: &mut TcpStream, link: &mut Link) {
    tcp.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    loop {
        tcp.write_all(&link.take_output()).unwrap();
        if let Ok(n) = tcp.read(&mut buf) {
            link.handle_bytes(&buf[..n]);
        }
        while let Ok(Some(ev)) = link.poll() {
            if matches!(ev, LinkEvent::Ready { .. }) {
                tcp.write_all(&link.take_output()).unwrap();
                return;
            }
        }
        assert!(Instant::now() < end, "no ZMTP handshake");
    }
}
