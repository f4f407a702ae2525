//! Real nodes on loopback that find each other by gossip alone (beacons off), and
//! explicit endpoints. Each test has beacon and gossip ports of its own.

use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use zmesh::{Event, ExitReason, Node, PeerId};

const DEADLINE: Duration = Duration::from_secs(20);

/// A node on loopback that discovers by gossip only.
fn gossiper(name: &str, beacon_port: u16) -> Node {
    let mut n = Node::new(name);
    n.set_interface("lo");
    n.set_port(beacon_port);
    n
}

fn wait_for(rx: &Receiver<Event>, pred: impl Fn(&Event) -> bool) -> Event {
    let end = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
            Ok(e) if pred(&e) => return e,
            Ok(e) => seen.push(e),
            Err(_) => panic!("no matching event within {DEADLINE:?}; saw {seen:#?}"),
        }
    }
}

/// Waits until `n` has entered exactly `want` (by their HELLO).
fn wait_peers(n: &Node, want: &[PeerId]) {
    let end = Instant::now() + DEADLINE;
    loop {
        let mut ready: Vec<PeerId> = n
            .peers()
            .unwrap()
            .into_iter()
            .filter(|p| n.peer_name(*p).unwrap().is_some_and(|s| !s.is_empty()))
            .collect();
        ready.sort();
        let mut want = want.to_vec();
        want.sort();
        if ready == want {
            return;
        }
        assert!(
            Instant::now() < end,
            "{} has {ready:?}, not {want:?}",
            n.name()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_hub_and_three_clients_mesh_a_latecomer_joins_and_goodbye_is_heard() {
    let hub_ep = "tcp://127.0.0.1:46411";
    let mut hub = gossiper("hub", 46410);
    hub.gossip_bind(hub_ep).unwrap();
    hub.start().unwrap();
    let mut clients: Vec<Node> = (0..3)
        .map(|i| {
            let mut n = gossiper(&format!("c{i}"), 46412 + i as u16);
            n.gossip_connect(hub_ep).unwrap();
            n.start().unwrap();
            n
        })
        .collect();
    let ids: Vec<PeerId> = std::iter::once(hub.uuid())
        .chain(clients.iter().map(|c| c.uuid()))
        .collect();
    let others = |me: PeerId| -> Vec<PeerId> { ids.iter().copied().filter(|p| *p != me).collect() };
    wait_peers(&hub, &others(hub.uuid()));
    for c in &clients {
        wait_peers(c, &others(c.uuid()));
    }

    // A node that comes later finds everyone.
    let mut late = gossiper("late", 46416);
    late.gossip_connect(hub_ep).unwrap();
    late.start().unwrap();
    let mut all = ids.clone();
    all.push(late.uuid());
    wait_peers(&late, &ids);
    wait_peers(
        &clients[0],
        &all.iter()
            .copied()
            .filter(|p| *p != clients[0].uuid())
            .collect::<Vec<_>>(),
    );

    // A client stops: the others hear its GOODBYE (no beacons, and the expired
    // timeout is 30 s, so only GOODBYE can give EXIT with reason `left` now).
    let gone = clients[2].uuid();
    let rx = clients[0].events();
    clients[2].stop();
    let exit = wait_for(&rx, |e| e.kind() == "EXIT" && e.peer() == gone);
    assert!(
        matches!(
            exit,
            Event::Exit {
                reason: ExitReason::Left,
                ..
            }
        ),
        "{exit:?}"
    );

    // Killing the server leaves the links the clients formed alone.
    hub.abort();
    std::thread::sleep(Duration::from_millis(300));
    for e in rx.try_iter() {
        assert!(
            !(e.kind() == "EXIT" && e.peer() != hub.uuid()),
            "a client link went with the server: {e:?}"
        );
    }
    assert!(clients[0].peers().unwrap().contains(&clients[1].uuid()));
    assert!(clients[0].peers().unwrap().contains(&late.uuid()));
    clients[0]
        .whispers(clients[1].uuid(), "still here")
        .unwrap();
    let w = wait_for(&clients[1].events(), |e| e.kind() == "WHISPER");
    assert_eq!(w.content().unwrap(), &[b"still here".to_vec()]);
    for c in &clients[..2] {
        assert_eq!(c.stats().unwrap().gossip_malformed, 0);
    }
}

#[test]
fn explicit_endpoints_and_require_peer() {
    let mut a = gossiper("a", 46420);
    a.set_endpoint("tcp://127.0.0.1:46421").unwrap();
    a.start().unwrap();
    assert_eq!(a.endpoint(), Some("tcp://127.0.0.1:46421"));
    let mut b = gossiper("b", 46422);
    b.set_beacon(false);
    b.start().unwrap();
    // No beacons, no gossip: nothing happens until b is told where a is.
    std::thread::sleep(Duration::from_millis(300));
    assert!(b.peers().unwrap().is_empty());
    assert!(b.require_peer(a.uuid(), "tcp://localhost:46421").is_err());
    b.require_peer(a.uuid(), "tcp://127.0.0.1:46421").unwrap();
    wait_peers(&b, &[a.uuid()]);
    wait_peers(&a, &[b.uuid()]);
    // Binding every address: peers are told the interface's.
    let mut c = gossiper("c", 46423);
    c.set_endpoint("tcp://*:46424").unwrap();
    c.start().unwrap();
    assert_eq!(c.endpoint(), Some("tcp://127.0.0.1:46424"));
}
