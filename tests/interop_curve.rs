//! zmesh's CURVE links against libzmq's CURVE mechanism (pyzmq's bundled libzmq),
//! on 127.0.0.1 only: a zmesh client (DEALER) with a libzmq CURVE server (ROUTER),
//! a libzmq client with a zmesh server, and a client that has the wrong server key
//! on each side. Multipart messages with empty and large frames go both ways.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{hex, unhex, Helper};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;
use zmesh::engine::curve::CurveKeys;
use zmesh::engine::link::{Link, LinkError, LinkEvent};
use zmesh::wire::z85;

fn messages() -> Vec<Vec<Vec<u8>>> {
    vec![
        vec![b"hello".to_vec()],
        vec![vec![], b"x".to_vec(), vec![]],
        vec![vec![0xab; 300]],
        vec![vec![7; 70_000], b"tail".to_vec()],
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

/// Drives `link` over `stream` until `want` events have come, or the link fails
/// or the peer closes (Err then), within a generous deadline.
fn drive(stream: &mut TcpStream, link: &mut Link, want: usize) -> Result<Vec<LinkEvent>, String> {
    stream.set_nonblocking(true).unwrap();
    let mut events = Vec::new();
    let mut buf = vec![0u8; 65536];
    let end = Instant::now() + Duration::from_secs(20);
    while events.len() < want {
        assert!(Instant::now() < end, "timed out with {events:?}");
        let mut out = &link.take_output()[..];
        while !out.is_empty() {
            match stream.write(out) {
                Ok(n) => out = &out[n..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => return Err(format!("write: {e}")),
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => return Err("closed by the peer".into()),
            Ok(n) => link.handle_bytes(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => return Err(format!("read: {e}")),
        }
        loop {
            match link.poll() {
                Ok(Some(e)) => events.push(e),
                Ok(None) => break,
                Err(e) => return Err(format!("link: {e}")),
            }
        }
    }
    Ok(events)
}

#[test]
fn zmesh_client_to_libzmq_curve_server() {
    let Some(python) = common::python() else {
        return;
    };
    let mut py = Helper::spawn(&python, "curve_peer.py", &["server".into()]);
    let bound = py.wait("BOUND", |v| v["type"] == "BOUND");
    let server_key = z85::decode_key(bound["public"].as_str().unwrap()).unwrap();
    let port = bound["port"].as_u64().unwrap() as u16;
    let mut rng = StdRng::seed_from_u64(1);
    let keys = CurveKeys::generate(&mut rng);
    let mut link = Link::curve_dealer(b"\x01zmesh", 1 << 20, keys, server_key, &mut rng);
    for m in messages() {
        link.send(&m);
    }
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let events = drive(&mut stream, &mut link, 1 + messages().len()).unwrap();
    assert!(matches!(&events[0], LinkEvent::Ready { socket_type, .. } if socket_type == "ROUTER"));
    for (m, e) in messages().iter().zip(&events[1..]) {
        // libzmq saw our identity and the frames as sent, and echoed them.
        let seen = py.wait("MSG", |v| v["type"] == "MSG");
        let mut want = vec![b"\x01zmesh".to_vec()];
        want.extend(m.iter().cloned());
        assert_eq!(frames_of(&seen), want);
        assert_eq!(e, &LinkEvent::Message(m.clone().into()));
    }
}

#[test]
fn libzmq_curve_client_to_zmesh_server() {
    let Some(python) = common::python() else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(2);
    let keys = CurveKeys::generate(&mut rng);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let public = z85::encode(keys.public()).unwrap();
    let mut py = Helper::spawn(
        &python,
        "curve_peer.py",
        &["client".into(), port.to_string(), public],
    );
    let client_key = py.wait("KEYS", |v| v["type"] == "KEYS")["public"]
        .as_str()
        .unwrap()
        .to_string();
    for m in messages() {
        py.send(json!({"cmd": "send", "frames": m.iter().map(|f| hex(f)).collect::<Vec<_>>()}));
    }
    let (mut stream, _) = listener.accept().unwrap();
    let mut link = Link::curve_router(1 << 20, keys, &mut rng);
    let events = drive(&mut stream, &mut link, 1 + messages().len()).unwrap();
    assert!(
        matches!(&events[0], LinkEvent::Ready { identity, socket_type } if identity == b"\x01pyzmq-client" && socket_type == "DEALER")
    );
    assert_eq!(z85::encode(link.peer_key().unwrap()).unwrap(), client_key);
    for (m, e) in messages().iter().zip(&events[1..]) {
        assert_eq!(e, &LinkEvent::Message(m.clone().into()));
        // And back, sealed by zmesh, opened by libzmq.
        link.send(m);
    }
    drive(&mut stream, &mut link, 0).unwrap();
    let mut out = &link.take_output()[..];
    while !out.is_empty() {
        match stream.write(out) {
            Ok(n) => out = &out[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    for m in messages() {
        let got = py.wait("MSG", |v| v["type"] == "MSG");
        assert_eq!(frames_of(&got), m);
    }
}

#[test]
fn a_wrong_server_key_fails_cleanly_on_both_sides() {
    let Some(python) = common::python() else {
        return;
    };
    // zmesh client, libzmq server: the server drops the connection.
    let mut py = Helper::spawn(&python, "curve_peer.py", &["server".into()]);
    let port = py.wait("BOUND", |v| v["type"] == "BOUND")["port"]
        .as_u64()
        .unwrap() as u16;
    let mut rng = StdRng::seed_from_u64(3);
    let wrong = *CurveKeys::generate(&mut rng).public();
    let mut link = Link::curve_dealer(
        b"\x01zmesh",
        1 << 20,
        CurveKeys::generate(&mut rng),
        wrong,
        &mut rng,
    );
    link.send(&[&b"never"[..]]);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let r = drive(&mut stream, &mut link, 1);
    assert!(r.is_err(), "{r:?}");
    assert!(!link.is_ready());
    // libzmq client, zmesh server: zmesh refuses the HELLO.
    let keys = CurveKeys::generate(&mut rng);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut py2 = Helper::spawn(
        &python,
        "curve_peer.py",
        &[
            "client".into(),
            port.to_string(),
            z85::encode(&wrong).unwrap(),
        ],
    );
    py2.wait("KEYS", |v| v["type"] == "KEYS");
    py2.send(json!({"cmd": "send", "frames": [hex(b"never")]}));
    let (mut stream, _) = listener.accept().unwrap();
    let mut link = Link::curve_router(1 << 20, keys, &mut rng);
    let r = drive(&mut stream, &mut link, 1);
    assert!(r.as_ref().is_err_and(|e| e.contains("security")), "{r:?}");
    assert!(matches!(link.poll(), Err(LinkError::Security(_))));
    // The libzmq server never saw a message.
    std::thread::sleep(Duration::from_millis(300));
    py.poll_lines();
    assert!(!py.seen.iter().any(|v| v["type"] == "MSG"));
}
