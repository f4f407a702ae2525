//! A whole engine serving gossip, fed arbitrary bytes on an accepted gossip link
//! after a valid handshake and HELLO: remote input never panics the node, and the
//! tuple table stays within its bound.
#![no_main]
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use zmesh::engine::{gossip::MAX_TUPLES, Config, Engine};
use zmesh::wire::zgossip::GossipMessage;
use zmesh::wire::zmtp::{encode_message_into, Command, Greeting};
use zmesh::PeerId;

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut c = Config::new("fuzz");
    c.beacon = false;
    let mut e = Engine::new(c, PeerId([7; 16]));
    e.start(t0, "127.0.0.1:40000".parse().unwrap());
    let link = e.handle_gossip_accepted(t0, "127.0.0.2:40001".parse().unwrap());
    let mut first = Greeting::null().encode().to_vec();
    Command::ready("DEALER", b"")
        .encode_into(&mut first)
        .unwrap();
    encode_message_into(&mut first, &[GossipMessage::Hello.encode().unwrap()]);
    first.extend_from_slice(data);
    for (i, chunk) in first.chunks(41).enumerate() {
        let now = t0 + Duration::from_millis(i as u64 * 100);
        e.handle_bytes(now, link, chunk);
        e.handle_timeout(now);
        while e.poll_output().is_some() {}
    }
    assert!(e.gossip_tuples().count() <= MAX_TUPLES);
});
