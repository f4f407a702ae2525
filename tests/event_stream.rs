//! `Node::event_stream` (feature `async`): events arrive through a waker, with no
//! runtime; the stream ends after STOP. Loopback only, a beacon port of its own.
#![cfg(feature = "async")]

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};
use std::thread::Thread;
use std::time::Duration;

use futures_core::Stream;
use zmesh::{Event, Node};

const PORT: u16 = 46518;

/// Wakes the test's thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// The next item, parking the thread while the stream is pending (at most 30 s
/// in all, or the test fails).
fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let end = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Poll::Ready(item) = Pin::new(&mut *s).poll_next(&mut cx) {
            return item;
        }
        assert!(std::time::Instant::now() < end, "the stream never woke us");
        // Parked until woken; the timeout only guards the deadline above.
        std::thread::park_timeout(Duration::from_secs(30));
    }
}

#[test]
fn events_come_through_a_waker_and_the_stream_ends_after_stop() {
    let mut a = Node::new("a");
    a.set_interface("lo");
    a.set_port(PORT);
    a.set_interval(Duration::from_millis(100));
    let mut stream = a.event_stream();
    a.start().unwrap();
    let mut b = Node::new("b");
    b.set_interface("lo");
    b.set_port(PORT);
    b.start().unwrap();
    loop {
        match next(&mut stream) {
            Some(Event::Enter { peer, .. }) if peer == b.uuid() => break,
            Some(_) => {}
            None => panic!("ended early"),
        }
    }
    b.stop();
    a.stop();
    let mut stopped = false;
    while let Some(e) = next(&mut stream) {
        stopped = matches!(e, Event::Stop { .. });
    }
    assert!(stopped, "the last item is STOP");
}
