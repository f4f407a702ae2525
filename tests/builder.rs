//! `Node::builder`: options applied, the first bad one refused before anything
//! starts; frames given as anything that turns into bytes. Loopback only, a beacon port of its own.

use std::time::Duration;

use zmesh::{Error, Node, PeerId};

#[test]
fn options_are_applied_and_checked() {
    let id = PeerId([0x3C; 16]);
    // No name: it follows the UUID given, as Node::with_id does.
    let n = Node::builder("").uuid(id).configure().unwrap();
    assert_eq!(n.uuid(), id);
    assert_eq!(n.name(), &id.short(6));
    assert!(!n.is_running());

    let bad = [
        Node::builder("x")
            .interval(Duration::from_millis(1))
            .configure(),
        Node::builder("x")
            .reconnect_interval(Duration::ZERO)
            .configure(),
        Node::builder("x")
            .handshake_timeout(Duration::from_secs(100_000))
            .configure(),
        Node::builder("x").max_message(10).configure(),
        Node::builder("x").max_pending(0).configure(),
        Node::builder("x").max_link_output(1).configure(),
        Node::builder("x").max_total_output(1).configure(),
        Node::builder("x").event_high_water(0).configure(),
        Node::builder("x").header(&"K".repeat(300), "v").configure(),
        Node::builder("x").endpoint("udp://nowhere").configure(),
        Node::builder("x").join(&"g".repeat(300)).configure(),
    ];
    for (i, b) in bad.into_iter().enumerate() {
        assert!(b.is_err(), "option {i} was taken");
    }
    // The first refused option is the one reported.
    let e = Node::builder("x")
        .max_pending(0)
        .event_high_water(0)
        .configure()
        .unwrap_err();
    assert!(
        matches!(&e, Error::BadSetting(s) if s.contains("max_pending")),
        "{e}"
    );
}

#[test]
fn a_built_node_runs_with_its_groups_and_meets_a_peer() {
    let port = 46507;
    let a = Node::builder("a")
        .interface("lo")
        .port(port)
        .interval(Duration::from_millis(100))
        .header("X-A", "1")
        .join("g")
        .contest("g")
        .event_high_water(1000)
        .build()
        .unwrap();
    let b = Node::builder("b")
        .interface("lo")
        .port(port)
        .interval(Duration::from_millis(100))
        .join("g")
        .build()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(p)) = b.peer(a.uuid()) {
            if p.ready && p.groups.contains("g") {
                assert_eq!(p.headers.get("X-A").map(String::as_str), Some("1"));
                break;
            }
        }
        assert!(std::time::Instant::now() < deadline, "b never saw a in g");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Frames from whatever turns into bytes: string slices, byte slices, vectors.
    let rb = b.events();
    a.whisper(b.uuid(), ["x", "yz"]).unwrap();
    a.shout("g", [b"s".as_slice(), b""]).unwrap();
    let (mut whispered, mut shouted) = (None, None);
    while whispered.is_none() || shouted.is_none() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rb.recv_timeout(left).expect("the whisper and the shout") {
            zmesh::Event::Whisper { content, .. } => whispered = Some(content),
            zmesh::Event::Shout { content, .. } => shouted = Some(content),
            _ => {}
        }
    }
    assert_eq!(whispered.unwrap(), vec![b"x".to_vec(), b"yz".to_vec()]);
    assert_eq!(shouted.unwrap(), vec![b"s".to_vec(), Vec::new()]);
    // a contests g and is the only contester: both name it.
    loop {
        if a.leader("g").ok().flatten() == Some(a.uuid())
            && b.leader("g").ok().flatten() == Some(a.uuid())
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no leader");
        std::thread::sleep(Duration::from_millis(20));
    }
}
