//! Engine tests with scripted inputs and virtual time: a tiny in-memory network that
//! carries broadcasts, connections and bytes between engines. No sockets, no sleeps.

use super::*;
use crate::engine::link::Link;
use crate::engine::peer::Peer;
use crate::wire::beacon::DEFAULT_PORT;
use crate::wire::zre::ZreMessage;
use std::collections::HashMap;
use std::time::Duration;

mod curve;
mod election;
mod figures;
mod gossip;
mod hostile;
mod place;
mod secure;

struct Net {
    t0: Instant,
    now: Instant,
    nodes: Vec<Engine>,
    addrs: Vec<SocketAddr>,
    up: Vec<bool>,
    /// (node, link) → (node, link) of the other end.
    pipes: HashMap<(usize, LinkId), (usize, LinkId)>,
    events: Vec<Vec<Event>>,
    /// Links whose writes are silently swallowed (to provoke sequence gaps).
    swallow: Option<(usize, usize)>,
    /// This many connection attempts are refused before any succeeds.
    refuse: usize,
    /// Each node's gossip listener (nothing listens unless a test connects to it).
    gossip_addrs: Vec<SocketAddr>,
}

impl Net {
    fn new(n: usize, cfg: impl Fn(usize) -> Config) -> Net {
        let t0 = Instant::now();
        let mut net = Net {
            t0,
            now: t0,
            nodes: Vec::new(),
            addrs: Vec::new(),
            up: Vec::new(),
            pipes: HashMap::new(),
            events: Vec::new(),
            swallow: None,
            refuse: 0,
            gossip_addrs: Vec::new(),
        };
        for i in 0..n {
            net.nodes
                .push(Engine::new(cfg(i), PeerId([i as u8 + 1; 16])));
            net.addrs.push(SocketAddr::from((
                [127, 0, 0, i as u8 + 1],
                49152 + i as u16,
            )));
            net.up.push(false);
            net.events.push(Vec::new());
            net.gossip_addrs
                .push(SocketAddr::from(([127, 0, 1, i as u8 + 1], 6000)));
        }
        net
    }

    fn start(&mut self, i: usize) {
        self.up[i] = true;
        self.nodes[i].start(self.now, self.addrs[i]);
        self.drain();
    }

    fn id(&self, i: usize) -> PeerId {
        self.nodes[i].id()
    }

    fn drain(&mut self) {
        loop {
            let mut any = false;
            for i in 0..self.nodes.len() {
                while let Some(o) = self.nodes[i].poll_output() {
                    any = true;
                    self.carry(i, o);
                }
            }
            if !any {
                break;
            }
        }
    }

    fn carry(&mut self, i: usize, o: Output) {
        let now = self.now;
        match o {
            Output::Broadcast(b) => {
                for j in 0..self.nodes.len() {
                    if j != i && self.up[j] {
                        self.nodes[j].handle_datagram(now, self.addrs[i], &b);
                    }
                }
            }
            Output::Connect { link, .. } if self.refuse > 0 => {
                self.refuse -= 1;
                self.nodes[i].handle_closed(now, link, CloseReason::Network);
            }
            Output::Connect { link, addr } if self.gossip_addrs.contains(&addr) => {
                match self.gossip_addrs.iter().position(|a| *a == addr) {
                    Some(j) if self.up[j] => {
                        let other = self.nodes[j].handle_gossip_accepted(now, self.addrs[i]);
                        self.pipes.insert((i, link), (j, other));
                        self.pipes.insert((j, other), (i, link));
                        self.nodes[i].handle_connected(now, link);
                    }
                    _ => self.nodes[i].handle_closed(now, link, CloseReason::Network),
                }
            }
            Output::Connect { link, addr } => match self.addrs.iter().position(|a| *a == addr) {
                Some(j) if self.up[j] => {
                    let other = self.nodes[j].handle_accepted(now, self.addrs[i]);
                    self.pipes.insert((i, link), (j, other));
                    self.pipes.insert((j, other), (i, link));
                    self.nodes[i].handle_connected(now, link);
                }
                _ => self.nodes[i].handle_closed(now, link, CloseReason::Network),
            },
            Output::Write { link, bytes } => {
                if let Some(&(j, other)) = self.pipes.get(&(i, link)) {
                    if self.swallow == Some((i, j)) {
                        return;
                    }
                    // Split every write in two to exercise partial frames.
                    let mid = bytes.len() / 2;
                    self.nodes[j].handle_bytes(now, other, &bytes[..mid]);
                    self.nodes[j].handle_bytes(now, other, &bytes[mid..]);
                }
            }
            Output::Close { link } => {
                if let Some((j, other)) = self.pipes.remove(&(i, link)) {
                    self.pipes.remove(&(j, other));
                    self.nodes[j].handle_closed(now, other, CloseReason::Network);
                }
            }
            Output::Event(e) => self.events[i].push(e),
        }
    }

