//! Real nodes on loopback in one process. Every test has a beacon port of its own,
//! so tests running in parallel never meet, and nothing leaves 127.0.0.0/8.

use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use zmesh::{Event, ExitReason, Node, PeerId};

const DEADLINE: Duration = Duration::from_secs(20);

fn node(name: &str, port: u16) -> Node {
    let mut n = Node::new(name);
    n.set_interface("lo");
    n.set_port(port);
    n.set_interval(Duration::from_millis(100));
    n
}

/// Waits for the first event matching `pred`, keeping the others in `seen`.
fn wait_for(rx: &Receiver<Event>, seen: &mut Vec<Event>, pred: impl Fn(&Event) -> bool) -> Event {
    if let Some(i) = seen.iter().position(&pred) {
        return seen.remove(i);
    }
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(e) if pred(&e) => return e,
            Ok(e) => seen.push(e),
            Err(_) => panic!("no matching event within {DEADLINE:?}; saw {seen:#?}"),
        }
    }
}

fn is(kind: &'static str, peer: PeerId) -> impl Fn(&Event) -> bool {
    move |e| e.kind() == kind && e.peer() == peer
}

#[test]
fn discovery_headers_groups_shout_whisper_leave() {
    let port = 46101;
    let mut a = node("alice", port);
    let mut b = node("bob", port);
    b.set_header("X-HELLO", "World").unwrap();
    a.start().unwrap();
    b.start().unwrap();
    let (ra, rb) = (a.events(), b.events());
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    let enter = wait_for(&ra, &mut sa, is("ENTER", b.uuid()));
    match &enter {
        Event::Enter {
            name,
            headers,
            endpoint,
            ..
        } => {
            assert_eq!(name, "bob");
            assert_eq!(headers.get("X-HELLO").map(String::as_str), Some("World"));
            assert_eq!(Some(endpoint.as_str()), b.endpoint());
            assert!(endpoint.starts_with("tcp://127.0.0.1:"));
        }
        _ => unreachable!(),
    }
    wait_for(&rb, &mut sb, is("ENTER", a.uuid()));
    assert_eq!(
        a.peer_header_value(b.uuid(), "X-HELLO").unwrap().as_deref(),
        Some("World")
    );
    assert_eq!(a.peer_name(b.uuid()).unwrap().as_deref(), Some("bob"));
    assert_eq!(a.peer_address(b.uuid()).unwrap().as_deref(), b.endpoint());
    assert_eq!(a.peers().unwrap(), vec![b.uuid()]);

    b.join("chat").unwrap();
    wait_for(
        &ra,
        &mut sa,
        |e| matches!(e, Event::Join { group, .. } if group == "chat"),
    );
    assert_eq!(a.peers_by_group("chat").unwrap(), vec![b.uuid()]);
    assert_eq!(a.peer_groups().unwrap(), vec!["chat".to_string()]);
    assert_eq!(b.own_groups().unwrap(), vec!["chat".to_string()]);

    // The reporting forms say where a message went.
    assert!(a.whisper_report(b.uuid(), vec![b"r".to_vec()]).unwrap());
    assert!(!a
        .whisper_report(PeerId([9; 16]), vec![b"r".to_vec()])
        .unwrap());
    assert_eq!(
        a.shout_report("chat", vec![b"r".to_vec()]).unwrap(),
        vec![b.uuid()]
    );
    assert!(a
        .shout_report("nobody-here", vec![b"r".to_vec()])
        .unwrap()
        .is_empty());
    wait_for(&rb, &mut sb, is("WHISPER", a.uuid()));
    wait_for(&rb, &mut sb, is("SHOUT", a.uuid()));

    // alice shouts to a group she is not in; bob is in it.
    a.shout("chat", vec![b"hello".to_vec(), vec![], vec![9; 1000]])
        .unwrap();
    let shout = wait_for(&rb, &mut sb, is("SHOUT", a.uuid()));
    assert_eq!(shout.group(), Some("chat"));
    assert_eq!(
        shout.content().unwrap(),
        &[b"hello".to_vec(), vec![], vec![9; 1000]]
    );

    // Multi-frame whisper, in order.
    for i in 0..50u32 {
        b.whisper(a.uuid(), vec![i.to_be_bytes().to_vec(), b"x".to_vec()])
            .unwrap();
    }
    for i in 0..50u32 {
        let w = wait_for(&ra, &mut sa, is("WHISPER", b.uuid()));
        assert_eq!(w.content().unwrap()[0], i.to_be_bytes());
    }

    b.leave("chat").unwrap();
    wait_for(&ra, &mut sa, is("LEAVE", b.uuid()));
    assert!(a.peers_by_group("chat").unwrap().is_empty());
    assert_eq!(a.stats().unwrap().malformed, 0);
}

#[test]
fn polite_stop_is_an_exit_at_once() {
    let port = 46102;
    let mut a = node("a", port);
    let mut b = node("b", port);
    // Long timeouts: only the port-0 beacon can explain a quick EXIT.
    a.set_expired_timeout(Duration::from_secs(600)).unwrap();
    a.start().unwrap();
    b.start().unwrap();
    let ra = a.events();
    let rb = b.events();
    let mut sa = Vec::new();
    wait_for(&ra, &mut sa, is("ENTER", b.uuid()));
    let b_id = b.uuid();
    b.stop();
    let exit = wait_for(&ra, &mut sa, is("EXIT", b_id));
    assert!(matches!(
        exit,
        Event::Exit {
            reason: ExitReason::Left,
            ..
        }
    ));
    // STOP is bob's last event and the stream then ends.
    let rest: Vec<Event> = rb.try_iter().collect();
    assert!(matches!(rest.last(), Some(Event::Stop { peer, .. }) if *peer == b_id));
    assert!(b.join("x").is_err());
}

