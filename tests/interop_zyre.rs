//! zmesh and real Zyre C nodes (libzyre 2.0.1 from the pyzyre wheel, fetched by
//! `scripts/fetch-zyre`) in one mesh: the conversation of the Pyre test, heartbeats
//! between idle peers, a crash, and a mixed mesh of two Zyre and two zmesh nodes.
//!
//! czmq never beacons on a loopback interface, so each test runs inside a network
//! namespace of its own with a veth pair (`zv0`, `zv1`) and nothing else: the test
//! binary creates the namespace and re-runs just that test inside it. Needs root and
//! iproute2; as with the tester's namespace test, only CI fails without them.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::talk::{converse, of_type, other_args, wait_event, zmesh_node};
use common::zyre::{in_namespace, started, zyre, IFACE, PREFIX};
use common::{hex, Helper};
use serde_json::json;
use zmesh::{Event, ExitReason, Node, PeerId};

fn meet(python: PathBuf, dir: PathBuf, port: u16) -> (Node, Helper, PeerId) {
    let mut zy = zyre(&python, &dir, "zyre1", port, &other_args());
    let zyre_id = started(&mut zy);
    let z = zmesh_node("zmesh1", IFACE, port);
    converse(&mut zy, zyre_id, "zyre1", PREFIX, &z);
    (z, zy, zyre_id)
}

#[test]
fn zyre_and_zmesh_converse_then_zmesh_stops() {
    in_namespace(
        "zyre_and_zmesh_converse_then_zmesh_stops",
        "a",
        |py, dir| {
            let (mut z, mut zy, _) = meet(py, dir, 46205);
            let zid = z.uuid().to_string();
            z.stop();
            zy.wait("EXIT", of_type("EXIT", &zid));
        },
    );
}

#[test]
fn zyre_and_zmesh_converse_then_zyre_stops() {
    in_namespace("zyre_and_zmesh_converse_then_zyre_stops", "b", |py, dir| {
        let (z, mut zy, zyre_id) = meet(py, dir, 46206);
        zy.send(json!({"cmd": "stop"}));
        zy.wait("STOPPED", |v| v["type"] == "STOPPED");
        let exit = wait_event(&z.events(), |e| e.kind() == "EXIT" && e.peer() == zyre_id);
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
    });
}

/// With 1 s evasive and 3 s expired timeouts on both sides, 8 s of silence must
/// not drop either peer (each side's PING is answered); a crash of the Zyre
/// process must then be seen as an EXIT by expiry.
#[test]
fn zyre_and_zmesh_heartbeats_then_zyre_crashes() {
    in_namespace(
        "zyre_and_zmesh_heartbeats_then_zyre_crashes",
        "c",
        |py, dir| {
            let port = 46207;
            let extra = ["evasive=1000".to_string(), "expired=3000".to_string()];
            let mut zy = zyre(&py, &dir, "zyre1", port, &extra);
            let zyre_id = started(&mut zy);
            let mut z = Node::new("zmesh1");
            z.set_interface(IFACE);
            z.set_port(port);
            z.set_evasive_timeout(Duration::from_secs(1));
            z.set_expired_timeout(Duration::from_secs(3));
            z.start().unwrap();
            let zid = z.uuid().to_string();
            let rx = z.events();
            wait_event(&rx, |e| e.kind() == "ENTER" && e.peer() == zyre_id);
            zy.wait("ENTER", of_type("ENTER", &zid));

            let quiet_until = Instant::now() + Duration::from_secs(8);
            while let Some(left) = quiet_until.checked_duration_since(Instant::now()) {
                if let Ok(e) = rx.recv_timeout(left) {
                    assert!(
                        e.kind() != "EXIT",
                        "zmesh dropped the idle Zyre peer: {e:?}"
                    );
                }
            }
            zy.poll_lines();
            assert!(
                !zy.seen.iter().any(|v| v["type"] == "EXIT"),
                "Zyre dropped the idle zmesh peer: {:?}",
                zy.seen
            );
            assert_eq!(z.peers().unwrap(), vec![zyre_id]);

            zy.kill();
            let exit = wait_event(&rx, |e| e.kind() == "EXIT" && e.peer() == zyre_id);
            assert!(
                matches!(
                    exit,
                    Event::Exit {
                        reason: ExitReason::Expired,
                        ..
                    }
                ),
                "{exit:?}"
            );
        },
    );
}

