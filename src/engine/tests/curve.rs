//! CURVE links in memory: the handshake, boxes both ways, and every way a peer
//! can get it wrong.

use crate::engine::curve::CurveKeys;
use crate::engine::link::{Link, LinkError, LinkEvent};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A client and a server with fresh keys; `wrong` gives the client another
/// server key.
fn pair(seed: u64, wrong: bool) -> (Link, Link, CurveKeys, CurveKeys) {
    let mut r = rng(seed);
    let server = CurveKeys::generate(&mut r);
    let client = CurveKeys::generate(&mut r);
    let target = if wrong {
        *CurveKeys::generate(&mut r).public()
    } else {
        *server.public()
    };
    let d = Link::curve_dealer(b"\x01client", 1 << 20, client.clone(), target, &mut r);
    let s = Link::curve_router(1 << 20, server.clone(), &mut r);
    (d, s, client, server)
}

/// Moves bytes both ways until neither has more to say; the events each saw.
fn pump(a: &mut Link, b: &mut Link) -> (Vec<LinkEvent>, Vec<LinkEvent>) {
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let x = a.take_output();
        let y = b.take_output();
        if x.is_empty() && y.is_empty() {
            break;
        }
        b.handle_bytes(&x);
        a.handle_bytes(&y);
        while let Ok(Some(e)) = b.poll() {
            eb.push(e);
        }
        while let Ok(Some(e)) = a.poll() {
            ea.push(e);
        }
    }
    (ea, eb)
}

#[test]
fn handshake_then_messages_both_ways() {
    let (mut d, mut s, client, server) = pair(1, false);
    d.send(&[&b"early"[..]]); // held, then sealed
    let (ed, es) = pump(&mut d, &mut s);
    assert!(matches!(&ed[0], LinkEvent::Ready { socket_type, .. } if socket_type == "ROUTER"));
    assert!(
        matches!(&es[0], LinkEvent::Ready { identity, socket_type } if identity == b"\x01client" && socket_type == "DEALER")
    );
    assert_eq!(es[1], LinkEvent::Message(vec![b"early".to_vec()]));
    assert_eq!(s.peer_key(), Some(client.public()));
    assert_eq!(d.peer_key(), Some(server.public()));
    let big = vec![7u8; 70_000];
    d.send(&[b"a".to_vec(), vec![], big.clone()]);
    s.send_parts(b"head", &[b"tail".to_vec()]);
    let (ed, es) = pump(&mut d, &mut s);
    assert_eq!(
        es,
        vec![LinkEvent::Message(vec![b"a".to_vec(), vec![], big])]
    );
    assert_eq!(
        ed,
        vec![LinkEvent::Message(vec![b"head".to_vec(), b"tail".to_vec()])]
    );
}

#[test]
fn the_wire_carries_no_clear_text() {
    let (mut d, mut s, _, _) = pair(2, false);
    pump(&mut d, &mut s);
    let secret = b"attack at dawn, the password is swordfish";
    d.send(&[&secret[..]]);
    let wire = d.take_output();
    assert!(!wire.windows(6).any(|w| secret.windows(6).any(|x| x == w)));
    s.handle_bytes(&wire);
    assert_eq!(
        s.poll(),
        Ok(Some(LinkEvent::Message(vec![secret.to_vec()])))
    );
}

#[test]
fn a_client_with_the_wrong_server_key_fails_on_both_sides() {
    let (mut d, mut s, _, _) = pair(3, true);
    s.handle_bytes(&d.take_output());
    assert!(matches!(s.poll(), Err(LinkError::Security(_))));
    // The server said nothing the client could take for a WELCOME.
    d.handle_bytes(&s.take_output());
    assert!(matches!(d.poll(), Ok(None) | Err(_)));
    assert!(!d.is_ready());
}