    /// Crash: the node vanishes without a word; its connections break.
    fn crash(&mut self, i: usize) {
        self.up[i] = false;
        let keys: Vec<_> = self
            .pipes
            .keys()
            .filter(|(n, _)| *n == i)
            .copied()
            .collect();
        for k in keys {
            if let Some((j, other)) = self.pipes.remove(&k) {
                self.pipes.remove(&(j, other));
                self.nodes[j].handle_closed(self.now, other, CloseReason::Network);
            }
        }
        self.drain();
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = (0..self.nodes.len())
                .filter(|&i| self.up[i])
                .filter_map(|i| self.nodes[i].poll_timeout())
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for i in 0..self.nodes.len() {
                        if self.up[i] {
                            self.nodes[i].handle_timeout(self.now);
                        }
                    }
                    self.drain();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn kinds(&self, i: usize) -> Vec<String> {
        self.events[i]
            .iter()
            .map(|e| format!("{} {}", e.kind(), e.name()))
            .collect()
    }

    fn elapsed(&self) -> Duration {
        self.now - self.t0
    }
}

fn named(i: usize) -> Config {
    Config::new(["a", "b", "c", "d"][i % 4]).with_header("X-I", i.to_string())
}

#[test]
fn two_nodes_enter_with_headers() {
    let mut net = Net::new(2, named);
    net.start(0);
    net.start(1);
    // b's first beacon reached a at once; a's next beacon reaches b within a second.
    net.run_for(Duration::from_millis(1500));
    let enter = net.events[0]
        .iter()
        .find(|e| e.kind() == "ENTER")
        .expect("a sees b");
    match enter {
        Event::Enter {
            peer,
            name,
            headers,
            endpoint,
        } => {
            assert_eq!(*peer, net.id(1));
            assert_eq!(name, "b");
            assert_eq!(headers.get("X-I").map(String::as_str), Some("1"));
            assert_eq!(endpoint, "tcp://127.0.0.2:49153");
        }
        _ => unreachable!(),
    }
    assert!(net.kinds(1).contains(&"ENTER a".to_string()));
    assert_eq!(net.nodes[0].peers().filter(|p| p.ready).count(), 1);
    assert_eq!(net.nodes[0].ready_count(), 1);
}

#[test]
fn hello_survives_a_refused_connect() {
    // Both first connects fail (refused, or no file handle for the socket): the
    // HELLO queued on them must go out on the reconnected links.
    let mut net = Net::new(2, named);
    net.refuse = 2;
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.refuse, 0, "both connects were refused");
    for (i, other) in [(0, "b"), (1, "a")] {
        assert!(
            net.kinds(i).contains(&format!("ENTER {other}")),
            "node {i}: {:?}",
            net.kinds(i)
        );
    }
}

