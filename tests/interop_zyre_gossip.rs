//! Gossip discovery between zmesh and real Zyre C (czmq's zgossip inside libzyre
//! 2.0.1): a Zyre gossip server with zmesh clients, and a zmesh gossip server with
//! Zyre clients. Beacons are off on every node and the beacon ports differ, so only
//! gossip can bring the nodes together. Each test runs in a network namespace of its
//! own (see `tests/common/zyre.rs`).
//!
//! The Zyre build these tests fetch predates GOODBYE (it has no message id 10): it
//! neither sends one when it stops nor understands ours, so EXIT between it and
//! zmesh comes from the expired timeout, set short here (3 s) on both sides.
//! GOODBYE between zmesh nodes is tested in `tests/gossip.rs`.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::talk::{converse, of_type, other_args, wait_event};
use common::zyre::{in_namespace, started, zyre, PREFIX};
use common::Helper;
use serde_json::json;
use zmesh::{Event, ExitReason, Node, PeerId};

const HOST: &str = "10.251.0.1";

/// Waits (generously) until `z` has `peer`'s HELLO, with this name.
fn entered(z: &Node, peer: PeerId, name: &str) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while z.peer_name(peer).unwrap().as_deref() != Some(name) {
        assert!(std::time::Instant::now() < end, "{name} never entered");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn ep(port: u16) -> String {
    format!("tcp://{HOST}:{port}")
}

/// A zmesh node on the namespace's interface, discovering by gossip only.
fn zmesh_gossip(name: &str, beacon_port: u16, setup: impl FnOnce(&mut Node)) -> Node {
    let mut z = Node::new(name);
    z.set_interface(common::zyre::IFACE);
    z.set_port(beacon_port);
    z.set_header("X-ZMESH", "yes").unwrap();
    z.join("EARLY-Z").unwrap();
    z.set_evasive_timeout(Duration::from_secs(1)).unwrap();
    z.set_expired_timeout(Duration::from_secs(3)).unwrap();
    setup(&mut z);
    z.start().unwrap();
    z
}

/// Zyre's short timeouts, as the zmesh nodes'.
fn timeouts() -> Vec<String> {
    vec!["evasive=1000".into(), "expired=3000".into()]
}

/// Zyre serves gossip; a zmesh client converses with it (ENTER, JOIN, SHOUT,
/// WHISPER, LEAVE both ways), a second zmesh client finds the first through Zyre's
/// server, and when Zyre stops both see it leave.
#[test]
fn zyre_gossip_server_with_zmesh_clients() {
    in_namespace("zyre_gossip_server_with_zmesh_clients", "g", |py, dir| {
        let mut extra = other_args();
        extra.extend(timeouts());
        extra.push(format!("endpoint={}", ep(46301)));
        extra.push(format!("gossip-bind={}", ep(46302)));
        let mut zy = zyre(&py, &dir, "zyre1", 46303, &extra);
        let zyre_id = started(&mut zy);
        let hub = ep(46302);
        let a = zmesh_gossip("zmesh1", 46304, |z| z.gossip_connect(&hub).unwrap());
        converse(&mut zy, zyre_id, "zyre1", PREFIX, &a);

        let b = zmesh_gossip("zmesh2", 46305, |z| z.gossip_connect(&hub).unwrap());
        let rx_b = b.events();
        let mut met = BTreeSet::new();
        while met.len() < 2 {
            met.insert(wait_event(&rx_b, |e| e.kind() == "ENTER").peer());
        }
        assert_eq!(met, [zyre_id, a.uuid()].into());
        wait_event(&a.events(), |e| e.kind() == "ENTER" && e.peer() == b.uuid());
        zy.wait("ENTER", of_type("ENTER", &b.uuid().to_string()));

        zy.send(json!({"cmd": "stop"}));
        zy.wait("STOPPED", |v| v["type"] == "STOPPED");
        for z in [&a, &b] {
            let exit = wait_event(&z.events(), |e| e.kind() == "EXIT" && e.peer() == zyre_id);
            assert!(
                matches!(
                    exit,
                    Event::Exit {
                        reason: ExitReason::Left | ExitReason::Expired,
                        ..
                    }
                ),
                "{exit:?}"
            );
        }
        // The zmesh nodes keep their direct link: the server's going changes nothing.
        assert!(a.peers().unwrap().contains(&b.uuid()));
        assert_eq!(a.stats().unwrap().gossip_malformed, 0);
    });
}

/// zmesh serves gossip; two Zyre clients and the server meet (the Zyre nodes
/// through the zmesh server), shout to each other, and when the zmesh server stops
/// the Zyre clients see it leave.
#[test]
fn zmesh_gossip_server_with_zyre_clients() {
    in_namespace("zmesh_gossip_server_with_zyre_clients", "h", |py, dir| {
        let hub = ep(46312);
        let mut server = Some(zmesh_gossip("zmesh-hub", 46313, |z| {
            z.set_endpoint(&ep(46311)).unwrap();
            z.gossip_bind(&hub).unwrap();
        }));
        let z = server.as_ref().unwrap();
        assert_eq!(z.endpoint(), Some(ep(46311).as_str()));
        let zid = z.uuid().to_string();
        let mut zyres: Vec<Helper> = (0..2)
            .map(|i| {
                // Only the first converses; the second must not join its groups.
                let mut extra = if i == 0 { other_args() } else { Vec::new() };
                extra.extend(timeouts());
                extra.push(format!("endpoint={}", ep(46314 + i)));
                extra.push(format!("gossip-connect={hub}"));
                zyre(&py, &dir, &format!("zyre{i}"), 46320 + i, &extra)
            })
            .collect();
        let ids: Vec<PeerId> = zyres.iter_mut().map(started).collect();
        converse(&mut zyres[0], ids[0], "zyre0", PREFIX, z);
        // The two Zyre nodes found each other through the zmesh server.
        zyres[1].wait("ENTER", of_type("ENTER", &ids[0].to_string()));
        zyres[0].wait("ENTER", of_type("ENTER", &ids[1].to_string()));
        zyres[1].wait("ENTER", of_type("ENTER", &zid));
        // (Its ENTER went by while the conversation waited for other events.)
        entered(z, ids[1], "zyre1");
        zyres[1].send(json!({"cmd": "join", "group": "G"}));
        zyres[0].send(json!({"cmd": "join", "group": "G"}));
        // Each must know the other is in G before the shout, or it goes to nobody.
        for (h, other) in [(0, 1), (1, 0)] {
            let other = ids[other].to_string();
            let joined = of_type("JOIN", &other);
            zyres[h].wait("JOIN", |v| joined(v) && v["group"] == "G");
        }
        zyres[1].send(json!({"cmd": "shout", "group": "G", "frames": ["6869"]}));
        let s = zyres[0].wait("SHOUT", of_type("SHOUT", &ids[1].to_string()));
        assert_eq!(s["payload"], json!(["6869"]));
        let tuples = z.stats().unwrap();
        assert_eq!(tuples.gossip_malformed, 0);

        // The server stops: both Zyre clients see it leave.
        drop(server.take());
        for h in &mut zyres {
            h.wait("EXIT", of_type("EXIT", &zid));
        }
    });
}

/// Not every network is gossip or broadcast: a zmesh node given a Zyre node's UUID
/// and endpoint connects with no discovery at all (Zyre's `zyre_require_peer`).
#[test]
fn zmesh_requires_a_zyre_peer_by_endpoint() {
    in_namespace("zmesh_requires_a_zyre_peer_by_endpoint", "i", |py, dir| {
        let mut extra = other_args();
        extra.extend(timeouts());
        extra.push(format!("endpoint={}", ep(46331)));
        let mut zy = zyre(&py, &dir, "zyre1", 46332, &extra);
        let zyre_id = started(&mut zy);
        let z = zmesh_gossip("zmesh1", 46333, |z| z.set_beacon(false));
        z.require_peer(zyre_id, &ep(46331)).unwrap();
        converse(&mut zy, zyre_id, "zyre1", PREFIX, &z);
    });
}
