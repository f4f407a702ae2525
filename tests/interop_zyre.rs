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
            z.set_evasive_timeout(Duration::from_secs(1)).unwrap();
            z.set_expired_timeout(Duration::from_secs(3)).unwrap();
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
        z.set_header("X-ZMESH", "yes").unwrap();
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

/// One member of an election test: a Zyre helper or a zmesh node, and whether it
/// contests.
enum Voter {
    Zyre(Helper, PeerId, bool),
    Zmesh(Box<Node>, bool),
}

impl Voter {
    fn id(&self) -> PeerId {
        match self {
            Voter::Zyre(_, id, _) => *id,
            Voter::Zmesh(z, _) => z.uuid(),
        }
    }
    fn contests(&self) -> bool {
        match self {
            Voter::Zyre(_, _, c) | Voter::Zmesh(_, c) => *c,
        }
    }
    fn join(&mut self) {
        match self {
            Voter::Zyre(h, _, _) => h.send(json!({"cmd": "join", "group": "VOTE"})),
            Voter::Zmesh(z, _) => z.join("VOTE").unwrap(),
        }
    }
    /// Waits until this member has seen `peer` join VOTE.
    fn sees_join(&mut self, peer: PeerId) {
        match self {
            Voter::Zyre(h, _, _) => {
                let p = peer.to_string();
                h.wait("JOIN", |v| v["type"] == "JOIN" && v["peer"] == p.as_str());
            }
            Voter::Zmesh(z, _) => {
                let end = Instant::now() + Duration::from_secs(30);
                while !z.peers_by_group("VOTE").unwrap().contains(&peer) {
                    assert!(Instant::now() < end, "{} sees {peer} join", z.name());
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }

    /// Waits until this member names `leader` for VOTE.
    fn names(&mut self, leader: PeerId) {
        match self {
            Voter::Zyre(h, _, _) => {
                let w = leader.to_string();
                h.wait("LEADER", |v| {
                    v["type"] == "LEADER" && v["peer"] == w.as_str() && v["group"] == "VOTE"
                });
            }
            Voter::Zmesh(z, _) => {
                let end = Instant::now() + Duration::from_secs(30);
                while z.leader("VOTE").unwrap() != Some(leader) {
                    let now = z.leader("VOTE");
                    assert!(
                        Instant::now() < end,
                        "{}: leader {now:?}, want {leader}",
                        z.name()
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

/// Elections across implementations. Two Zyre and two zmesh nodes meet, then join
/// the group VOTE one at a time, Zyre first; `zyre_contest` and `zmesh_contest` say
/// who contests. After each join that starts an election, every member names the
/// same leader: the lowest UUID (as 32 upper-case hex digits) among the contesting
/// members that start a wave. Those are the contesting members already in the group,
/// which hear the JOIN, and a contesting zmesh node joining (Zyre does not start an
/// election when it joins a group itself).
fn election(
    py: PathBuf,
    dir: PathBuf,
    port: u16,
    zyre_contest: [bool; 2],
    zmesh_contest: [bool; 2],
) {
    let mut voters = Vec::new();
    for i in 0..2 {
        let mut args = Vec::new();
        if zyre_contest[i] {
            args.push("contest=VOTE".to_string());
        }
        let mut h = zyre(&py, &dir, &format!("zyre{i}"), port, &args);
        let id = started(&mut h);
        voters.push(Voter::Zyre(h, id, zyre_contest[i]));
        let mut z = Node::new(&format!("zmesh{i}"));
        z.set_interface(IFACE);
        z.set_port(port);
        if zmesh_contest[i] {
            z.set_contest_in_group("VOTE").unwrap();
        }
        z.start().unwrap();
        voters.push(Voter::Zmesh(Box::new(z), zmesh_contest[i]));
    }
    // Everybody meets before anybody joins: a Zyre node that contests a group starts
    // an election on any HELLO that lists it, member or not.
    let ids: Vec<PeerId> = voters.iter().map(Voter::id).collect();
    for v in voters.iter_mut() {
        let others: BTreeSet<String> = ids
            .iter()
            .filter(|i| **i != v.id())
            .map(|i| i.to_string())
            .collect();
        match v {
            Voter::Zyre(h, _, _) => {
                let mut seen = BTreeSet::new();
                while seen != others {
                    let e = h.wait("ENTER", |e| e["type"] == "ENTER");
                    seen.insert(e["peer"].as_str().unwrap().to_string());
                }
            }
            Voter::Zmesh(z, _) => {
                let end = Instant::now() + Duration::from_secs(30);
                while z.peers().unwrap().len() < 3 {
                    assert!(Instant::now() < end, "{} meets the others", z.name());
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
    for n in 0..voters.len() {
        let joiner_starts = matches!(voters[n], Voter::Zmesh(_, true));
        voters[n].join();
        // The next join waits until everybody has this one.
        let joiner = voters[n].id();
        for (i, v) in voters.iter_mut().enumerate() {
            if i != n {
                v.sees_join(joiner);
            }
        }
        let starters: Vec<PeerId> = voters[..n]
            .iter()
            .filter(|v| v.contests())
            .map(Voter::id)
            .chain(joiner_starts.then(|| voters[n].id()))
            .collect();
        let Some(leader) = starters.iter().copied().min_by_key(|id| id.to_string()) else {
            continue;
        };
        if n == 0 {
            // Alone: a zmesh node leads at once; nobody to tell.
            voters[0].names(leader);
            continue;
        }
        for v in voters[..=n].iter_mut() {
            v.names(leader);
        }
    }
}

#[test]
fn zyre_contests_and_a_zmesh_member_carries_the_wave() {
    in_namespace(
        "zyre_contests_and_a_zmesh_member_carries_the_wave",
        "g",
        |py, dir| election(py, dir, 46211, [true, true], [false, false]),
    );
}

#[test]
fn zmesh_contests_and_a_zyre_member_carries_the_wave() {
    in_namespace(
        "zmesh_contests_and_a_zyre_member_carries_the_wave",
        "h",
        |py, dir| election(py, dir, 46212, [false, false], [true, true]),
    );
}

#[test]
fn zyre_and_zmesh_all_contest_and_agree() {
    in_namespace("zyre_and_zmesh_all_contest_and_agree", "i", |py, dir| {
        election(py, dir, 46213, [true, true], [true, true])
    });
}
