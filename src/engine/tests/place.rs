//! Where a node is: several networks, and a move to a new address.

use super::*;
use crate::wire::beacon::DEFAULT_PORT;

#[test]
fn a_node_on_several_networks_tells_each_peer_its_address_there() {
    let t0 = Instant::now();
    let mut e = Engine::new(named(0), PeerId([1; 16]));
    let mask = std::net::Ipv4Addr::new(255, 255, 255, 0);
    e.set_networks(vec![
        ([10, 1, 0, 1].into(), mask),
        ([10, 2, 0, 1].into(), mask),
    ]);
    e.start(t0, "10.1.0.1:5000".parse().unwrap());
    let to = |ep: &str| e.endpoint_for(ep.parse().unwrap());
    assert_eq!(to("10.2.0.7:6000"), "tcp://10.2.0.1:5000");
    assert_eq!(to("10.1.0.9:6000"), "tcp://10.1.0.1:5000");
    // Off every network: the first address, as with one interface.
    assert_eq!(to("192.0.2.1:6000"), "tcp://10.1.0.1:5000");
}

/// With two networks, a change of the address on one tells only the peers there;
/// the peers on the other keep their links.
#[test]
fn a_change_on_one_network_tells_only_its_peers() {
    let t0 = Instant::now();
    let mut e = Engine::new(named(0), PeerId([1; 16]));
    let mask = std::net::Ipv4Addr::new(255, 255, 255, 0);
    e.set_networks(vec![
        ([10, 1, 0, 1].into(), mask),
        ([10, 2, 0, 1].into(), mask),
    ]);
    e.start(t0, "10.1.0.1:5000".parse().unwrap());
    for (i, net) in [(2u8, 1u8), (3, 2)] {
        e.handle_datagram(
            t0,
            SocketAddr::from(([10, net, 0, 7], DEFAULT_PORT)),
            &Beacon::new([i; 16], 6000).encode(),
        );
    }
    while e.poll_output().is_some() {}
    e.rebind(
        t0,
        "10.1.0.1:5000".parse().unwrap(),
        vec![([10, 1, 0, 1].into(), mask), ([10, 2, 0, 9].into(), mask)],
        None,
    );
    let connects: Vec<SocketAddr> = std::iter::from_fn(|| e.poll_output())
        .filter_map(|o| match o {
            Output::Connect { addr, .. } => Some(addr),
            _ => None,
        })
        .collect();
    assert_eq!(connects, vec!["10.2.0.7:6000".parse().unwrap()]);
    assert_eq!(
        e.endpoint_for("10.2.0.7:6000".parse().unwrap()),
        "tcp://10.2.0.9:5000"
    );
    // Nothing changed at all: nobody is told.
    let same = vec![([10, 1, 0, 1].into(), mask), ([10, 2, 0, 9].into(), mask)];
    e.rebind(t0, "10.1.0.1:5000".parse().unwrap(), same, None);
    assert!(std::iter::from_fn(|| e.poll_output()).next().is_none());
}

#[test]
fn a_peer_whose_address_changes_moves_without_exit() {
    let mut net = Net::new(3, named);
    for i in 0..3 {
        net.start(i);
    }
    net.run_for(Duration::from_secs(2));
    assert!((0..3).all(|i| net.nodes[i].ready_count() == 2));
    // Node 1's address changes under it: its connections go dead without a word.
    let dead: Vec<_> = net.pipes.keys().filter(|(n, _)| *n == 1).copied().collect();
    for k in dead {
        if let Some(other) = net.pipes.remove(&k) {
            net.pipes.remove(&other);
        }
    }
    let moved: SocketAddr = "127.0.0.42:49153".parse().unwrap();
    net.addrs[1] = moved;
    let now = net.now;
    net.nodes[1].rebind(now, moved, Vec::new(), None);
    net.drain();
    net.run_for(Duration::from_secs(40));
    let id1 = net.id(1);
    for i in 0..3 {
        let exits: Vec<_> = net.events[i]
            .iter()
            .filter(|e| matches!(e, Event::Exit { .. }))
            .collect();
        assert!(exits.is_empty(), "node {i}: {:?}", net.kinds(i));
        assert_eq!(net.nodes[i].ready_count(), 2, "node {i}");
    }
    for i in [0, 2] {
        assert_eq!(
            net.nodes[i].peer(id1).unwrap().endpoint,
            format!("tcp://{moved}")
        );
        let enters = net.events[i]
            .iter()
            .filter(|e| matches!(e, Event::Enter { peer, .. } if *peer == id1))
            .count();
        assert_eq!(enters, 1, "node {i}: {:?}", net.kinds(i));
    }
    // Both ways still carry whispers.
    assert!(net.nodes[0].whisper(id1, &[b"to the new place".to_vec()].into()));
    let id2 = net.id(2);
    assert!(net.nodes[1].whisper(id2, &[b"from it".to_vec()].into()));
    net.drain();
    let got = |net: &Net, i: usize| {
        net.events[i]
            .iter()
            .any(|e| matches!(e, Event::Whisper { .. }))
    };
    assert!(got(&net, 1) && got(&net, 2));
}

