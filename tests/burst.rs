//! A burst of large whispers goes to the socket as it comes: the actor carries
//! out the application's commands in batches, but a batch of large messages must
//! not pile up inside the engine, where `max_pending` (here 512 KiB) bounds what
//! one peer may hold. Loopback only, a beacon port of its own.

use std::time::{Duration, Instant};

use zmesh::{Event, Node};

const PORT: u16 = 46557;
const MESSAGES: usize = 64;
const SIZE: usize = 64 << 10;

#[test]
fn a_burst_of_large_whispers_is_not_held_back_in_the_engine() {
    let a = Node::builder("sender")
        .interface("lo")
        .port(PORT)
        .max_pending(512 << 10)
        .build()
        .unwrap();
    let b = Node::builder("receiver")
        .interface("lo")
        .port(PORT)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let a_events = a.events();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match a_events.recv_timeout(left) {
            Ok(Event::Enter { peer, .. }) if peer == b.uuid() => break,
            Ok(_) => {}
            Err(_) => panic!("the sender never saw the receiver"),
        }
    }
    // 4 MiB as fast as the application can hand it over: eight times the bound.
    for i in 0..MESSAGES {
        let mut payload = vec![0u8; SIZE];
        payload[0] = i as u8;
        a.whisper(b.uuid(), vec![payload]).unwrap();
    }
    let b_events = b.events();
    let mut got = 0;
    while got < MESSAGES {
        let left = deadline.saturating_duration_since(Instant::now());
        match b_events.recv_timeout(left) {
            Ok(Event::Whisper { content, .. }) => {
                assert_eq!(content[0].len(), SIZE);
                assert_eq!(content[0][0], got as u8, "in order");
                got += 1;
            }
            Ok(_) => {}
            Err(_) => panic!("{got} of {MESSAGES} whispers arrived"),
        }
    }
    // The sender kept the receiver all along.
    while let Ok(e) = a_events.try_recv() {
        assert!(!matches!(e, Event::Exit { .. }), "{e:?}");
    }
    assert_eq!(a.peers().unwrap(), vec![b.uuid()]);
}
