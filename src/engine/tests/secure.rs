//! CURVE mode in virtual time: a mesh that forms and talks with every link sealed,
//! plain and CURVE nodes that never meet, and an impostor with a known UUID and
//! its own key that gets nowhere.

use super::*;
use crate::engine::curve::CurveKeys;
use crate::engine::link::Link;
use crate::wire::zre::{Body, Hello, ZreMessage};

fn keys(i: usize) -> CurveKeys {
    CurveKeys::from_secret([i as u8 + 1; 32])
}

fn curve(i: usize) -> Config {
    let mut c = named(i);
    c.curve = Some(keys(i));
    c
}

#[test]
fn curve_nodes_form_a_mesh_and_talk() {
    let mut net = Net::new(3, curve);
    for i in 0..3 {
        net.start(i);
    }
    net.run_for(Duration::from_secs(2));
    for i in 0..3 {
        assert_eq!(
            net.nodes[i].ready_count(),
            2,
            "node {i}: {:?}",
            net.kinds(i)
        );
    }
    // Each knows the others by the key they announced, and HELLO carried it.
    let z1 = crate::wire::z85::encode(keys(1).public()).unwrap();
    let id1 = net.id(1);
    let seen = net.nodes[0].peer(id1).unwrap();
    assert_eq!(seen.headers.get("X-PUBLICKEY"), Some(&z1));
    assert!(net.nodes[0].whisper(id1, &[b"sealed".to_vec()].into()));
    net.drain();
    assert!(net.events[1]
        .iter()
        .any(|e| matches!(e, Event::Whisper { content, .. } if content == &[b"sealed".to_vec()])));
    assert_eq!(net.nodes[0].stats().key_mismatch, 0);
}

#[test]
fn plain_and_curve_nodes_never_meet() {
    let mut net = Net::new(2, |i| if i == 0 { named(0) } else { curve(1) });
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(3));
    for i in 0..2 {
        assert_eq!(
            net.nodes[i].ready_count(),
            0,
            "node {i}: {:?}",
            net.kinds(i)
        );
        assert_eq!(net.nodes[i].peers().count(), 0);
        assert!(
            net.nodes[i].stats().wrong_security >= 2,
            "each counts the other's beacons"
        );
    }
}

/// Connects to node 0's inbox as `id` with `keys` and, if the handshake gets
/// through, says HELLO announcing `announced` and whispers. True if it got through.
fn impostor(net: &mut Net, id: PeerId, keys: CurveKeys, announced: &CurveKeys) -> bool {
    let now = net.now;
    let server = *net.nodes[0].config.curve.as_ref().unwrap().public();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(9);
    let identity = [&[1u8][..], &id.0[..]].concat();
    let mut d = Link::curve_dealer(&identity, 1 << 20, keys, server, &mut rng);
    let link = net.nodes[0].handle_accepted(now, "127.0.0.99:40000".parse().unwrap());
    let hello = Hello {
        endpoint: "tcp://127.0.0.99:40001".into(),
        groups: vec![],
        status: 0,
        name: "impostor".into(),
        headers: vec![(
            "X-PUBLICKEY".into(),
            crate::wire::z85::encode(announced.public()).unwrap(),
        )],
    };
    let mut said = false;
    for _ in 0..6 {
        let from_node: Vec<u8> = std::iter::from_fn(|| net.nodes[0].poll_output())
            .filter_map(|o| match o {
                Output::Write { link: l, bytes } if l == link => Some(bytes),
                _ => None,
            })
            .flatten()
            .collect();
        d.handle_bytes(&from_node);
        while let Ok(Some(_)) = d.poll() {}
        if d.is_ready() && !said {
            d.send(
                &ZreMessage::new(1, Body::Hello(hello.clone()))
                    .encode()
                    .unwrap(),
            );
            d.send(
                &ZreMessage::new(
                    2,
                    Body::Whisper {
                        content: vec![b"trust me".to_vec()].into(),
                    },
                )
                .encode()
                .unwrap(),
            );
            said = true;
        }
        net.nodes[0].handle_bytes(now, link, &d.take_output());
    }
    said
}

#[test]
fn an_impostor_with_a_known_uuid_and_its_own_key_gets_nowhere() {
    let mut net = Net::new(2, curve);
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(2));
    let id1 = net.id(1);
    assert!(net.nodes[0].is_ready(id1));
    // A spoofed beacon: node 1's UUID, another key.
    let mut b = Beacon::new(id1.0, 7000);
    b.public_key = Some(*keys(7).public());
    let now = net.now;
    net.nodes[0].handle_datagram(now, "127.0.0.99:5670".parse().unwrap(), &b.encode());
    // Under node 1's UUID with its own key: its connection may not take over the
    // one node 1 authenticated.
    let errors = net.nodes[0].stats().link_errors;
    assert!(!impostor(&mut net, id1, keys(7), &keys(7)));
    assert_eq!(net.nodes[0].stats().link_errors, errors + 1);
    // Under a UUID of its own, naming node 1's key in HELLO while authenticated
    // with its own: the HELLO is refused.
    assert!(impostor(&mut net, PeerId([0x77; 16]), keys(8), &keys(1)));
    assert_eq!(net.nodes[0].stats().key_mismatch, 1);
    net.run_for(Duration::from_secs(2));
    assert!(net.nodes[0].is_ready(id1));
    assert_eq!(net.nodes[0].ready_count(), 1);
    assert_eq!(net.nodes[0].peer(id1).unwrap().name, "b");
    assert!(!net.events[0]
        .iter()
        .any(|e| matches!(e, Event::Exit { .. })));
    assert!(!net.events[0]
        .iter()
        .any(|e| matches!(e, Event::Whisper { .. })));
    // Node 1 still talks to node 0.
    let id0 = net.id(0);
    assert!(net.nodes[1].whisper(id0, &[b"still me".to_vec()].into()));
    net.drain();
    assert!(net.events[0]
        .iter()
        .any(|e| matches!(e, Event::Whisper { .. })));
}

#[test]
fn an_allow_list_keeps_other_keys_out() {
    // Node 0 allows node 1 only; nodes 1 and 2 allow anyone.
    let mut net = Net::new(3, |i| {
        let mut c = curve(i);
        if i == 0 {
            c.allow = Some([*keys(1).public()].into_iter().collect());
        }
        c
    });
    for i in 0..3 {
        net.start(i);
    }
    net.run_for(Duration::from_secs(3));
    let (id0, id1, id2) = (net.id(0), net.id(1), net.id(2));
    assert!(net.nodes[0].is_ready(id1));
    assert!(!net.nodes[0].is_ready(id2));
    assert!(net.nodes[0].stats().not_allowed >= 1);
    // Node 2's connections are closed before anything is heard: it never sees
    // node 0 enter, and node 0 never sees it.
    assert!(!net.nodes[2].is_ready(id0));
    let entered = |net: &Net, i: usize, who: PeerId| {
        net.events[i]
            .iter()
            .any(|e| matches!(e, Event::Enter { peer, .. } if *peer == who))
    };
    assert!(!entered(&net, 0, id2));
    assert!(!entered(&net, 2, id0));
    assert!(entered(&net, 2, id1));
}
