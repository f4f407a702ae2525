//! Gossip discovery and explicit endpoints, in virtual time: no beacons at all.

use super::*;
use crate::wire::zgossip::GossipMessage;
use crate::wire::zmtp::{Command, Greeting};

/// Beacons off, names a, b, c, d, ...
fn quiet(i: usize) -> Config {
    let mut c = named(i);
    c.beacon = false;
    c
}

fn gossip_ep(net: &Net, i: usize) -> String {
    format!("tcp://{}", net.gossip_addrs[i])
}

/// Node 0 serves gossip; the others are its clients.
fn hub_and_spokes(n: usize, cfg: impl Fn(usize) -> Config) -> Net {
    let mut net = Net::new(n, cfg);
    for i in 1..n {
        let hub = gossip_ep(&net, 0);
        let now = net.now;
        net.nodes[i].gossip_connect(now, &hub).unwrap();
    }
    for i in 0..n {
        net.start(i);
    }
    net
}

#[test]
fn a_full_mesh_through_one_gossip_server_without_beacons() {
    let mut net = hub_and_spokes(4, quiet);
    net.run_for(Duration::from_secs(2));
    for i in 0..4 {
        assert_eq!(
            net.nodes[i].ready_count(),
            3,
            "node {i}: {:?}",
            net.kinds(i)
        );
        // Every node holds every tuple: the hub forwarded each to the others.
        let keys: Vec<String> = net.nodes[i]
            .gossip_tuples()
            .map(|(k, ..)| k.to_string())
            .collect();
        assert_eq!(keys.len(), 4, "node {i}: {keys:?}");
        assert!(net.nodes[i].stats().gossip_malformed == 0);
    }
    // The tuple is UUID → endpoint, as Zyre writes it, with zmesh's TTL.
    let (k, v, ttl) = net.nodes[0]
        .gossip_tuples()
        .find(|(k, ..)| *k == net.id(2).to_string())
        .map(|(k, v, t)| (k.to_string(), v.to_string(), t))
        .unwrap();
    assert_eq!(k.len(), 32);
    assert_eq!(v, format!("tcp://{}", net.addrs[2]));
    assert_eq!(ttl, 60_000);
    // Idle for a while: pings keep the gossip links and heartbeats the peers.
    net.run_for(Duration::from_secs(70));
    assert!((0..4).all(|i| net.nodes[i].ready_count() == 3));
    assert!(!net.events[1]
        .iter()
        .any(|e| matches!(e, Event::Exit { .. })));
}

#[test]
fn goodbye_gives_exit_at_once_without_beacons() {
    let mut net = hub_and_spokes(3, quiet);
    net.run_for(Duration::from_secs(2));
    let now = net.now;
    net.nodes[2].stop(now);
    net.up[2] = false;
    net.drain();
    let left = |net: &Net, i: usize| {
        net.events[i].iter().any(|e| {
            matches!(e, Event::Exit { peer, reason: ExitReason::Left, .. } if *peer == net.id(2))
        })
    };
    assert!(left(&net, 0) && left(&net, 1), "{:?}", net.kinds(1));
    // The hub no longer offers the departed node to newcomers.
    let gone = net.id(2).to_string();
    assert!(!net.nodes[0].gossip_tuples().any(|(k, ..)| k == gone));
}

#[test]
fn tuples_of_a_crashed_node_expire_by_their_ttl() {
    let mut net = hub_and_spokes(3, |i| {
        let mut c = quiet(i);
        c.gossip_ttl = Duration::from_secs(3);
        // Long enough that the peer is still known when its tuple expires.
        c.expired_timeout = Duration::from_secs(120);
        c
    });
    net.run_for(Duration::from_secs(2));
    let key = net.id(2).to_string();
    assert!(net.nodes[1].gossip_tuples().any(|(k, ..)| k == key));
    net.crash(2);
    net.run_for(Duration::from_secs(10));
    // Gone from the hub and the other client, though both still know the peer;
    // the live nodes' tuples were published again and stay.
    for i in 0..2 {
        let keys: Vec<&str> = net.nodes[i].gossip_tuples().map(|(k, ..)| k).collect();
        assert_eq!(keys.len(), 2, "node {i}: {keys:?}");
        assert!(!keys.contains(&key.as_str()));
        assert!(net.nodes[i].peer(net.id(2)).is_some());
    }
}

#[test]
fn a_peer_found_by_beacon_and_by_gossip_is_one_peer() {
    // Beacons on as well as gossip.
    let mut net = hub_and_spokes(3, named);
    net.run_for(Duration::from_secs(3));
    for i in 0..3 {
        assert_eq!(net.nodes[i].peers().count(), 2, "node {i}");
        assert_eq!(net.nodes[i].ready_count(), 2);
        let enters = net.events[i]
            .iter()
            .filter(|e| matches!(e, Event::Enter { .. }))
            .count();
        assert_eq!(enters, 2, "node {i}: {:?}", net.kinds(i));
    }
}