#[test]
fn groups_shout_whisper_and_status() {
    let mut net = Net::new(3, named);
    net.nodes[0].join("g1").unwrap();
    for i in 0..3 {
        net.start(i);
    }
    net.run_for(Duration::from_secs(2));
    // The HELLO carried g1: both others saw a JOIN right after ENTER.
    for i in [1, 2] {
        let k = net.kinds(i);
        let enter = k.iter().position(|s| s == "ENTER a").unwrap();
        assert_eq!(k[enter + 1], "JOIN a");
    }
    net.nodes[1].join("g1").unwrap();
    net.nodes[2].join("g2").unwrap();
    net.drain();
    assert_eq!(net.nodes[0].peers_by_group("g1"), vec![net.id(1)]);
    assert_eq!(
        net.nodes[0].shout("g1", &[b"hi".to_vec(), b"there".to_vec()].into()),
        Ok(1)
    );
    // A node may shout to a group it has not joined.
    assert_eq!(net.nodes[0].shout("g2", &[b"x".to_vec()].into()), Ok(1));
    // Names longer than a ZRE string are refused, not cut.
    let long = "g".repeat(256);
    assert_eq!(net.nodes[0].join(&long).unwrap_err().len, 256);
    assert!(net.nodes[0].shout(&long, &crate::Frames::new()).is_err());
    assert!(!net.nodes[0].own_group_set().contains(&long));
    assert!({
        let id0 = net.id(0);
        net.nodes[2].whisper(id0, &[b"w1".to_vec(), vec![], vec![7; 300]].into())
    });
    assert!(!net.nodes[2].whisper(PeerId([99; 16]), &[b"nobody".to_vec()].into()));
    net.drain();
    assert!(net.events[1].iter().any(|e| matches!(e,
        Event::Shout { group, content, .. } if group == "g1" && content == &vec![b"hi".to_vec(), b"there".to_vec()])));
    assert!(net.events[2]
        .iter()
        .any(|e| matches!(e, Event::Shout { group, .. } if group == "g2")));
    assert!(!net.events[2]
        .iter()
        .any(|e| matches!(e, Event::Shout { group, .. } if group == "g1")));
    assert!(net.events[0].iter().any(|e| matches!(e,
        Event::Whisper { content, .. } if content.len() == 3 && content[2].len() == 300)));
    net.nodes[1].leave("g1");
    net.nodes[1].leave("g1"); // idempotent
    net.drain();
    assert!(net.nodes[0].peers_by_group("g1").is_empty());
    assert_eq!(net.kinds(0).iter().filter(|k| *k == "LEAVE b").count(), 1);
    // Many status changes keep everyone in agreement (the counter wraps at 256).
    for n in 0..300 {
        net.nodes[2].join(&format!("x{n}")).unwrap();
        if n % 2 == 0 {
            net.nodes[2].leave(&format!("x{n}"));
        }
    }
    net.drain();
    assert_eq!(net.nodes[0].peers().count(), 2);
    assert_eq!(net.nodes[0].stats().exits.len(), 0);
    assert_eq!(net.nodes[0].peer(net.id(2)).unwrap().groups.len(), 151);
}

#[test]
fn polite_stop_is_seen_at_once() {
    let mut net = Net::new(2, named);
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(2));
    let now = net.now;
    net.nodes[1].stop(now);
    net.drain();
    net.up[1] = false;
    assert!(net.events[0].iter().any(|e| matches!(
        e,
        Event::Exit {
            reason: ExitReason::Left,
            ..
        }
    )));
    assert!(net.events[1]
        .iter()
        .any(|e| matches!(e, Event::Stop { .. })));
    assert_eq!(net.nodes[0].peers().count(), 0);
}

#[test]
fn crash_gives_evasive_silent_then_exit_after_expiry() {
    let mut net = Net::new(2, |i| {
        named(i)
            .with_evasive_timeout(Duration::from_secs(1))
            .with_expired_timeout(Duration::from_secs(4))
    });
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(2));
    // While both live, idle peers keep each other alive with PING / PING-OK.
    net.run_for(Duration::from_secs(20));
    assert!(!net.kinds(0).iter().any(|k| k.starts_with("EXIT")));
    let crashed_at = net.elapsed();
    net.crash(1);
    net.run_for(Duration::from_secs(10));
    let exit_at = net.events[0]
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::Exit {
                    reason: ExitReason::Expired,
                    ..
                }
            )
        })
        .expect("exit after expiry");
    let k = net.kinds(0);
    assert!(k[..exit_at].contains(&"EVASIVE b".to_string()));
    assert!(k[..exit_at].contains(&"SILENT b".to_string()));
    assert!(crashed_at < net.elapsed());
    // Reconnect attempts were made while the peer was gone, and stopped after.
    assert!(net.nodes[0].poll_timeout().is_some());
    assert_eq!(net.nodes[0].peers().count(), 0);
}

#[test]
fn restart_with_same_uuid_exits_then_enters() {
    let mut net = Net::new(2, named);
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(2));
    net.crash(1);
    // Same UUID, same address: a fresh engine.
    net.nodes[1] = Engine::new(named(1), net.id(1));
    net.start(1);
    net.run_for(Duration::from_secs(2));
    let k = net.kinds(0);
    let enters = k.iter().filter(|s| *s == "ENTER b").count();
    assert_eq!(enters, 2, "{k:?}");
    assert!(net.events[0].iter().any(|e| matches!(
        e,
        Event::Exit {
            reason: ExitReason::Restarted,
            ..
        }
    )));
}

