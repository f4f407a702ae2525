//! `Node::event_fd`: readable when an event waits, not after it is cleared, and
//! readable again for the next event. Loopback only, a beacon port of its own.

use std::io::ErrorKind;
use std::mem::MaybeUninit;
use std::os::fd::AsFd;

use socket2::Socket;
use std::time::{Duration, Instant};

use zmesh::{Event, Node};

const PORT: u16 = 46517;

fn node(name: &str) -> Node {
    let mut n = Node::new(name);
    n.set_interface("lo");
    n.set_port(PORT);
    n.set_interval(Duration::from_millis(100));
    n
}

/// True if the descriptor has a byte to read (what poll would report).
fn readable(s: &Socket) -> bool {
    let mut b = [MaybeUninit::<u8>::uninit(); 1];
    match s.peek(&mut b) {
        Ok(n) => n > 0,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) => panic!("{e}"),
    }
}

fn wait_readable(s: &Socket) {
    let end = Instant::now() + Duration::from_secs(20);
    while !readable(s) {
        assert!(Instant::now() < end, "the descriptor never became readable");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_descriptor_follows_the_events() {
    let mut a = node("a");
    let mut fd = a.event_fd().unwrap();
    let view = Socket::from(fd.as_fd().try_clone_to_owned().unwrap());
    a.start().unwrap();
    let events = a.events();
    fd.clear();
    for _ in events.try_iter() {}
    // Nothing happens: nothing to read.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!readable(&view) || !events.is_empty());
    let mut b = node("b");
    b.start().unwrap();
    // b enters: readable; cleared, then the ENTER is there to take.
    wait_readable(&view);
    fd.clear();
    assert!(!readable(&view));
    let end = Instant::now() + Duration::from_secs(20);
    let mut entered = false;
    while !entered {
        for e in events.try_iter() {
            entered |= matches!(e, Event::Enter { .. });
        }
        if !entered {
            wait_readable(&view);
            fd.clear();
        }
        assert!(Instant::now() < end, "no ENTER");
    }
    // The next event (b leaves) makes it readable again.
    b.stop();
    wait_readable(&view);
    fd.clear();
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if events.try_iter().any(|e| matches!(e, Event::Exit { .. })) {
            break;
        }
        assert!(Instant::now() < end, "no EXIT");
        wait_readable(&view);
        fd.clear();
    }
    a.stop();
}