/// Two Zyre and two zmesh nodes: everyone enters everyone, joins MIX, and every
/// node's shout reaches the three others.
#[test]
fn two_zyre_and_two_zmesh_nodes_form_one_mesh() {
    in_namespace(
        "two_zyre_and_two_zmesh_nodes_form_one_mesh",
        "d",
        |py, dir| {
            let port = 46208;
            let mut zyres: Vec<Helper> = (0..2)
                .map(|i| zyre(&py, &dir, &format!("zyre{i}"), port, &["+MIX".to_string()]))
                .collect();
            let zyre_ids: Vec<PeerId> = zyres.iter_mut().map(started).collect();
            let zmeshes: Vec<Node> = (0..2)
                .map(|i| {
                    let mut z = Node::new(&format!("zmesh{i}"));
                    z.set_interface(IFACE);
                    z.set_port(port);
                    z.join("MIX").unwrap();
                    z.start().unwrap();
                    z
                })
                .collect();
            let zmesh_ids: Vec<PeerId> = zmeshes.iter().map(|z| z.uuid()).collect();
            let all: BTreeSet<PeerId> = zyre_ids.iter().chain(&zmesh_ids).copied().collect();

            // Every node sees the three others join MIX.
            for (z, me) in zmeshes.iter().zip(&zmesh_ids) {
                let rx = z.events();
                let mut joined = BTreeSet::new();
                while joined.len() < 3 {
                    let e = wait_event(&rx, |e| e.kind() == "JOIN");
                    joined.insert(e.peer());
                }
                assert_eq!(joined, all.iter().filter(|p| *p != me).copied().collect());
            }
            for (h, me) in zyres.iter_mut().zip(&zyre_ids) {
                for other in all.iter().filter(|p| *p != me) {
                    let j = h.wait("JOIN", of_type("JOIN", &other.to_string()));
                    assert_eq!(j["group"], "MIX");
                }
            }

            // Every node shouts once.
            for (i, h) in zyres.iter_mut().enumerate() {
                h.send(json!({"cmd": "shout", "group": "MIX", "frames": [hex(format!("zyre{i}").as_bytes())]}));
            }
            for (i, z) in zmeshes.iter().enumerate() {
                z.shout("MIX", vec![format!("zmesh{i}").into_bytes()])
                    .unwrap();
            }
            for (z, me) in zmeshes.iter().zip(&zmesh_ids) {
                let rx = z.events();
                let mut from = BTreeSet::new();
                while from.len() < 3 {
                    let e = wait_event(&rx, |e| e.kind() == "SHOUT");
                    from.insert(e.peer());
                }
                assert!(!from.contains(me));
            }
            for (h, me) in zyres.iter_mut().zip(&zyre_ids) {
                for other in all.iter().filter(|p| *p != me) {
                    let s = h.wait("SHOUT", of_type("SHOUT", &other.to_string()));
                    assert_eq!(s["group"], "MIX");
                }
            }
            for z in &zmeshes {
                assert_eq!(z.stats().unwrap().malformed, 0);
            }
        },
    );
}

/// Over IPv6 alone (the veth keeps only its link-local address): Zyre with
/// `ZSYS_IPV6=1` and zmesh with `set_ipv6(true)` find each other by multicast
/// beacons to ff02::1 and hold the whole conversation; each reads the other's
/// endpoint form (Zyre's `tcp://fe80::1:P`, zmesh's `tcp://[fe80::1]:P`).
#[test]
fn zyre_and_zmesh_converse_over_ipv6() {
    in_namespace("zyre_and_zmesh_converse_over_ipv6", "e", |py, dir| {
        let ip = |args: &[&str]| zmesh_toolkit::netns::run(&[&["ip"][..], args].concat());
        ip(&["-4", "addr", "flush", "dev", IFACE]).unwrap();
        // The link-local address is usable once duplicate detection is over.
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let shown = ip(&["-6", "addr", "show", "dev", IFACE]).unwrap();
            if shown.contains("fe80::") && !shown.contains("tentative") {
                break;
            }
            assert!(Instant::now() < end, "no link-local address: {shown}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let port = 46209;
        let mut args = other_args();
        args.push("ipv6".into());
        let mut zy = zyre(&py, &dir, "zyre1", port, &args);
        let zyre_id = started(&mut zy);
        let mut z = Node::new("zmesh1");
        z.set_interface(IFACE);
        z.set_port(port);
        z.set_ipv6(true);
        z.set_header("X-ZMESH", "yes");
        z.join("EARLY-Z").unwrap();
        z.start().unwrap();
        assert!(z.endpoint().unwrap().starts_with("tcp://[fe80::"));
        converse(&mut zy, zyre_id, "zyre1", "tcp://fe80::", &z);
        let zid = z.uuid().to_string();
        z.stop();
        zy.wait("EXIT", of_type("EXIT", &zid));
    });
}

/// CURVE mode beacons: Zyre with `zyre_set_zcert` sends version-3 beacons with
/// its key; a zmesh node in CURVE mode takes them (it knows the Zyre node and
/// connects to it with that key), a plain zmesh node on the same port counts and
/// ignores them, and Zyre never meets the plain node. (The CURVE handshake itself
/// cannot complete with this Zyre build: its links present an all-zero client key,
/// so two of its own nodes never meet either; see docs/security.md.)
#[test]
fn zyre_curve_beacons_reach_curve_nodes_only() {
    in_namespace(
        "zyre_curve_beacons_reach_curve_nodes_only",
        "f",
        |py, dir| {
            let port = 46210;
            let mut zy = zyre(&py, &dir, "zyre1", port, &["curve".to_string()]);
            let zyre_id = started(&mut zy);
            let mut z = Node::new("zmesh1");
            z.set_interface(IFACE);
            z.set_port(port);
            z.set_curve(zmesh::new_curve_keys());
            z.start().unwrap();
            let plain = zmesh_node("plain", IFACE, port);
            let end = Instant::now() + Duration::from_secs(20);
            while z.peer_address(zyre_id).unwrap().is_none() {
                assert!(
                    Instant::now() < end,
                    "the CURVE node never heard Zyre's beacon"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            assert!(z
                .peer_address(zyre_id)
                .unwrap()
                .unwrap()
                .starts_with(PREFIX));
            while plain.stats().unwrap().wrong_security < 2 {
                assert!(
                    Instant::now() < end,
                    "the plain node never heard a CURVE beacon"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            assert_eq!(plain.peer_address(zyre_id).unwrap(), None);
            zy.send(json!({"cmd": "peers"}));
            let peers = zy.wait("PEERS", |v| v["type"] == "PEERS");
            let plain_id = plain.uuid().to_string();
            assert!(
                !peers["peers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p == &plain_id),
                "Zyre in CURVE mode ignores plain beacons: {peers}"
            );
        },
    );
}
