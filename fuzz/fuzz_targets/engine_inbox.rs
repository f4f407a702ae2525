//! A whole engine fed arbitrary datagrams and inbox bytes: remote input never
//! panics the node, whatever it says.
#![no_main]
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use zmesh::engine::{Config, Engine};
use zmesh::wire::zmtp::{Command, Greeting};
use zmesh::PeerId;

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::new("fuzz"), PeerId([7; 16]));
    e.start(t0, "127.0.0.1:40000".parse().unwrap());
    let from = std::net::SocketAddr::from(([127, 0, 0, 2], zmesh::DEFAULT_PORT));
    let link = e.handle_accepted(t0, from);
    // A valid handshake from peer 0x09.. first, so the fuzzer's bytes reach the
    // ZRE layer as messages from a known identity.
    let mut first = Greeting::null().encode().to_vec();
    let mut identity = vec![1u8];
    identity.extend_from_slice(&[9; 16]);
    Command::ready("DEALER", &identity)
        .encode_into(&mut first)
        .unwrap();
    first.extend_from_slice(data);
    for (i, chunk) in first.chunks(37).enumerate() {
        let now = t0 + Duration::from_millis(i as u64 * 100);
        if chunk.first().is_some_and(|b| b % 5 == 0) {
            e.handle_datagram(now, from, chunk);
        }
        e.handle_bytes(now, link, chunk);
        e.handle_timeout(now);
        while e.poll_output().is_some() {}
    }
});