#[test]
fn new_uuid_on_old_endpoint_purges_old_peer() {
    let mut net = Net::new(2, named);
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(2));
    net.crash(1);
    net.nodes[1] = Engine::new(named(1), PeerId([77; 16]));
    net.start(1);
    net.run_for(Duration::from_secs(2));
    assert!(net.events[0].iter().any(|e| matches!(
        e,
        Event::Exit {
            reason: ExitReason::EndpointReused,
            ..
        }
    )));
    assert_eq!(
        net.nodes[0].peers().map(|p| p.id).collect::<Vec<_>>(),
        vec![PeerId([77; 16])]
    );
}

#[test]
fn sequence_gap_drops_the_peer_and_mesh_heals() {
    let mut net = Net::new(2, named);
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(2));
    net.swallow = Some((1, 0));
    assert!({
        let id0 = net.id(0);
        net.nodes[1].whisper(id0, &[b"lost".to_vec()].into())
    });
    net.drain();
    net.swallow = None;
    assert!({
        let id0 = net.id(0);
        net.nodes[1].whisper(id0, &[b"after".to_vec()].into())
    });
    net.drain();
    assert!(net.events[0].iter().any(|e| matches!(
        e,
        Event::Exit {
            reason: ExitReason::SequenceGap,
            ..
        }
    )));
    assert!(!net.events[0].iter().any(|e| e.kind() == "WHISPER"));
    // Beacons bring it back: a reconnects, says HELLO, and b re-enters a.
    net.run_for(Duration::from_secs(3));
    assert_eq!(net.nodes[0].peers().filter(|p| p.ready).count(), 1);
    assert_eq!(net.nodes[1].peers().filter(|p| p.ready).count(), 1);
}

#[test]
fn traffic_before_hello_is_dropped_and_garbage_counted() {
    let mut net = Net::new(1, named);
    net.start(0);
    let now = net.now;
    let e = &mut net.nodes[0];
    // A stranger connects and sends a WHISPER without HELLO.
    let link = e.handle_accepted(now, "127.0.0.9:1".parse().unwrap());
    let mut d = Link::dealer(&[&[1u8][..], &[9u8; 16][..]].concat(), 1 << 20);
    let from_engine: Vec<u8> = std::iter::from_fn(|| e.poll_output())
        .filter_map(|o| match o {
            Output::Write { bytes, .. } => Some(bytes),
            _ => None,
        })
        .flatten()
        .collect();
    d.handle_bytes(&from_engine);
    assert!(matches!(d.poll(), Ok(Some(link::LinkEvent::Ready { .. }))));
    let w = ZreMessage::new(
        1,
        Body::Whisper {
            content: vec![b"x".to_vec()].into(),
        },
    );
    d.send(&w.encode().unwrap());
    d.send(&[b"\xaa\xa1\x02\x09\x00\x02".to_vec()]); // bad version
    e.handle_bytes(now, link, &d.take_output());
    while let Some(o) = e.poll_output() {
        assert!(!matches!(o, Output::Event(_)));
    }
    assert_eq!(e.stats().before_hello, 1);
    assert_eq!(e.stats().malformed, 1);
    // Garbage on a link closes it without a panic.
    let link2 = e.handle_accepted(now, "127.0.0.9:2".parse().unwrap());
    e.handle_bytes(now, link2, b"GET / HTTP/1.1\r\n\r\n");
    let outs: Vec<_> = std::iter::from_fn(|| e.poll_output()).collect();
    assert!(outs.contains(&Output::Close { link: link2 }));
    // Bad beacons are counted; our own beacon is ignored.
    e.handle_datagram(
        now,
        SocketAddr::from(([127, 0, 0, 9], DEFAULT_PORT)),
        b"ZRE\x01short",
    );
    let own = Beacon::new(e.id().0, 4000).encode();
    e.handle_datagram(now, SocketAddr::from(([127, 0, 0, 9], DEFAULT_PORT)), &own);
    assert_eq!(e.stats().bad_beacons, 1);
    assert_eq!(e.peers().count(), 0);
}

#[test]
fn overflow_drops_peer() {
    let mut net = Net::new(2, named);
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(2));
    let link = net.nodes[0].peers.get(&net.id(1)).unwrap().link_id;
    let now = net.now;
    net.nodes[0].handle_closed(now, link, CloseReason::Overflow);
    net.drain();
    assert!(net.events[0].iter().any(|e| matches!(
        e,
        Event::Exit {
            reason: ExitReason::Overflow,
            ..
        }
    )));
}

