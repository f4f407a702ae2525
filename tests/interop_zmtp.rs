//! zmesh's ZMTP link layer against real libzmq (pyzmq's bundled libzmq), on
//! 127.0.0.1 only: a zmesh DEALER talks to a libzmq ROUTER, and libzmq DEALERs talk
//! to a zmesh ROUTER, with empty frames, frames over 255 bytes, many-frame messages,
//! generated identities and handover. The driver here is a plain non-blocking loop
//! over std sockets: the link layer itself never touches a socket.

mod common;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{hex, unhex, Helper};
use serde_json::json;
use zmesh::engine::link::{Link, LinkEvent, Router, RouterEvent};
use zmesh::engine::LinkId;

fn messages() -> Vec<Vec<Vec<u8>>> {
    vec![
        vec![b"hello".to_vec()],
        vec![vec![]],
        vec![vec![0xab; 300]],
        (0..20u8).map(|i| vec![i; i as usize * 20]).collect(),
        vec![vec![], b"x".to_vec(), vec![]],
        vec![vec![7; 70_000]],
    ]
}

fn frames_of(v: &serde_json::Value) -> Vec<Vec<u8>> {
    v["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| unhex(f.as_str().unwrap()))
        .collect()
}

/// Reads what is available (non-blocking), returning the bytes and whether the
/// peer closed.
fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> Option<usize> {
    match s.read(buf) {
        Ok(0) => panic!("peer closed the connection"),
        Ok(n) => Some(n),
        Err(e) if e.kind() == ErrorKind::WouldBlock => None,
        Err(e) => panic!("read failed: {e}"),
    }
}

fn write_all(s: &mut TcpStream, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match s.write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
}

#[test]
fn zmesh_dealer_to_libzmq_router() {
    let Some(python) = common::python() else {
        return;
    };
    let mut py = Helper::spawn(&python, "zmtp_peer.py", &["router".into()]);
    let port = py.wait("BOUND", |v| v["type"] == "BOUND")["port"]
        .as_u64()
        .unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", port as u16)).unwrap();
    stream.set_nonblocking(true).unwrap();
    let mut identity = vec![0x01];
    identity.extend(0x10..0x20u8);
    let mut link = Link::dealer(&identity, 1 << 20);
    let sent = messages();
    for m in &sent {
        link.send(m);
    }
    let mut buf = vec![0u8; 65536];
    // Read before writing anything: libzmq sends only its 10-byte signature until
    // it hears ours, so the link first sees a partial greeting.
    let end = Instant::now() + Duration::from_secs(30);
    let first_read = loop {
        assert!(Instant::now() < end, "libzmq sent nothing");
        if let Some(n) = read_some(&mut stream, &mut buf) {
            link.handle_bytes(&buf[..n]);
            assert_eq!(link.poll(), Ok(None));
            break Some(n);
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut echoed = Vec::new();
    let mut ready = false;
    let end = Instant::now() + Duration::from_secs(30);
    while echoed.len() < sent.len() {
        assert!(Instant::now() < end, "echoes missing: got {}", echoed.len());
        write_all(&mut stream, &link.take_output());
        match read_some(&mut stream, &mut buf) {
            Some(n) => {
                link.handle_bytes(&buf[..n]);
                while let Some(ev) = link.poll().expect("link stays healthy") {
                    match ev {
                        LinkEvent::Ready {
                            socket_type,
                            identity,
                        } => {
                            assert_eq!(socket_type, "ROUTER");
                            assert!(
                                identity.is_empty(),
                                "libzmq's ROUTER sends an empty identity"
                            );
                            ready = true;
                        }
                        LinkEvent::Message(f) => echoed.push(f),
                    }
                }
            }
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    assert!(ready);
    // libzmq sends its greeting in pieces: the first read held less than 64 bytes.
    assert!(first_read.unwrap() < 64, "first read was {first_read:?}");
    assert_eq!(echoed, sent);
    for m in &sent {
        let got = py.wait("MSG", |v| v["type"] == "MSG");
        let frames = frames_of(&got);
        assert_eq!(frames[0], identity, "ROUTER saw our identity");
        assert_eq!(&frames[1..], &m[..]);
    }
}

/// A single-threaded ROUTER listener over non-blocking std sockets.
struct Listener {
    listener: TcpListener,
    streams: BTreeMap<LinkId, TcpStream>,
    router: Router,
    next: u64,
    /// Size of the first read on each link, made before our greeting went out.
    first_reads: BTreeMap<LinkId, usize>,
    received: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    replaced: Vec<LinkId>,
    links: BTreeMap<Vec<u8>, LinkId>,
}

impl Listener {
    fn new() -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Listener {
            listener,
            streams: BTreeMap::new(),
            router: Router::new(1 << 20),
            next: 1,
            first_reads: BTreeMap::new(),
            received: Vec::new(),
            replaced: Vec::new(),
            links: BTreeMap::new(),
        }
    }

    /// One turn: accept, read, echo every message back to its sender, write.
    fn turn(&mut self) {
        while let Ok((s, _)) = self.listener.accept() {
            s.set_nonblocking(true).unwrap();
            let id = LinkId(self.next);
            self.next += 1;
            self.router.accept(id);
            self.streams.insert(id, s);
        }
        let mut buf = vec![0u8; 65536];
        let ids: Vec<LinkId> = self.streams.keys().copied().collect();
        for id in ids {
            let s = self.streams.get_mut(&id).unwrap();
            if self.first_reads.contains_key(&id) {
                write_all(s, &self.router.take_output(id));
            }
            let n = match s.read(&mut buf) {
                Ok(0) => {
                    self.streams.remove(&id);
                    self.router.remove(id);
                    continue;
                }
                Ok(n) => n,
                Err(_) => continue,
            };
            self.first_reads.entry(id).or_insert(n);
            let mut events = Vec::new();
            self.router
                .handle_bytes(id, &buf[..n], &mut events)
                .expect("healthy link");
            for ev in events {
                match ev {
                    RouterEvent::Connected { link, identity } => {
                        self.links.insert(identity, link);
                    }
                    RouterEvent::Replaced { old } => {
                        self.streams.remove(&old);
                        self.replaced.push(old);
                    }
                    RouterEvent::Message { link, frames } => {
                        let identity = self.router.identity(link).unwrap().to_vec();
                        assert!(self.router.send(&identity, &frames.to_vec()));
                        self.received.push((identity, frames.to_vec()));
                    }
                }
            }
        }
    }

    fn run_until(&mut self, what: &str, mut done: impl FnMut(&Listener) -> bool) {
        let end = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}: received {}, replaced {:?}, first reads {:?}",
                self.received.len(),
                self.replaced,
                self.first_reads
            );
            self.turn();
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn libzmq_dealers_to_zmesh_router() {
    let Some(python) = common::python() else {
        return;
    };
    let mut l = Listener::new();
    let port = l.listener.local_addr().unwrap().port();
    let mut py = Helper::spawn(
        &python,
        "zmtp_peer.py",
        &["dealers".into(), port.to_string()],
    );
    let mut zre_id = vec![0x01];
    zre_id.extend([0x42; 16]);
    let ids = [zre_id.clone(), b"node-b".to_vec(), Vec::new()];
    for id in &ids {
        py.send(json!({"cmd": "connect", "identity": hex(id)}));
    }
    let sent = messages();
    for d in 0..3 {
        for m in &sent {
            let frames: Vec<String> = m.iter().map(|f| hex(f)).collect();
            py.send(json!({"cmd": "send", "dealer": d, "frames": frames}));
        }
    }
    l.run_until("all messages", |l| l.received.len() == 3 * sent.len());
    // Per identity, in order; the anonymous dealer got a generated 00+counter id.
    for (d, id) in ids.iter().enumerate() {
        let from: Vec<_> = if id.is_empty() {
            l.received
                .iter()
                .filter(|(i, _)| i.len() == 5 && i[0] == 0)
                .collect()
        } else {
            l.received.iter().filter(|(i, _)| i == id).collect()
        };
        assert_eq!(from.len(), sent.len(), "dealer {d}");
        for ((_, got), want) in from.iter().zip(&sent) {
            assert_eq!(got, want);
        }
    }
    // libzmq's greetings arrived in pieces and were handled.
    assert!(
        l.first_reads.values().all(|&n| n < 64),
        "{:?}",
        l.first_reads
    );
    // Every dealer got its own echoes back through the ROUTER.
    l.run_until("echoes", |_| {
        py.poll_lines();
        py.seen.iter().filter(|v| v["type"] == "MSG").count() == 3 * sent.len()
    });
    for d in 0..3 {
        for m in &sent {
            let v = py.wait("echo", |v| v["type"] == "MSG" && v["dealer"] == d);
            assert_eq!(&frames_of(&v), m);
        }
    }

    // Handover: a new connection with a known identity takes over the routing.
    let old_link = l.links[&zre_id];
    py.send(json!({"cmd": "connect", "identity": hex(&zre_id)}));
    py.send(json!({"cmd": "send", "dealer": 3, "frames": [hex(b"from the new one")]}));
    l.run_until("handover", |l| {
        py.poll_lines();
        l.received.len() == 3 * sent.len() + 1
            && py
                .seen
                .iter()
                .any(|v| v["type"] == "MSG" && v["dealer"] == 3)
    });
    assert_eq!(l.replaced, vec![old_link]);
    assert_ne!(l.links[&zre_id], old_link);
    let v = py.wait("echo on the new dealer", |v| {
        v["type"] == "MSG" && v["dealer"] == 3
    });
    assert_eq!(frames_of(&v), vec![b"from the new one".to_vec()]);
    assert!(!py
        .seen
        .iter()
        .any(|v| v["type"] == "MSG" && v["dealer"] == 0));
}
