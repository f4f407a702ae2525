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
    assert_eq!(es[1], LinkEvent::Message(vec![b"early".to_vec()].into()));
    assert_eq!(s.peer_key(), Some(client.public()));
    assert_eq!(d.peer_key(), Some(server.public()));
    let big = vec![7u8; 70_000];
    d.send(&[b"a".to_vec(), vec![], big.clone()]);
    s.send_parts(b"head", &[b"tail".to_vec()].into());
    let (ed, es) = pump(&mut d, &mut s);
    assert_eq!(
        es,
        vec![LinkEvent::Message(vec![b"a".to_vec(), vec![], big].into())]
    );
    assert_eq!(
        ed,
        vec![LinkEvent::Message(
            vec![b"head".to_vec(), b"tail".to_vec()].into()
        )]
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
        Ok(Some(LinkEvent::Message(vec![secret.to_vec()].into())))
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
        prop_assert_eq!(&got[1], &LinkEvent::Message(vec![b"over the split".to_vec()].into()));
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

/// Every command's layout, byte for byte where the bytes are not random (RFC 26,
/// and the sizes libzmq checks).
#[test]
fn command_layouts() {
    use crate::wire::zmtp::{split_frames, Greeting};
    let mut r = rng(10);
    let server = CurveKeys::generate(&mut r);
    let client = CurveKeys::generate(&mut r);
    let mut d = Link::curve_dealer(b"\x01c", 1 << 20, client, *server.public(), &mut r);
    let mut s = Link::curve_router(1 << 20, server, &mut r);
    // The client's greeting names CURVE without as-server; the server's sets it.
    let out = d.take_output();
    assert_eq!(&out[..64], &Greeting::curve(false).encode()[..]);
    assert_eq!(&out[12..17], b"CURVE");
    assert_eq!(out[32], 0);
    // HELLO: a command frame of 200 bytes.
    assert_eq!(&out[64..66], &[0x04, 200]);
    let hello = &out[66..];
    assert_eq!(hello.len(), 200);
    assert_eq!(&hello[..6], b"\x05HELLO");
    assert_eq!(&hello[6..8], &[1, 0], "version 1.0");
    assert!(hello[8..80].iter().all(|&b| b == 0), "72 bytes of padding");
    assert_eq!(
        &hello[112..120],
        &1u64.to_be_bytes(),
        "the first short nonce"
    );
    let greeting = s.take_output();
    assert_eq!(greeting[32], 1, "the server's greeting says as-server");
    s.handle_bytes(&out);
    assert_eq!(s.poll(), Ok(None));
    // WELCOME: 168 bytes.
    let welcome = s.take_output();
    assert_eq!(&welcome[..2], &[0x04, 168]);
    assert_eq!(&welcome[2..10], b"\x07WELCOME");
    d.handle_bytes(&greeting);
    d.handle_bytes(&welcome);
    assert_eq!(d.poll(), Ok(None));
    // INITIATE: 257 bytes plus the metadata (Socket-Type DEALER, Identity 01 63).
    let initiate = d.take_output();
    let meta = 1 + 11 + 4 + 6 + 1 + 8 + 4 + 2;
    assert_eq!(initiate[0], 0x04 | 0x02, "a long command frame");
    assert_eq!(&initiate[1..9], &((257 + meta) as u64).to_be_bytes());
    assert_eq!(&initiate[9..18], b"\x08INITIATE");
    assert_eq!(
        &initiate[9 + 105..9 + 113],
        &2u64.to_be_bytes(),
        "the second short nonce"
    );
    s.handle_bytes(&initiate);
    assert!(matches!(s.poll(), Ok(Some(LinkEvent::Ready { .. }))));
    // READY: 30 bytes plus the metadata (Socket-Type ROUTER, an empty Identity).
    let ready = s.take_output();
    let meta = 1 + 11 + 4 + 6 + 1 + 8 + 4;
    assert_eq!(&ready[..2], &[0x04, (30 + meta) as u8]);
    assert_eq!(&ready[2..8], b"\x05READY");
    assert_eq!(&ready[8..16], &1u64.to_be_bytes());
    d.handle_bytes(&ready);
    assert!(matches!(d.poll(), Ok(Some(LinkEvent::Ready { .. }))));
    // MESSAGE: a data frame of 33 bytes plus the frame's, one per frame.
    d.send(&[b"ab".to_vec(), b"c".to_vec()]);
    let msgs = d.take_output();
    let frames = split_frames(&msgs).unwrap();
    assert_eq!(frames.len(), 2, "one MESSAGE per frame");
    for ((more, body), (len, nonce)) in frames.iter().zip([(2usize, 3u64), (1, 4)]) {
        assert!(!more, "the MORE flag travels inside the box");
        assert_eq!(msgs[0] & 0x04, 0, "a data frame");
        assert_eq!(body.len(), 33 + len);
        assert_eq!(&body[..8], b"\x07MESSAGE");
        assert_eq!(&body[8..16], &nonce.to_be_bytes());
    }
}