#[test]
fn vanished_node_is_evasive_then_expires() {
    let port = 46103;
    let mut a = node("a", port);
    a.set_evasive_timeout(Duration::from_millis(300)).unwrap();
    a.set_expired_timeout(Duration::from_millis(1500)).unwrap();
    let mut b = node("b", port);
    a.start().unwrap();
    b.start().unwrap();
    let ra = a.events();
    let mut sa = Vec::new();
    wait_for(&ra, &mut sa, is("ENTER", b.uuid()));
    let b_id = b.uuid();
    b.abort();
    wait_for(&ra, &mut sa, is("EVASIVE", b_id));
    let exit = wait_for(&ra, &mut sa, is("EXIT", b_id));
    assert!(matches!(
        exit,
        Event::Exit {
            reason: ExitReason::Expired,
            ..
        }
    ));
}

#[test]
fn restart_with_same_uuid_enters_again() {
    let port = 46104;
    let mut a = node("a", port);
    a.start().unwrap();
    let mut b = node("b", port);
    let b_id = b.uuid();
    b.start().unwrap();
    let ra = a.events();
    let mut sa = Vec::new();
    wait_for(&ra, &mut sa, is("ENTER", b_id));
    b.abort();
    let mut b2 = Node::with_id("b2", b_id);
    b2.set_interface("lo");
    b2.set_port(port);
    b2.start().unwrap();
    let enter = wait_for(&ra, &mut sa, is("ENTER", b_id));
    assert_eq!(enter.name(), "b2");
    assert!(sa.iter().any(|e| matches!(
        e,
        Event::Exit {
            reason: ExitReason::Restarted,
            ..
        }
    )));
}

#[test]
fn twenty_nodes_reach_a_full_mesh() {
    let port = 46105;
    let mut nodes: Vec<Node> = (0..20).map(|i| node(&format!("n{i}"), port)).collect();
    for n in &mut nodes {
        n.start().unwrap();
    }
    let end = Instant::now() + Duration::from_secs(60);
    let mut entered = vec![std::collections::BTreeSet::new(); nodes.len()];
    while entered.iter().any(|s| s.len() < 19) {
        for (n, seen) in nodes.iter().zip(entered.iter_mut()) {
            for e in n.events().try_iter() {
                match e {
                    Event::Enter { peer, .. } => {
                        seen.insert(peer);
                    }
                    Event::Exit { peer, .. } => panic!("unexpected EXIT of {peer}"),
                    _ => {}
                }
            }
        }
        assert!(
            Instant::now() < end,
            "no full mesh in time: {:?}",
            entered.iter().map(|s| s.len()).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for n in &mut nodes {
        n.stop();
    }
}

#[test]
fn start_errors_are_typed() {
    let mut n = node("x", 46106);
    n.set_interface("no-such-interface0");
    assert!(matches!(n.start(), Err(zmesh::Error::NoInterface(_))));
    assert!(matches!(n.shouts("g", "x"), Err(zmesh::Error::NotRunning)));
    // A beacon port held by a socket that does not share it.
    let _holder = std::net::UdpSocket::bind("0.0.0.0:46109").unwrap();
    let mut n = node("x", 46109);
    let err = n.start().unwrap_err();
    assert!(
        matches!(
            err,
            zmesh::Error::Bind {
                what: "beacon port",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("beacon port"));
    let mut n = node("x", 46106);
    n.start().unwrap();
    assert!(matches!(n.start(), Err(zmesh::Error::AlreadyStarted)));
    assert!(matches!(
        n.join(&"g".repeat(300)),
        Err(zmesh::Error::GroupTooLong)
    ));
}

#[test]
fn slow_application_slows_the_network_without_losing_events() {
    let port = 46107;
    let mut a = node("a", port);
    a.set_options({
        let mut o = zmesh::net::Options::default();
        o.event_high_water = 10;
        o
    });
    let mut b = node("b", port);
    a.start().unwrap();
    b.start().unwrap();
    let (ra, rb) = (a.events(), b.events());
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    wait_for(&ra, &mut sa, is("ENTER", b.uuid()));
    wait_for(&rb, &mut sb, is("ENTER", a.uuid()));
    const N: u32 = 2000;
    for i in 0..N {
        let mut frame = i.to_be_bytes().to_vec();
        frame.resize(1024, 0);
        b.whisper(a.uuid(), vec![frame]).unwrap();
    }
    // While alice does not read, her node stops reading the network: the backlog
    // stays near the high-water mark (plus what one read brought in).
    std::thread::sleep(Duration::from_millis(500));
    assert!(ra.len() < 500, "backlog {}", ra.len());
    // Then every message arrives, in order, and nobody was dropped.
    for i in 0..N {
        let w = wait_for(&ra, &mut sa, is("WHISPER", b.uuid()));
        assert_eq!(w.content().unwrap()[0][..4], i.to_be_bytes());
    }
    assert!(!sa.iter().any(|e| e.kind() == "EXIT"));
}

#[test]
fn dropping_a_node_stops_it_politely() {
    let port = 46108;
    let mut a = node("a", port);
    a.set_expired_timeout(Duration::from_secs(600)).unwrap();
    a.start().unwrap();
    let ra = a.events();
    let mut sa = Vec::new();
    let b_id = {
        let mut b = node("b", port);
        b.start().unwrap();
        wait_for(&ra, &mut sa, is("ENTER", b.uuid()));
        b.uuid()
    }; // b dropped here
    let exit = wait_for(&ra, &mut sa, is("EXIT", b_id));
    assert!(matches!(
        exit,
        Event::Exit {
            reason: ExitReason::Left,
            ..
        }
    ));
}
