//! A neighbour on another address opens a connection into a node's inbox under a
//! live peer's routing id and says HELLO naming its own address, then GOODBYE (what
//! a libzmq DEALER can do against Zyre, which takes it as the peer restarting):
//! the node asks the peer, the peer answers, and the claim is refused. The peer
//! keeps its place and its messages. Loopback only, a beacon port of its own.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::zmtp::handshake;
use socket2::{Domain, Socket, Type};
use zmesh::engine::link::Link;
use zmesh::wire::zre::{Body, Hello, ZreMessage};
use zmesh::{Event, Node};

mod common;

const PORT: u16 = 46505;

fn node(name: &str) -> Node {
    let mut n = Node::new(name);
    n.set_interface("lo");
    n.set_port(PORT);
    n.set_interval(Duration::from_millis(100));
    n
}

/// A TCP connection to `to` from 127.0.0.77, speaking ZMTP as a DEALER under
/// `identity`.
fn stranger(to: SocketAddr, identity: &[u8]) -> (TcpStream, Link) {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::from(([127, 0, 0, 77], 0)).into())
        .unwrap();
    s.connect(&to.into()).unwrap();
    let mut tcp: TcpStream = s.into();
    let mut d = Link::dealer(identity, 1 << 20);
    handshake(&mut tcp, &mut d);
    (tcp, d)
}

#[test]
fn a_forged_hello_from_another_address_is_refused() {
    let mut a = node("target");
    let mut b = node("real");
    a.start().unwrap();
    b.start().unwrap();
    let (ra, rb) = (a.events(), b.events());
    let end = Instant::now() + Duration::from_secs(20);
    while !a.peers().unwrap().contains(&b.uuid()) || !b.peers().unwrap().contains(&a.uuid()) {
        assert!(Instant::now() < end, "the two never met");
        std::thread::sleep(Duration::from_millis(20));
    }
    // What the meeting said is not the attack's doing.
    std::thread::sleep(Duration::from_millis(300));
    while ra.try_recv().is_ok() {}
    let b_endpoint = a.peer(b.uuid()).unwrap().unwrap().endpoint;
    let inbox: SocketAddr = a.endpoint().unwrap()["tcp://".len()..].parse().unwrap();
    let port = b_endpoint.rsplit(':').next().unwrap();
    let mut identity = vec![1u8];
    identity.extend_from_slice(b.uuid().as_bytes());
    let (mut tcp, mut d) = stranger(inbox, &identity);
    let hello = Hello {
        endpoint: format!("tcp://127.0.0.77:{port}"),
        groups: vec!["evil".into()],
        status: 0,
        name: "real".into(),
        headers: Vec::new(),
    };
    d.send(&ZreMessage::new(1, Body::Hello(hello)).encode().unwrap());
    d.send(&ZreMessage::new(2, Body::Goodbye).encode().unwrap());
    tcp.write_all(&d.take_output()).unwrap();
    // The claim is refused once the real peer answers the node's PING.
    let end = Instant::now() + Duration::from_secs(20);
    while a.stats().unwrap().takeovers_refused == 0 {
        assert!(Instant::now() < end, "{:?}", a.stats().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(b.whisper(a.uuid(), vec![b"still me".to_vec()]).is_ok());
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let e = ra
            .recv_timeout(end.saturating_duration_since(Instant::now()))
            .expect("the real peer's whisper");
        assert!(
            !matches!(e, Event::Exit { .. } | Event::Enter { .. }),
            "the peer was replaced: {e:?}"
        );
        if let Event::Whisper { peer, .. } = e {
            assert_eq!(peer, b.uuid());
            break;
        }
    }
    let p = a.peer(b.uuid()).unwrap().unwrap();
    assert_eq!(p.endpoint, b_endpoint);
    assert!(!p.groups.contains("evil"));
    drop(rb);
    a.stop();
    b.stop();
}