#[test]
fn sequence_wrap_accepts_zyre_and_pyre() {
    let mut p = Peer::new(
        PeerId::default(),
        String::new(),
        "127.0.0.1:1".parse().unwrap(),
        LinkId(1),
        Link::router(10),
        Instant::now(),
    );
    p.ready = true;
    p.hello_out = true;
    p.want_sequence = 65534;
    assert!(p.accept_sequence(false, 65535)); // Zyre: uint16
    assert!(p.accept_sequence(false, 0));
    p.want_sequence = 65534;
    assert!(p.accept_sequence(false, 0)); // Pyre: modulo 65535
    assert!(p.accept_sequence(false, 1));
    assert!(!p.accept_sequence(false, 3));
    assert!(p.accept_sequence(true, 1));
}

#[test]
fn endpoint_parsing() {
    assert_eq!(
        endpoint_addr("tcp://10.0.0.1:5"),
        Some("10.0.0.1:5".parse().unwrap())
    );
    assert_eq!(
        endpoint_addr("tcp://[::1]:5"),
        Some("[::1]:5".parse().unwrap())
    );
    assert_eq!(endpoint_addr("tcp://host:5"), None);
    assert_eq!(endpoint_addr("udp://1.2.3.4:5"), None);
    // Zyre's unbracketed IPv6, and scopes by number or by name.
    let ll: std::net::Ipv6Addr = "fe80::1".parse().unwrap();
    let v6 = |scope| Some(SocketAddr::V6(std::net::SocketAddrV6::new(ll, 5, 0, scope)));
    assert_eq!(endpoint_addr("tcp://fe80::1:5"), v6(0));
    assert_eq!(endpoint_addr("tcp://[fe80::1%3]:5"), v6(3));
    assert_eq!(endpoint_addr("tcp://fe80::1%eth0:5"), v6(0));
    assert_eq!(endpoint_addr("tcp://1.2.3.4%eth0:5"), None);
    // Written back: brackets, no scope, IPv4-mapped as plain IPv4.
    let scoped: SocketAddr = "[fe80::1%3]:5".parse().unwrap();
    assert_eq!(crate::engine::endpoint_of(scoped), "tcp://[fe80::1]:5");
    let mapped: SocketAddr = "[::ffff:10.0.0.1]:5".parse().unwrap();
    assert_eq!(crate::engine::endpoint_of(mapped), "tcp://10.0.0.1:5");
}

/// A dual-stack node tells an IPv6 peer its IPv6 address, and gives a link-local
/// endpoint without a scope (from a HELLO) its own interface's.
#[test]
fn ipv6_peers_are_told_our_ipv6_address_and_scoped() {
    let t0 = Instant::now();
    let mut e = Engine::new(named(0), PeerId([1; 16]));
    e.set_v6(Some(crate::engine::V6Place {
        addr: "fd00::1".parse().unwrap(),
        link_local: Some("fe80::1".parse().unwrap()),
        index: 7,
    }));
    e.start(t0, "10.1.0.1:5000".parse().unwrap());
    assert_eq!(
        e.endpoint_for("[fd00::2]:6000".parse().unwrap()),
        "tcp://[fd00::1]:5000"
    );
    assert_eq!(
        e.endpoint_for("10.1.0.2:6000".parse().unwrap()),
        "tcp://10.1.0.1:5000"
    );
    // A peer with only a link-local address may have no route to the other.
    assert_eq!(
        e.endpoint_for("[fe80::2%7]:6000".parse().unwrap()),
        "tcp://[fe80::1]:5000"
    );
    e.connect_peer(t0, PeerId([2; 16]), "tcp://fe80::2:6000")
        .unwrap();
    let connect = std::iter::from_fn(|| e.poll_output()).find_map(|o| match o {
        Output::Connect { addr, .. } => Some(addr),
        _ => None,
    });
    assert_eq!(connect, Some("[fe80::2%7]:6000".parse().unwrap()));
}

#[test]
fn twenty_nodes_full_mesh() {
    let mut net = Net::new(20, |i| Config::new(format!("n{i}")));
    for i in 0..20 {
        net.start(i);
    }
    net.run_for(Duration::from_secs(2));
    for i in 0..20 {
        assert_eq!(
            net.nodes[i].peers().filter(|p| p.ready).count(),
            19,
            "node {i}"
        );
    }
}

