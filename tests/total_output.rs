//! Many slow peers together cannot hold more of a node's memory than
//! `Options::max_total_output`: two peers that finish their handshake and then
//! read nothing, each well under the per-link bound, are whispered to until the
//! total passes the node's bound, and the node drops the one holding the most
//! (EXIT, reason overflow). Loopback only, a beacon port of its own.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::zmtp::handshake;
use zmesh::engine::link::Link;
use zmesh::net::Options;
use zmesh::wire::zre::{Body, Hello, ZreMessage};
use zmesh::{Event, ExitReason, Node, PeerId};

mod common;

const PORT: u16 = 46506;

/// A peer that says HELLO into `inbox`, takes the node's connection back and then
/// reads nothing more. Returns what must stay open.
fn slow_peer(inbox: SocketAddr, uuid: [u8; 16]) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut out = TcpStream::connect(inbox).unwrap();
    let mut identity = vec![1u8];
    identity.extend_from_slice(&uuid);
    let mut d = Link::dealer(&identity, 1 << 20);
    handshake(&mut out, &mut d);
    let hello = Hello {
        endpoint: format!("tcp://127.0.0.1:{port}"),
        groups: Vec::new(),
        status: 0,
        name: "slow".into(),
        headers: Vec::new(),
    };
    d.send(&ZreMessage::new(1, Body::Hello(hello)).encode().unwrap());
    out.write_all(&d.take_output()).unwrap();
    let (mut back, _) = listener.accept().unwrap();
    let mut r = Link::router(1 << 30);
    handshake(&mut back, &mut r);
    (out, back)
}

#[test]
fn slow_peers_together_are_bounded() {
    let mut a = Node::new("sender");
    a.set_interface("lo");
    a.set_port(PORT);
    let mut o = Options::default();
    o.max_total_output = 4 << 20;
    a.set_options(o);
    a.start().unwrap();
    let events = a.events();
    let inbox: SocketAddr = a.endpoint().unwrap()["tcp://".len()..].parse().unwrap();
    let ids = [PeerId([0x51; 16]), PeerId([0x52; 16])];
    let _held: Vec<_> = ids.iter().map(|id| slow_peer(inbox, id.0)).collect();
    let end = Instant::now() + Duration::from_secs(20);
    while ids.iter().any(|id| !a.peers().unwrap().contains(id)) {
        assert!(Instant::now() < end, "the slow peers never entered");
        std::thread::sleep(Duration::from_millis(20));
    }
    // 16 MiB to each, 4 MiB allowed in all (each far under the 64 MiB per link).
    let chunk = vec![7u8; 1024];
    'send: for _ in 0..16 * 1024 {
        for id in ids {
            if a.whisper(id, vec![chunk.clone()]).is_err() {
                break 'send;
            }
        }
    }
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let e = events
            .recv_timeout(end.saturating_duration_since(Instant::now()))
            .expect("a slow peer dropped for the total bound");
        if let Event::Exit { peer, reason, .. } = e {
            assert!(ids.contains(&peer));
            assert_eq!(reason, ExitReason::Overflow);
            break;
        }
    }
    a.stop();
}
