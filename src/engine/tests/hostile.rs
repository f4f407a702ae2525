//! A neighbour on the LAN who sends anything: what it must not be able to do to a
//! node, each beside the real case it must not break.

use super::*;
use crate::wire::zre::Hello;

/// A stranger at `from` opens an inbox connection under `uuid` and says HELLO.
fn hello_from(e: &mut Engine, now: Instant, from: &str, uuid: [u8; 16], hello: Hello) {
    let (link, mut d) = connect_as(e, now, from, uuid);
    say(e, now, link, &mut d, ZreMessage::new(1, Body::Hello(hello)));
}

/// Node 0 reported `what` (an event kind and a name, as `Net::kinds` gives them).
fn assert_heard(net: &Net, what: &str) {
    assert!(
        net.kinds(0).iter().any(|k| k == what),
        "{what} not in {:?}",
        net.kinds(0)
    );
}

/// Two nodes that have met.
fn met_pair() -> Net {
    let mut net = Net::new(2, named);
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(2));
    net
}

/// Says `m` on a stranger's connection.
fn say(e: &mut Engine, now: Instant, link: LinkId, d: &mut Link, m: ZreMessage) {
    d.send(&m.encode().unwrap());
    e.handle_bytes(now, link, &d.take_output());
}

/// A stranger at `from` opens an inbox connection under `uuid`'s routing id.
fn connect_as(e: &mut Engine, now: Instant, from: &str, uuid: [u8; 16]) -> (LinkId, Link) {
    let link = e.handle_accepted(now, from.parse().unwrap());
    let mut d = Link::dealer(&[&[1u8][..], &uuid[..]].concat(), 1 << 30);
    let out: Vec<u8> = std::iter::from_fn(|| e.poll_output())
        .filter_map(|o| match o {
            Output::Write { bytes, .. } => Some(bytes),
            _ => None,
        })
        .flatten()
        .collect();
    d.handle_bytes(&out);
    assert!(matches!(d.poll(), Ok(Some(link::LinkEvent::Ready { .. }))));
    e.handle_bytes(now, link, &d.take_output());
    (link, d)
}

#[test]
fn a_leaving_beacon_from_another_address_is_ignored() {
    let mut net = met_pair();
    let b = net.id(1);
    let now = net.now;
    // The spoofer sends node 1's UUID with port 0 from its own address.
    let leaving = Beacon::new(b.0, 0).encode();
    net.nodes[0].handle_datagram(
        now,
        SocketAddr::from(([127, 0, 0, 77], DEFAULT_PORT)),
        &leaving,
    );
    net.drain();
    assert!(net.nodes[0].is_ready(b), "{:?}", net.kinds(0));
    assert_eq!(net.nodes[0].stats().spoofed_leaving, 1);
    assert!(!net.kinds(0).iter().any(|k| k.starts_with("EXIT")));
    // The same from node 1's own address: it leaves at once (a polite stop).
    net.nodes[0].handle_datagram(now, net.addrs[1], &leaving);
    net.drain();
    assert!(!net.nodes[0].is_ready(b));
    assert_heard(&net, "EXIT b");
}

#[test]
fn one_hello_cannot_declare_unbounded_groups_or_headers() {
    let mut net = Net::new(1, named);
    net.start(0);
    let now = net.now;
    let groups: Vec<String> = (0..MAX_PEER_GROUPS + 500)
        .map(|i| format!("g{i}"))
        .collect();
    let headers: Vec<(String, String)> = (0..MAX_PEER_HEADERS + 100)
        .map(|i| (format!("X-{i}"), "v".to_string()))
        .collect();
    let hello = Hello {
        endpoint: "tcp://127.0.0.9:5000".into(),
        groups,
        status: 0,
        name: "greedy".into(),
        headers,
    };
    let uuid = [9u8; 16];
    hello_from(&mut net.nodes[0], now, "127.0.0.9:40000", uuid, hello);
    let e = &mut net.nodes[0];
    let joins = std::iter::from_fn(|| e.poll_output())
        .filter(|o| matches!(o, Output::Event(Event::Join { .. })))
        .count();
    assert_eq!(joins, MAX_PEER_GROUPS);
    let p = e.peer(PeerId(uuid)).expect("the peer entered");
    assert_eq!(p.groups.len(), MAX_PEER_GROUPS);
    assert_eq!(p.headers.len(), MAX_PEER_HEADERS);
    assert_eq!(e.stats().over_bound, 600);
}

#[test]
fn an_expired_timeout_below_the_evasive_one_is_kept() {
    // Expired 3 s, evasive 10 s: a crashed peer goes after 3 s (plus a reap), not
    // at the evasive timeout.
    let cfg = |i| {
        let mut c = named(i);
        c.evasive_timeout = Duration::from_secs(10);
        c.expired_timeout = Duration::from_secs(3);
        c
    };
    let mut net = Net::new(2, cfg);
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(1));
    assert!(net.nodes[0].is_ready(net.id(1)));
    net.crash(1);
    net.run_for(Duration::from_secs(5));
    assert!(!net.nodes[0].is_ready(net.id(1)), "{:?}", net.kinds(0));
}