#[test]
fn output_held_for_a_silent_peer_is_bounded() {
    let mut cfg = named(0);
    cfg.max_pending = 10_000;
    let mut e = Engine::new(cfg, PeerId([1; 16]));
    let now = Instant::now();
    e.start(now, "127.0.0.1:5000".parse().unwrap());
    // A beacon from a peer whose inbox never answers: our link to it stays in the
    // handshake, and whispers to it are held.
    let other = PeerId([2; 16]);
    e.handle_datagram(
        now,
        SocketAddr::from(([127, 0, 0, 2], DEFAULT_PORT)),
        &Beacon::new(other.0, 6000).encode(),
    );
    while e.poll_output().is_some() {}
    for _ in 0..20 {
        assert!(e.whisper(other, &[vec![0u8; 1000]].into()));
    }
    let outs: Vec<_> = std::iter::from_fn(|| e.poll_output()).collect();
    assert!(outs.iter().any(|o| matches!(o, Output::Close { .. })));
    assert_eq!(e.peers().count(), 0);
    assert_eq!(e.stats().exits.get("overflow"), Some(&1));
}

#[test]
fn stop_closes_every_link() {
    let mut net = Net::new(2, named);
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(2));
    let now = net.now;
    net.nodes[0].stop(now);
    let closes = std::iter::from_fn(|| net.nodes[0].poll_output())
        .filter(|o| matches!(o, Output::Close { .. }))
        .count();
    // One outgoing link to b, one accepted link from b.
    assert_eq!(closes, 2);
    assert!(!net.nodes[0].is_running());
    assert_eq!(net.nodes[0].poll_timeout(), None);
}

#[test]
fn silent_inbox_connections_are_closed_after_the_handshake_timeout() {
    // Three connections: one never speaks, one stops after the ZMTP handshake
    // (READY) and never sends HELLO, one says HELLO. The first two hold a file
    // handle each for nothing: both are closed at the handshake timeout.
    let t0 = Instant::now();
    let mut e = Engine::new(Config::new("a"), PeerId([1; 16]));
    e.start(t0, "127.0.0.1:49152".parse().unwrap());
    let from: SocketAddr = "127.0.0.2:40000".parse().unwrap();
    let silent = e.handle_accepted(t0, from);
    let ready_only = e.handle_accepted(t0, from);
    let mut dealer = Link::dealer(b"\x01xxxxxxxxxxxxxxxx", 1 << 20);
    e.handle_bytes(t0, ready_only, &dealer.take_output());
    while e.poll_output().is_some() {}
    let greeted = e.handle_accepted(t0, from);
    let mut d = Link::dealer(&[&[1u8][..], &[7u8; 16][..]].concat(), 1 << 20);
    let out: Vec<u8> = std::iter::from_fn(|| e.poll_output())
        .filter_map(|o| match o {
            Output::Write { link, bytes } if link == greeted => Some(bytes),
            _ => None,
        })
        .flatten()
        .collect();
    d.handle_bytes(&out);
    assert!(matches!(d.poll(), Ok(Some(link::LinkEvent::Ready { .. }))));
    let hello = crate::wire::zre::Hello {
        endpoint: "tcp://127.0.0.2:5000".into(),
        groups: vec![],
        status: 0,
        name: "g".into(),
        headers: vec![],
    };
    d.send(&ZreMessage::new(1, Body::Hello(hello)).encode().unwrap());
    e.handle_bytes(t0, greeted, &d.take_output());
    assert!(e.is_ready(PeerId([7; 16])));
    assert!(e
        .poll_timeout()
        .is_some_and(|t| t <= t0 + config::defaults::HANDSHAKE_TIMEOUT));
    let closes = |e: &mut Engine| {
        let mut v = Vec::new();
        while let Some(o) = e.poll_output() {
            if let Output::Close { link } = o {
                v.push(link);
            }
        }
        v
    };
    e.handle_timeout(t0 + config::defaults::HANDSHAKE_TIMEOUT - Duration::from_millis(1));
    assert_eq!(closes(&mut e), vec![]);
    e.handle_timeout(t0 + config::defaults::HANDSHAKE_TIMEOUT);
    let mut closed = closes(&mut e);
    closed.sort_by_key(|l| l.0);
    assert_eq!(closed, vec![silent, ready_only]);
    assert_eq!(e.stats().handshake_timeouts, 2);
    assert!(e.inbox.contains(greeted));
    assert!(!e.inbox.contains(silent));
    assert!(!e.inbox.contains(ready_only));
}