/// A beacon from an address we cannot reach (an IPv6 beacon that left from an
/// address we have no route to): once connecting there failed, the endpoint the
/// node gives in its HELLO is where our link goes.
#[test]
fn a_hello_redirects_a_link_the_beacon_address_refused() {
    use crate::wire::zre::{Body, Hello, ZreMessage};
    let t0 = Instant::now();
    let mut e = Engine::new(named(0), PeerId([1; 16]));
    e.start(t0, "10.1.0.1:5000".parse().unwrap());
    let other = PeerId([9; 16]);
    let connects = |e: &mut Engine| -> Vec<(LinkId, SocketAddr)> {
        std::iter::from_fn(|| e.poll_output())
            .filter_map(|o| match o {
                Output::Connect { link, addr } => Some((link, addr)),
                _ => None,
            })
            .collect()
    };
    e.handle_datagram(
        t0,
        "10.9.9.9:5670".parse().unwrap(),
        &Beacon::new(other.0, 6000).encode(),
    );
    assert_eq!(connects(&mut e).len(), 1);
    // It connects to us and says HELLO while our own attempt is under way: the
    // link stays (its HELLO may be there already).
    let hello = |e: &mut Engine, now| {
        let link = e.handle_accepted(now, "10.1.0.7:40000".parse().unwrap());
        let mut d = Link::dealer(&[&[1u8][..], &other.0[..]].concat(), 1 << 20);
        let greeting: Vec<u8> = std::iter::from_fn(|| e.poll_output())
            .filter_map(|o| match o {
                Output::Write { link: l, bytes } if l == link => Some(bytes),
                _ => None,
            })
            .flatten()
            .collect();
        d.handle_bytes(&greeting);
        assert!(matches!(d.poll(), Ok(Some(link::LinkEvent::Ready { .. }))));
        let h = Hello {
            endpoint: "tcp://10.1.0.7:6000".into(),
            groups: vec![],
            status: 0,
            name: "far".into(),
            headers: vec![],
        };
        d.send(&ZreMessage::new(1, Body::Hello(h)).encode().unwrap());
        e.handle_bytes(now, link, &d.take_output());
    };
    hello(&mut e, t0);
    assert!(connects(&mut e).is_empty());
    assert!(e.is_ready(other));
    // Had it failed first, the HELLO's endpoint would have been taken: shown on a
    // second node whose attempt is refused before the HELLO comes.
    let mut e = Engine::new(named(0), PeerId([1; 16]));
    e.start(t0, "10.1.0.1:5000".parse().unwrap());
    e.handle_datagram(
        t0,
        "10.9.9.9:5670".parse().unwrap(),
        &Beacon::new(other.0, 6000).encode(),
    );
    let [(first2, _)] = connects(&mut e)[..] else {
        panic!("one connect");
    };
    e.handle_closed(t0, first2, crate::engine::CloseReason::Network);
    hello(&mut e, t0);
    let now_at: Vec<SocketAddr> = connects(&mut e).into_iter().map(|(_, a)| a).collect();
    assert_eq!(now_at, vec!["10.1.0.7:6000".parse().unwrap()]);
    assert_eq!(e.peer(other).unwrap().endpoint, "tcp://10.1.0.7:6000");
}
