//! Per-peer figures in virtual time: both ends count the same messages and bytes,
//! an idle peer's PING-OK gives a round trip, a crashed one's silence grows, and
//! our link's reconnects are counted.

use super::*;

#[test]
fn both_ends_count_the_same_traffic() {
    let mut net = Net::new(2, named);
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_secs(2));
    let (a, b) = (net.id(0), net.id(1));
    let before = net.nodes[0].peer(b).unwrap().figures;
    assert!(before.messages_out >= 1, "our HELLO at least: {before:?}");
    let payload = vec![7u8; 1000];
    for _ in 0..5 {
        assert!(net.nodes[0].whisper(b, &[payload.clone(), b"x".to_vec()].into()));
    }
    net.drain();
    let out = net.nodes[0].peer(b).unwrap().figures;
    let inn = net.nodes[1].peer(a).unwrap().figures;
    assert_eq!(out.messages_out, before.messages_out + 5);
    // Each whisper is its 1,001 bytes of content and a ZRE header frame.
    assert!(out.bytes_out >= before.bytes_out + 5 * 1001, "{out:?}");
    assert_eq!(inn.messages_in, out.messages_out);
    assert_eq!(inn.bytes_in, out.bytes_out);
    // And the other way.
    let back = net.nodes[1].peer(a).unwrap().figures;
    assert_eq!(
        net.nodes[0].peer(b).unwrap().figures.messages_in,
        back.messages_out
    );
    assert_eq!(
        net.nodes[0].peer(b).unwrap().figures.bytes_in,
        back.bytes_out
    );
    assert_eq!(out.reconnects, 0);
}

#[test]
fn idle_peers_measure_a_round_trip_and_silence_grows_after_a_crash() {
    let mut net = Net::new(2, |i| {
        named(i)
            .with_evasive_timeout(Duration::from_secs(1))
            .with_expired_timeout(Duration::from_secs(10))
    });
    net.start(0);
    net.start(1);
    net.run_for(Duration::from_millis(500));
    let b = net.id(1);
    assert_eq!(net.nodes[0].peer(b).unwrap().figures.round_trip, None);
    // Quiet for the evasive timeout: PING, answered at once on this network.
    net.run_for(Duration::from_secs(3));
    let f = net.nodes[0].peer(b).unwrap().figures;
    assert_eq!(f.round_trip, Some(Duration::ZERO), "{f:?}");
    assert!(f.since_heard <= Duration::from_secs(2), "{f:?}");

    net.crash(1);
    net.run_for(Duration::from_secs(6));
    let f = net.nodes[0].peer(b).unwrap().figures;
    assert!(f.since_heard >= Duration::from_secs(6), "{f:?}");
    assert!(f.reconnects >= 1, "{f:?}");
}

#[test]
fn the_round_trip_runs_from_the_oldest_unanswered_ping() {
    let t0 = Instant::now();
    let addr: SocketAddr = "127.0.0.1:5670".parse().unwrap();
    let mut p = Peer::new(
        PeerId([1; 16]),
        "tcp://127.0.0.1:5670".into(),
        addr,
        LinkId(1),
        Link::dealer(b"x", 1 << 20),
        t0,
    );
    let mut scratch = crate::engine::peer::Scratch::default();
    p.ping(t0, &mut scratch);
    p.ping(t0 + Duration::from_millis(500), &mut scratch);
    p.pong(t0 + Duration::from_millis(700));
    assert_eq!(p.figures.round_trip(), Some(Duration::from_millis(700)));
    // A PING-OK with no PING outstanding changes nothing.
    p.pong(t0 + Duration::from_secs(9));
    assert_eq!(p.figures.round_trip(), Some(Duration::from_millis(700)));
    assert_eq!(p.figures.messages_out, 2);
}
