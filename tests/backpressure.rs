//! A sender can see and wait for what its node holds unsent: `Node::queued_bytes`
//! grows while the peer does not read, `Node::wait_queued` waits for room, and both
//! come back to zero once everything is delivered. Loopback only, a beacon port of
//! its own.

use std::time::{Duration, Instant};

use zmesh::net::Options;
use zmesh::{Error, Event, Node};

#[cfg(feature = "async")]
mod ticker;

const PORT: u16 = 46558;
const CHUNK: usize = 64 * 1024;

fn node(name: &str) -> Node {
    let mut n = Node::new(name);
    n.set_interface("lo");
    n.set_port(PORT);
    n.set_interval(Duration::from_millis(100));
    n
}

#[test]
fn a_sender_waits_for_a_slow_reader_and_loses_nothing() {
    let mut a = node("sender");
    let mut b = node("reader");
    // The reader's node stops reading its socket after a few unread events, so
    // that what the sender sends piles up: first in the kernel, then in the node.
    let mut small = Options::default();
    small.event_high_water = 8;
    b.set_options(small);
    assert_eq!(a.queued_bytes(), 0);
    assert!(matches!(
        a.wait_queued(0, Duration::ZERO),
        Err(Error::NotRunning)
    ));
    a.start().unwrap();
    b.start().unwrap();
    let rb = b.events();
    let end = Instant::now() + Duration::from_secs(20);
    while !a.peers().unwrap().contains(&b.uuid()) || !b.peers().unwrap().contains(&a.uuid()) {
        assert!(Instant::now() < end, "the two never met");
        std::thread::sleep(Duration::from_millis(20));
    }
    // 40 MiB of whispers: more than loopback's socket buffers and the reader's few
    // events take (some MiB), less than the 64 MiB that would drop the peer.
    let sent = 640u32;
    for i in 0..sent {
        let mut chunk = vec![0u8; CHUNK];
        chunk[..4].copy_from_slice(&i.to_be_bytes());
        a.whisper(b.uuid(), vec![chunk]).unwrap();
    }
    // Nobody reads: no room is made, and what waits stays counted.
    assert!(!a.wait_queued(1 << 20, Duration::from_millis(300)).unwrap());
    let held = a.queued_bytes();
    assert!(held > 16 << 20, "only {held} bytes held");
    // The reader reads; the sender's wait ends, and everything arrives in order.
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let end = Instant::now() + Duration::from_secs(60);
        while got.len() < sent as usize {
            let left = end.saturating_duration_since(Instant::now());
            match rb.recv_timeout(left).expect("every whisper arrives") {
                Event::Whisper { content, .. } => {
                    assert_eq!(content[0].len(), CHUNK);
                    got.push(u32::from_be_bytes(content[0][..4].try_into().unwrap()));
                }
                e @ Event::Exit { .. } => panic!("the reader dropped its peer: {e:?}"),
                _ => {}
            }
        }
        got
    });
    assert!(a.wait_queued(0, Duration::from_secs(60)).unwrap());
    assert_eq!(a.queued_bytes(), 0);
    assert_eq!(reader.join().unwrap(), (0..sent).collect::<Vec<_>>());
    a.stop();
    assert_eq!(a.queued_bytes(), 0);
    assert!(matches!(
        a.wait_queued(0, Duration::ZERO),
        Err(Error::NotRunning)
    ));
}

/// The same wait for async code: the executor's one thread keeps running while a
/// task waits for room, and the wait ends once the reader reads.
#[cfg(feature = "async")]
#[tokio::test(flavor = "current_thread")]
async fn a_task_waits_for_room_without_blocking_its_executor() {
    const PORT: u16 = 46560;
    let start = |name: &str, high_water: Option<usize>| {
        let mut n = Node::new(name);
        n.set_interface("lo");
        n.set_port(PORT);
        n.set_interval(Duration::from_millis(100));
        if let Some(h) = high_water {
            let mut o = Options::default();
            o.event_high_water = h;
            n.set_options(o);
        }
        n.start().unwrap();
        n
    };
    let a = start("sender", None);
    let b = start("reader", Some(8));
    let end = Instant::now() + Duration::from_secs(20);
    while !a.peers().unwrap().contains(&b.uuid()) || !b.peers().unwrap().contains(&a.uuid()) {
        assert!(Instant::now() < end, "the two never met");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = 640u32;
    for i in 0..sent {
        let mut chunk = vec![0u8; CHUNK];
        chunk[..4].copy_from_slice(&i.to_be_bytes());
        a.whisper(b.uuid(), vec![chunk]).unwrap();
    }
    // Nobody reads: the wait stays pending while the executor runs other work.
    let ticker = ticker::Ticker::spawn();
    let waited = tokio::time::timeout(Duration::from_millis(300), a.wait_queued_async(1 << 20));
    assert!(waited.await.is_err(), "no room while nobody reads");
    assert!(ticker.ticks() > 0);
    // The reader reads on a thread of its own; the wait ends.
    let rb = b.events();
    let reader = std::thread::spawn(move || {
        let mut got = 0u32;
        let end = Instant::now() + Duration::from_secs(60);
        while got < sent {
            let left = end.saturating_duration_since(Instant::now());
            if let Event::Whisper { .. } = rb.recv_timeout(left).expect("every whisper arrives") {
                got += 1;
            }
        }
        got
    });
    tokio::time::timeout(Duration::from_secs(60), a.wait_queued_async(0))
        .await
        .expect("room is made")
        .unwrap();
    assert_eq!(reader.join().unwrap(), sent);
    ticker.stop();
    let mut a = a;
    a.stop();
    assert!(matches!(
        a.wait_queued_async(0).await,
        Err(Error::NotRunning)
    ));
}
