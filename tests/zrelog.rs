//! ZRE-LOG over real sockets on loopback: a collector gathers the records of ten
//! nodes, application records included, each naming its node; a collector that
//! stops reading costs its publishers drops, not memory or speed. Each test has a
//! beacon port of its own.

mod common;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use zmesh::engine::link::Link;
use zmesh::wire::zrelog::{Level, LogEvent};
use zmesh::{Event, Node, PeerId};

fn node(name: &str, port: u16) -> Node {
    Node::builder(name)
        .interface("lo")
        .port(port)
        .build()
        .unwrap()
}

/// A bare TCP listener standing in for a collector, and a node named "announcer"
/// that announces it (X-ZRELOG) on `port`: the test reads the log link itself.
fn announced_listener(port: u16) -> (TcpListener, Node) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("tcp://{}", listener.local_addr().unwrap());
    let announcer = Node::builder("announcer")
        .interface("lo")
        .port(port)
        .header("X-ZRELOG", &ep)
        .build()
        .unwrap();
    (listener, announcer)
}

#[test]
fn a_collector_gathers_the_logs_of_ten_nodes() {
    let port = 46535;
    let collector = common::collector("collector", port);
    let nodes: Vec<Node> = (0..10).map(|i| node(&format!("n{i}"), port)).collect();
    let ids: BTreeSet<PeerId> = nodes.iter().map(Node::uuid).collect();
    // Every node reports that the collector entered, and the others too.
    let mut reporters = BTreeSet::new();
    let mut app = BTreeSet::new();
    let end = Instant::now() + Duration::from_secs(60);
    let mut asked = false;
    while reporters.len() < 10 || app.len() < 10 {
        assert!(
            Instant::now() < end,
            "{} nodes reported, {} app records",
            reporters.len(),
            app.len()
        );
        // Once every node has entered the collector, each logs a line of its own.
        if !asked && collector.peers().unwrap().len() == 10 {
            std::thread::sleep(Duration::from_millis(500));
            for n in &nodes {
                n.log(Level::Warning, &format!("disk of {} is full", n.name()))
                    .unwrap();
            }
            asked = true;
        }
        let Ok(e) = collector.events().recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if let Event::Log {
            peer,
            name,
            record,
            source,
        } = e
        {
            assert!(source.starts_with("127.0.0.1:"), "{source}");
            assert!(record.time > 1_700_000_000, "Unix seconds: {}", record.time);
            if ids.contains(&peer) {
                // The name is empty while the publisher's HELLO has not come.
                let own = nodes.iter().find(|n| n.uuid() == peer).unwrap().name();
                assert!(name.is_empty() || name == own, "{name} {own}");
                assert!(record.data.starts_with(&format!("{own}: ")), "{record:?}");
                if record.event == LogEvent::Enter {
                    reporters.insert(peer);
                }
                if record.event == LogEvent::App {
                    assert_eq!(record.level, Level::Warning);
                    assert_eq!(record.data, format!("{own}: disk of {own} is full"));
                    app.insert(peer);
                }
            }
        }
    }
    let stats = collector.stats().unwrap();
    assert_eq!(stats.log_malformed, 0);
    assert_eq!(stats.log_refused, 0);
}

/// A collector that completes the handshake as a SUB and then reads nothing: once
/// its link holds the bound, the publisher drops records instead of queueing them,
/// its memory stays put, and it goes on talking to its peers. The rate is raised
/// so that the bound, not the rate, is what drops records here.
#[test]
fn a_collector_that_stops_reading_costs_drops_not_memory() {
    let port = 46536;
    let (listener, announcer) = announced_listener(port);
    let publisher = Node::builder("publisher")
        .interface("lo")
        .port(port)
        .log_rate(10_000_000)
        .build()
        .unwrap();
    let (mut sub, _) = listener.accept().unwrap();
    // Our own SUB link runs the handshake and subscribes to everything; then the
    // test reads nothing more.
    let mut link = Link::subscriber(1 << 20, &[b""]);
    common::zmtp::handshake(&mut sub, &mut link);
    let rss = || zmesh_toolkit::proc::current_memory().unwrap_or(0);
    let text = "x".repeat(240);
    // 400,000 records of about 270 bytes: 100 MiB, were they all queued.
    let mut before = 0;
    for round in 0..400 {
        for _ in 0..1000 {
            publisher.log(Level::Info, &text).unwrap();
        }
        // A round trip: the node has taken the round's records.
        let s = publisher.stats().unwrap();
        if round == 20 {
            before = rss();
        }
        if round == 399 {
            assert!(s.log_dropped > 300_000, "{s:?}");
        }
    }
    let grown = rss().saturating_sub(before);
    assert!(grown < 32 << 20, "the publisher grew by {grown} bytes");
    // The publisher still talks to its peers.
    let a = announcer.uuid();
    assert!(publisher.whisper_report(a, ["still here"]).unwrap());
    let got = announcer
        .events()
        .iter()
        .find(|e| matches!(e, Event::Whisper { .. }))
        .unwrap();
    assert_eq!(*got.content().unwrap(), [b"still here".to_vec()]);
    drop(sub);
}