#[test]
fn connect_peer_meets_a_peer_with_no_discovery() {
    let mut net = Net::new(2, quiet);
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.nodes[0].ready_count(), 0);
    let (now, id1, ep1) = (net.now, net.id(1), format!("tcp://{}", net.addrs[1]));
    assert!(net.nodes[0].connect_peer(now, id1, "tcp://host:1").is_err());
    net.nodes[0].connect_peer(now, id1, &ep1).unwrap();
    net.drain();
    assert!(net.nodes[0].is_ready(id1) && net.nodes[1].is_ready(net.id(0)));
}

#[test]
fn an_advertised_endpoint_goes_in_beacons_hello_and_gossip() {
    let t0 = Instant::now();
    let mut c = named(0);
    c.advertised_endpoint = Some("tcp://10.9.9.9:7000".into());
    let mut e = Engine::new(c, PeerId([1; 16]));
    e.start(t0, "127.0.0.1:49152".parse().unwrap());
    assert_eq!(e.endpoint(), Some("tcp://10.9.9.9:7000"));
    let Some(Output::Broadcast(b)) = e.poll_output() else {
        panic!("a beacon first")
    };
    assert_eq!(crate::wire::beacon::Beacon::parse(&b).unwrap().port, 7000);
    let mine = e.id().to_string();
    assert!(e
        .gossip_tuples()
        .any(|(k, v, _)| k == mine && v == "tcp://10.9.9.9:7000"));
}

/// A client that speaks zgossip by hand to node 0's gossip service.
fn raw_client(net: &mut Net) -> LinkId {
    let now = net.now;
    let link = net.nodes[0].handle_gossip_accepted(now, "127.0.0.9:40000".parse().unwrap());
    let mut hs = Greeting::null().encode().to_vec();
    Command::ready("DEALER", b"").encode_into(&mut hs).unwrap();
    net.nodes[0].handle_bytes(now, link, &hs);
    link
}

fn send(net: &mut Net, link: LinkId, m: &GossipMessage) {
    let mut out = Vec::new();
    crate::wire::zmtp::encode_message_into(&mut out, &[m.encode().unwrap()]);
    let now = net.now;
    net.nodes[0].handle_bytes(now, link, &out);
    while net.nodes[0].poll_output().is_some() {}
}

#[test]
fn hostile_gossip_is_refused_counted_and_bounded() {
    let mut net = Net::new(1, quiet);
    net.start(0);
    let link = raw_client(&mut net);
    let publish = |k: usize| GossipMessage::Publish {
        key: format!("key{k}"),
        value: "x".into(),
        ttl: 0,
    };
    // Before HELLO: answered INVALID, not stored.
    send(&mut net, link, &publish(0));
    assert_eq!(net.nodes[0].gossip_tuples().count(), 1);
    send(&mut net, link, &GossipMessage::Hello);
    // Garbage is counted and dropped; the session goes on.
    let mut bad = Vec::new();
    crate::wire::zmtp::encode_message_into(&mut bad, &[b"\xAA\xA0\x09\x01".to_vec()]);
    let now = net.now;
    net.nodes[0].handle_bytes(now, link, &bad);
    assert_eq!(net.nodes[0].stats().gossip_malformed, 1);
    // An endless publisher fills the table to its bound and no further.
    for k in 0..crate::engine::gossip::MAX_TUPLES + 50 {
        send(&mut net, link, &publish(k));
    }
    assert_eq!(
        net.nodes[0].gossip_tuples().count(),
        crate::engine::gossip::MAX_TUPLES
    );
    assert!(net.nodes[0].stats().gossip_refused >= 50);
    // A value too long is refused too; a UUID with a host name is unusable.
    let long = GossipMessage::Publish {
        key: "long".into(),
        value: "v".repeat(crate::engine::gossip::MAX_VALUE + 1),
        ttl: 0,
    };
    let refused = net.nodes[0].stats().gossip_refused;
    send(&mut net, link, &long);
    assert_eq!(net.nodes[0].stats().gossip_refused, refused + 1);
    assert_eq!(net.nodes[0].peers().count(), 0);
}