#[test]
fn a_huge_expired_timeout_does_not_overflow_the_clock() {
    let cfg = |i| {
        let mut c = named(i);
        c.expired_timeout = Duration::MAX;
        c.evasive_timeout = Duration::MAX;
        c
    };
    let mut net = Net::new(2, cfg);
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(2));
    assert!(net.nodes[0].is_ready(net.id(1)));
}

#[test]
fn inbox_connections_are_bounded_per_address() {
    let mut net = Net::new(1, named);
    net.start(0);
    let now = net.now;
    let e = &mut net.nodes[0];
    let from: SocketAddr = "127.0.0.66:40000".parse().unwrap();
    for _ in 0..MAX_INBOX_PER_ADDRESS {
        e.handle_accepted(now, from);
    }
    while e.poll_output().is_some() {}
    let refused = e.handle_accepted(now, from);
    let outs: Vec<Output> = std::iter::from_fn(|| e.poll_output()).collect();
    assert!(outs.contains(&Output::Close { link: refused }), "{outs:?}");
    assert_eq!(e.stats().inbox_refused, 1);
    // Another address still gets in.
    let other = e.handle_accepted(now, "127.0.0.67:40000".parse().unwrap());
    let outs: Vec<Output> = std::iter::from_fn(|| e.poll_output()).collect();
    assert!(!outs.contains(&Output::Close { link: other }));
}

#[test]
fn a_beacon_flood_makes_a_bounded_number_of_peers() {
    let mut net = Net::new(1, named);
    net.start(0);
    let now = net.now;
    let e = &mut net.nodes[0];
    for i in 0..MAX_UNREADY_PEERS as u32 + 100 {
        let mut uuid = [0xEEu8; 16];
        uuid[..4].copy_from_slice(&i.to_be_bytes());
        let b = Beacon::new(uuid, 5000 + i as u16).encode();
        e.handle_datagram(now, SocketAddr::from(([127, 0, 0, 88], DEFAULT_PORT)), &b);
        while e.poll_output().is_some() {}
    }
    assert_eq!(e.peers().count(), MAX_UNREADY_PEERS);
    assert_eq!(e.stats().unready_refused, 100);
}

/// Node 1's HELLO as a stranger at `at` would forge it: node 1's name and port,
/// the stranger's address.
fn forged_hello(net: &Net, at: &str) -> Hello {
    Hello {
        endpoint: format!("tcp://{at}:{}", net.addrs[1].port()),
        groups: vec!["evil".into()],
        status: 0,
        name: "b".into(),
        headers: Vec::new(),
    }
}

#[test]
fn a_forged_hello_from_another_address_does_not_take_a_peer_over() {
    let mut net = met_pair();
    let b = net.id(1);
    let now = net.now;
    // The stranger presents node 1's routing id and a HELLO naming its own
    // address, as a move would: it is asked about first, and node 1 answers.
    let (link, mut d) = connect_as(&mut net.nodes[0], now, "127.0.0.77:40000", b.0);
    let hello = forged_hello(&net, "127.0.0.77");
    say(
        &mut net.nodes[0],
        now,
        link,
        &mut d,
        ZreMessage::new(1, Body::Hello(hello)),
    );
    net.drain();
    assert_eq!(net.nodes[0].stats().takeovers_refused, 1);
    net.run_for(Duration::from_secs(10));
    let p = net.nodes[0].peer(b).unwrap();
    assert_eq!(p.endpoint, format!("tcp://{}", net.addrs[1]));
    assert!(!p.groups.contains("evil"));
    assert!(
        !net.kinds(0).iter().any(|k| k.starts_with("EXIT")),
        "{:?}",
        net.kinds(0)
    );
    // Whatever else a stranger says under the peer's identity is not the peer's:
    // no GOODBYE, no whisper, no sequence gap.
    let now = net.now;
    let (link, mut d) = connect_as(&mut net.nodes[0], now, "127.0.0.78:40000", b.0);
    let whisper = Body::Whisper {
        content: vec![b"forged".to_vec()].into(),
    };
    say(
        &mut net.nodes[0],
        now,
        link,
        &mut d,
        ZreMessage::new(999, whisper),
    );
    say(
        &mut net.nodes[0],
        now,
        link,
        &mut d,
        ZreMessage::new(1000, Body::Goodbye),
    );
    net.drain();
    assert_eq!(net.nodes[0].stats().wrong_address, 2);
    assert!(net.nodes[0].is_ready(b));
    assert!(
        !net.kinds(0)
            .iter()
            .any(|k| k.starts_with("EXIT") || k.starts_with("WHISPER")),
        "{:?}",
        net.kinds(0)
    );
    // A message from another address that carries the next sequence number is
    // the peer's own stream going on (a host whose route changed): heard.
    let next = net.nodes[0]
        .peers
        .get(&b)
        .unwrap()
        .want_sequence
        .wrapping_add(1);
    let roamed = Body::Whisper {
        content: vec![b"roamed".to_vec()].into(),
    };
    say(
        &mut net.nodes[0],
        now,
        link,
        &mut d,
        ZreMessage::new(next, roamed),
    );
    net.drain();
    assert_heard(&net, "WHISPER b");
}