/// Over the rate, records are dropped, and the next one that goes is preceded by
/// an OVERFLOW record saying how many.
#[test]
fn records_over_the_rate_are_counted_in_an_overflow_record() {
    let port = 46548;
    let collector = common::collector("collector", port);
    let publisher = Node::builder("publisher")
        .interface("lo")
        .port(port)
        .log_rate(1)
        .build()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while publisher.peers().unwrap().is_empty() {
        assert!(Instant::now() < end, "no peer");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The burst (2) goes, maybe minus the ENTER's; 20 more are over the rate.
    for i in 0..22 {
        publisher.log(Level::Info, &format!("burst {i}")).unwrap();
    }
    let dropped = publisher.stats().unwrap().log_dropped;
    assert!(dropped >= 18, "{dropped}");
    // A second later one token is back: the OVERFLOW note, then nothing more
    // until the next; a little later the record itself goes.
    std::thread::sleep(Duration::from_millis(2100));
    publisher.log(Level::Info, "after").unwrap();
    let note = loop {
        let e = collector
            .events()
            .recv_timeout(end.saturating_duration_since(Instant::now()))
            .expect("an OVERFLOW record within 30 s");
        if let Event::Log { record, .. } = e {
            if record.event == LogEvent::Overflow {
                break record;
            }
        }
    };
    assert_eq!(note.level, Level::Warning);
    let n: u64 = note.data.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(n >= 18 && n <= dropped, "{} ({dropped} dropped)", note.data);
}

/// With two collectors on the mesh, a node publishes to each.
#[test]
fn a_node_publishes_to_every_collector() {
    let port = 46550;
    let (c1, c2) = (common::collector("c1", port), common::collector("c2", port));
    let publisher = node("publisher", port);
    let end = Instant::now() + Duration::from_secs(30);
    for c in [&c1, &c2] {
        let mut said = false;
        loop {
            if !said && publisher.peers().unwrap().len() == 2 {
                std::thread::sleep(Duration::from_millis(300));
                publisher.log(Level::Info, "to everyone").unwrap();
                said = true;
            }
            let left = end.saturating_duration_since(Instant::now());
            match c
                .events()
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(Event::Log { record, peer, .. })
                    if record.event == LogEvent::App && peer == publisher.uuid() =>
                {
                    assert_eq!(record.data, "publisher: to everyone");
                    break;
                }
                Ok(_) => {}
                Err(_) => assert!(Instant::now() < end, "{} got nothing", c.name()),
            }
        }
    }
}

/// A collector whose connection breaks while its peer still announces it is
/// connected again, and the records of the meantime follow.
#[test]
fn a_broken_collector_link_is_made_again() {
    let port = 46552;
    let (listener, _announcer) = announced_listener(port);
    let publisher = node("publisher", port);
    let (first, _) = listener.accept().unwrap();
    drop(first);
    // Most often the publisher has seen the close by now, so the record waits for
    // the link made again (the case where its greeting must still go first).
    std::thread::sleep(Duration::from_millis(300));
    publisher.log(Level::Info, "while it was away").unwrap();
    // Accepted again, within seconds: the publisher retries once a second.
    listener.set_nonblocking(false).unwrap();
    let (mut again, _) = listener.accept().unwrap();
    let mut link = Link::subscriber(1 << 20, &[b""]);
    again
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    loop {
        std::io::Write::write_all(&mut again, &link.take_output()).unwrap();
        assert!(
            Instant::now() < end,
            "no record on the new connection: read {got:?}, {:?}, {:?}",
            link.poll(),
            publisher.stats().unwrap()
        );
        if let Ok(n) = std::io::Read::read(&mut again, &mut buf) {
            got.push(n);
            link.handle_bytes(&buf[..n]);
        }
        let mut found = false;
        while let Ok(Some(ev)) = link.poll() {
            if let zmesh::engine::link::LinkEvent::Message(frames) = ev {
                let r = zmesh::wire::zrelog::LogRecord::parse(&frames[0]).unwrap();
                found |= r.data == "publisher: while it was away";
            }
        }
        if found {
            break;
        }
    }
}

/// A publisher that sends a message larger than any LOG record is cut off at the
/// log link's small limit, not buffered up to the node's 64 MiB message limit.
#[test]
fn an_oversized_message_closes_the_publishers_link() {
    let port = 46553;
    let collector = common::collector("collector", port);
    let log_ep = common::log_endpoint(&collector, port);
    let addr = log_ep.strip_prefix("tcp://").unwrap();
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    let mut link = Link::publisher(b"", 1 << 20);
    common::zmtp::handshake(&mut tcp, &mut link);
    // A 1 MiB frame announced in its header: the collector closes the connection.
    let end = Instant::now() + Duration::from_secs(30);
    let mut frame = vec![0x02];
    frame.extend_from_slice(&(1u64 << 20).to_be_bytes());
    std::io::Write::write_all(&mut tcp, &frame).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match std::io::Read::read(&mut tcp, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    assert!(Instant::now() < end, "the collector kept the connection");
}