/// A new endpoint for a peer we have not reached yet sends us there; a peer that
/// answered keeps its link whatever second-hand news says.
#[test]
fn a_tuple_with_a_new_endpoint_moves_a_peer_not_yet_reached() {
    let mut net = hub_and_spokes(2, quiet);
    net.run_for(Duration::from_secs(2));
    let ready = net.id(1);
    let link = raw_client(&mut net);
    send(&mut net, link, &GossipMessage::Hello);
    let away = PeerId([7; 16]);
    let publish = |id: PeerId, ep: &str| GossipMessage::Publish {
        key: id.to_string(),
        value: ep.into(),
        ttl: 0,
    };
    send(&mut net, link, &publish(away, "tcp://127.0.0.77:6000"));
    assert_eq!(
        net.nodes[0].peer(away).unwrap().endpoint,
        "tcp://127.0.0.77:6000"
    );
    let mut bytes = Vec::new();
    let m = publish(away, "tcp://127.0.0.78:6000");
    crate::wire::zmtp::encode_message_into(&mut bytes, &[m.encode().unwrap()]);
    let now = net.now;
    net.nodes[0].handle_bytes(now, link, &bytes);
    let connects: Vec<SocketAddr> = std::iter::from_fn(|| net.nodes[0].poll_output())
        .filter_map(|o| match o {
            Output::Connect { addr, .. } => Some(addr),
            _ => None,
        })
        .collect();
    assert_eq!(connects, vec!["127.0.0.78:6000".parse().unwrap()]);
    assert_eq!(
        net.nodes[0].peer(away).unwrap().endpoint,
        "tcp://127.0.0.78:6000"
    );
    let was = net.nodes[0].peer(ready).unwrap().endpoint;
    send(&mut net, link, &publish(ready, "tcp://127.0.0.79:6000"));
    assert_eq!(net.nodes[0].peer(ready).unwrap().endpoint, was);
    assert!(net.nodes[0].is_ready(ready));
}

/// Nodes 0 and 1 serve gossip and are each other's clients; the rest are clients
/// of both.
fn two_servers(n: usize) -> Net {
    let mut net = Net::new(n, quiet);
    let now = net.now;
    for i in 0..n {
        for s in 0..2 {
            if s != i {
                let ep = gossip_ep(&net, s);
                net.nodes[i].gossip_connect(now, &ep).unwrap();
            }
        }
    }
    for i in 0..n {
        net.start(i);
    }
    net
}

#[test]
fn a_node_back_with_a_new_uuid_is_met_once_and_its_old_tuple_settles() {
    let mut net = two_servers(6);
    net.run_for(Duration::from_secs(3));
    assert!((0..6).all(|i| net.nodes[i].ready_count() == 5));
    let old = net.id(3);
    net.crash(3);
    net.run_for(Duration::from_secs(1));
    let mut c = quiet(3);
    c.gossip_ttl = Duration::from_secs(60);
    net.nodes[3] = Engine::new(c, PeerId([99; 16]));
    let now = net.now;
    for s in 0..2 {
        let ep = gossip_ep(&net, s);
        net.nodes[3].gossip_connect(now, &ep).unwrap();
    }
    net.start(3);
    // Long enough for the old tuple to travel between the servers many times.
    net.run_for(Duration::from_secs(40));
    let new = PeerId([99; 16]);
    for i in (0..6).filter(|&i| i != 3) {
        let at: Vec<PeerId> = net.nodes[i]
            .peers()
            .filter(|p| p.endpoint == format!("tcp://{}", net.addrs[3]))
            .map(|p| p.id)
            .collect();
        assert_eq!(at, vec![new], "node {i}");
        let enters = net.events[i]
            .iter()
            .filter(|e| matches!(e, Event::Enter { peer, .. } if *peer == new))
            .count();
        let exits = net.events[i]
            .iter()
            .filter(|e| matches!(e, Event::Exit { peer, .. } if *peer == new))
            .count();
        assert_eq!((enters, exits), (1, 0), "node {i}: {:?}", net.kinds(i));
        // The old UUID is not offered to newcomers any more.
        let gone = old.to_string();
        assert!(!net.nodes[i].gossip_tuples().any(|(k, ..)| k == gone));
    }
}

#[test]
fn a_peer_cut_off_past_expiry_is_found_again_by_its_republished_tuple() {
    let mut net = hub_and_spokes(3, |i| {
        let mut c = quiet(i);
        c.gossip_ttl = Duration::from_secs(9);
        c
    });
    net.run_for(Duration::from_secs(2));
    assert!((0..3).all(|i| net.nodes[i].ready_count() == 2));
    // Node 2's heartbeats to node 1 vanish until both sides expire each other;
    // the gossip links stay up.
    net.swallow = Some((2, 1));
    let id2 = net.id(2);
    let gone = |net: &Net| !net.nodes[1].is_ready(id2);
    net.run_for(Duration::from_secs(40));
    assert!(gone(&net), "{:?}", net.kinds(1));
    net.swallow = None;
    // Node 2 republishes every 3 s, and each copy reaches node 1 through the hub:
    // once the hold is over node 1 greets it again (an attempt made while the
    // bytes still vanished expires first).
    net.run_for(Duration::from_secs(60));
    assert!(net.nodes[1].is_ready(id2), "{:?}", net.kinds(1));
}