#[test]
fn replayed_and_forged_messages_are_refused() {
    let (mut d, mut s, _, _) = pair(4, false);
    pump(&mut d, &mut s);
    d.send(&[&b"once"[..]]);
    let wire = d.take_output();
    s.handle_bytes(&wire);
    assert!(matches!(s.poll(), Ok(Some(LinkEvent::Message(_)))));
    s.handle_bytes(&wire);
    assert_eq!(
        s.poll(),
        Err(LinkError::Security("CURVE nonce not increasing (replay?)"))
    );
    // A flipped bit in a box.
    let (mut d, mut s, _, _) = pair(5, false);
    pump(&mut d, &mut s);
    d.send(&[&b"twice"[..]]);
    let mut wire = d.take_output();
    let last = wire.len() - 1;
    wire[last] ^= 1;
    s.handle_bytes(&wire);
    assert!(matches!(s.poll(), Err(LinkError::Security(_))));
}

#[test]
fn a_null_peer_and_clear_frames_are_refused() {
    let mut r = rng(6);
    let server = CurveKeys::generate(&mut r);
    let mut s = Link::curve_router(1 << 20, server, &mut r);
    let mut plain = Link::dealer(b"x", 1 << 20);
    s.handle_bytes(&plain.take_output());
    assert!(s.poll().is_err(), "a NULL greeting");
    // Commands out of order: the server gets a READY where a HELLO belongs.
    let (mut d, mut s, _, _) = pair(7, false);
    let mut hello = d.take_output();
    hello.truncate(64);
    s.handle_bytes(&hello);
    assert_eq!(s.poll(), Ok(None));
    let mut ready = Vec::new();
    crate::wire::zmtp::Command::Unknown {
        name: b"READY".to_vec(),
        data: vec![0; 30],
    }
    .encode_into(&mut ready)
    .unwrap();
    s.handle_bytes(&ready);
    assert_eq!(
        s.poll(),
        Err(LinkError::Security("CURVE: command out of order"))
    );
}

#[test]
fn ping_inside_a_box_is_answered_inside_one() {
    let (mut d, mut s, _, _) = pair(8, false);
    pump(&mut d, &mut s);
    // What libzmq sends as a heartbeat on a CURVE link: PING sealed with the
    // COMMAND flag.
    let ping = crate::wire::zmtp::Command::Ping {
        ttl: 0,
        context: b"ctx".to_vec(),
    }
    .encode()
    .unwrap();
    d.send_command_sealed(&ping);
    s.handle_bytes(&d.take_output());
    assert_eq!(s.poll(), Ok(None));
    let pong = s.take_output();
    assert!(pong.len() > 30, "a sealed PONG");
    assert!(
        !pong.windows(4).any(|w| w == b"PONG"),
        "sealed, not in clear"
    );
    d.handle_bytes(&pong);
    assert_eq!(d.poll(), Ok(None), "the PONG is absorbed");
}

proptest! {
    /// The whole exchange, every byte stream cut at arbitrary points.
    #[test]
    fn handshake_split_anywhere(seed in 0u64..1000, cuts in proptest::collection::vec(1usize..200, 1..20)) {
        let (mut d, mut s, _, _) = pair(seed, false);
        d.send(&[&b"over the split"[..]]);
        let mut got = Vec::new();
        /// Feeds `bytes` to `to` in pieces; the events it yields.
        fn feed(to: &mut Link, bytes: &[u8], cuts: &[usize]) -> Vec<LinkEvent> {
            let mut events = Vec::new();
            let mut rest = bytes;
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                to.handle_bytes(&rest[..n]);
                rest = &rest[n..];
                i += 1;
                while let Some(e) = to.poll().unwrap() {
                    events.push(e);
                }
            }
            events
        }
        for _ in 0..6 {
            let to_server = d.take_output();
            got.extend(feed(&mut s, &to_server, &cuts));
            let to_client = s.take_output();
            feed(&mut d, &to_client, &cuts);
        }
        prop_assert_eq!(got.len(), 2);
        prop_assert_eq!(&got[1], &LinkEvent::Message(vec![b"over the split".to_vec()]));
    }

    /// Random bytes after a real greeting never panic a server or a client.
    #[test]
    fn garbage_never_panics(seed in 0u64..1000, junk in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (mut d, mut s, _, _) = pair(seed, false);
        let mut hello = d.take_output();
        hello.truncate(64);
        s.handle_bytes(&hello);
        s.handle_bytes(&junk);
        while let Ok(Some(_)) = s.poll() {}
        let greeting = s.take_output();
        d.handle_bytes(&greeting);
        d.handle_bytes(&junk);
        while let Ok(Some(_)) = d.poll() {}
    }
}