#[test]
fn a_huge_forged_hello_is_not_held_while_the_peer_is_asked() {
    let mut net = met_pair();
    let b = net.id(1);
    let now = net.now;
    let (link, mut d) = connect_as(&mut net.nodes[0], now, "127.0.0.77:40000", b.0);
    let mut hello = forged_hello(&net, "127.0.0.77");
    hello.headers = vec![("X-BIG".into(), "x".repeat(2 << 20))];
    say(
        &mut net.nodes[0],
        now,
        link,
        &mut d,
        ZreMessage::new(1, Body::Hello(hello)),
    );
    // Refused at once: nothing parked, nobody pinged.
    assert_eq!(net.nodes[0].stats().takeovers_refused, 1);
    assert!(net.nodes[0].parked.is_empty());
}

#[test]
fn a_peer_that_restarts_elsewhere_is_taken_once_silent_at_its_old_address() {
    let mut net = met_pair();
    let b = net.id(1);
    // Node 1 crashes and comes back with its UUID on another host.
    net.crash(1);
    net.addrs[1] = "127.0.0.42:49153".parse().unwrap();
    net.nodes[1] = Engine::new(named(1), b);
    net.start(1);
    net.run_for(Duration::from_secs(1));
    // Parked: node 0 still has it at the old address.
    assert_eq!(
        net.nodes[0].peer(b).unwrap().endpoint,
        "tcp://127.0.0.2:49153"
    );
    net.run_for(Duration::from_secs(10));
    assert_eq!(
        net.nodes[0].peer(b).unwrap().endpoint,
        "tcp://127.0.0.42:49153"
    );
    assert!(net.nodes[0].is_ready(b));
    assert_eq!(net.nodes[0].stats().takeovers_refused, 0);
    let a = net.id(0);
    assert!(net.nodes[1].whisper(a, &[b"back".to_vec()].into()));
    net.drain();
    assert_heard(&net, "WHISPER b");
}

#[test]
fn a_strangers_connection_under_a_peers_identity_does_not_cut_the_peers() {
    let mut net = met_pair();
    let b = net.id(1);
    let now = net.now;
    // Node 1's inbox connection into node 0 (libzmq's ROUTER_HANDOVER would close
    // it for any newcomer under the same routing id).
    let real: Vec<LinkId> = net
        .pipes
        .iter()
        .filter(|((i, _), (j, _))| *i == 1 && *j == 0)
        .map(|(_, (_, l))| *l)
        .collect();
    let (_link, _d) = connect_as(&mut net.nodes[0], now, "127.0.0.77:40000", b.0);
    let outs: Vec<Output> = std::iter::from_fn(|| net.nodes[0].poll_output()).collect();
    for l in &real {
        assert!(!outs.contains(&Output::Close { link: *l }), "{outs:?}");
    }
    // Node 1 still speaks on it.
    let a = net.id(0);
    assert!(net.nodes[1].whisper(a, &[b"still here".to_vec()].into()));
    net.drain();
    assert_heard(&net, "WHISPER b");
}

#[test]
fn connects_to_a_peer_that_never_answers_back_off() {
    let mut net = Net::new(1, named);
    net.start(0);
    let t0 = net.now;
    let e = &mut net.nodes[0];
    // A made-up UUID at an address where nothing listens: every connect fails.
    let b = Beacon::new([0x42; 16], 5999).encode();
    e.handle_datagram(t0, SocketAddr::from(([127, 0, 0, 99], DEFAULT_PORT)), &b);
    let mut connects = Vec::new();
    let mut now = t0;
    while now < t0 + Duration::from_secs(10) {
        while let Some(o) = e.poll_output() {
            if let Output::Connect { link, .. } = o {
                connects.push(now - t0);
                e.handle_closed(now, link, CloseReason::Network);
            }
        }
        now = e.poll_timeout().unwrap();
        e.handle_timeout(now);
    }
    // 100 ms, then twice as long each time up to 3.2 s: 0, 0.1, 0.3, 0.7, 1.5,
    // 3.1, 6.3, 9.5 s (a hundred connects without the backoff).
    let ms: Vec<u128> = connects.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [0, 100, 300, 700, 1500, 3100, 6300, 9500]);
}
