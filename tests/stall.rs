//! An application that stops reading its events for longer than the expired
//! timeout loses no peer and no message: heartbeats go on while its node leaves
//! the peer's bytes unread. Loopback only, a beacon port of its own.

use std::time::{Duration, Instant};

use zmesh::net::Options;
use zmesh::{Event, Node};

const PORT: u16 = 46503;

fn node(name: &str) -> Node {
    let mut n = Node::new(name);
    n.set_interface("lo");
    n.set_port(PORT);
    n.set_interval(Duration::from_millis(100));
    n.set_evasive_timeout(Duration::from_millis(500)).unwrap();
    n.set_expired_timeout(Duration::from_secs(2)).unwrap();
    n
}

#[test]
fn a_stalled_application_keeps_its_peers() {
    let mut a = node("talker");
    let mut b = node("sleeper");
    // A small event backlog, so that the sleeper's node stops reading soon.
    let mut small = Options::default();
    small.event_high_water = 50;
    b.set_options(small);
    a.start().unwrap();
    b.start().unwrap();
    let (ra, rb) = (a.events(), b.events());
    let end = Instant::now() + Duration::from_secs(20);
    while !a.peers().unwrap().contains(&b.uuid()) || !b.peers().unwrap().contains(&a.uuid()) {
        assert!(Instant::now() < end, "the two never met");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    // The sleeper's application reads nothing for three times the expired timeout,
    // while the talker whispers 500 numbered messages.
    let sent = 500u32;
    for i in 0..sent {
        a.whisper(b.uuid(), vec![i.to_be_bytes().to_vec()]).unwrap();
        std::thread::sleep(Duration::from_millis(12));
    }
    std::thread::sleep(Duration::from_secs(1));
    // The talker never saw the sleeper leave.
    let exits_at_a: Vec<Event> = ra.try_iter().filter(|e| e.kind() == "EXIT").collect();
    assert!(exits_at_a.is_empty(), "{exits_at_a:?}");
    // Now the sleeper reads: every message, in order, and no EXIT.
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(20);
    while got.len() < sent as usize {
        let left = end.saturating_duration_since(Instant::now());
        match rb.recv_timeout(left).expect("all whispers arrive") {
            Event::Whisper { content, .. } => {
                got.push(u32::from_be_bytes(content[0].try_into().unwrap()))
            }
            e @ Event::Exit { .. } => panic!("the sleeper dropped its peer: {e:?}"),
            _ => {}
        }
    }
    assert_eq!(got, (0..sent).collect::<Vec<_>>());
    assert!(a.peers().unwrap().contains(&b.uuid()));
    assert!(b.peers().unwrap().contains(&a.uuid()));
}
