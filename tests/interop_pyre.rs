//! zmesh and a real Pyre node (zeromq-pyre from PyPI) on loopback: each sees the
//! other's ENTER (with headers), JOIN, SHOUT, WHISPER, LEAVE and EXIT.

mod common;

use std::time::{Duration, Instant};

use common::{hex, unhex, Helper};
use crossbeam_channel::Receiver;
use serde_json::{json, Value};
use zmesh::{Event, ExitReason, Node, PeerId};

fn wait_event(rx: &Receiver<Event>, pred: impl Fn(&Event) -> bool) -> Event {
    let end = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
            Ok(e) if pred(&e) => return e,
            Ok(e) => seen.push(e),
            Err(_) => panic!("zmesh never saw the event; saw {seen:#?}"),
        }
    }
}

fn of_type<'a>(t: &'a str, peer: &'a str) -> impl Fn(&Value) -> bool + 'a {
    move |v| v["type"] == t && v["peer"] == peer
}

/// Starts both nodes and runs the conversation; returns them still running.
fn meet(port: u16) -> Option<(Node, Helper, PeerId)> {
    let python = common::python()?;
    let mut py = Helper::spawn(
        &python,
        "pyre_peer.py",
        &[
            "pyre1".into(),
            port.to_string(),
            "X-PYRE=yes".into(),
            "+EARLY-PY".into(),
        ],
    );
    let started = py.wait("STARTED", |v| v["type"] == "STARTED");
    let pyre_id: PeerId = started["peer"].as_str().unwrap().parse().unwrap();

    let mut z = Node::new("zmesh1");
    z.set_interface("lo");
    z.set_port(port);
    z.set_header("X-ZMESH", "yes");
    z.join("EARLY-Z").unwrap();
    z.start().unwrap();
    let rx = z.events();
    let zid = z.uuid().to_string();

    // ENTER both ways, with headers.
    let enter = wait_event(&rx, |e| e.kind() == "ENTER" && e.peer() == pyre_id);
    match enter {
        Event::Enter {
            name,
            headers,
            endpoint,
            ..
        } => {
            assert_eq!(name, "pyre1");
            assert_eq!(headers.get("X-PYRE").map(String::as_str), Some("yes"));
            assert!(endpoint.starts_with("tcp://127.0.0.1:"), "{endpoint}");
        }
        _ => unreachable!(),
    }
    let penter = py.wait("ENTER", of_type("ENTER", &zid));
    assert_eq!(penter["name"], "zmesh1");
    assert_eq!(penter["headers"]["X-ZMESH"], "yes");
    assert_eq!(penter["endpoint"].as_str(), z.endpoint());

    // Groups joined before start travel in HELLO and arrive as JOINs.
    let j = py.wait("JOIN from HELLO", of_type("JOIN", &zid));
    assert_eq!(j["group"], "EARLY-Z");
    wait_event(
        &rx,
        |e| matches!(e, Event::Join { group, .. } if group == "EARLY-PY"),
    );
    assert_eq!(z.peers_by_group("EARLY-PY").unwrap(), vec![pyre_id]);

    // JOIN both ways.
    py.send(json!({"cmd": "join", "group": "CHAT"}));
    wait_event(
        &rx,
        |e| matches!(e, Event::Join { group, .. } if group == "CHAT"),
    );
    z.join("CHAT").unwrap();
    let j = py.wait("JOIN", of_type("JOIN", &zid));
    assert_eq!(j["group"], "CHAT");

    // SHOUT both ways, multi-frame, with a frame over 255 bytes.
    let big = vec![0x5a; 700];
    z.shout("CHAT", vec![b"from zmesh".to_vec(), big.clone()])
        .unwrap();
    let s = py.wait("SHOUT", of_type("SHOUT", &zid));
    assert_eq!(s["group"], "CHAT");
    assert_eq!(s["payload"], json!([hex(b"from zmesh"), hex(&big)]));
    py.send(json!({"cmd": "shout", "group": "CHAT", "frames": [hex(b"from pyre"), ""]}));
    let s = wait_event(&rx, |e| e.kind() == "SHOUT");
    assert_eq!(s.group(), Some("CHAT"));
    assert_eq!(s.content().unwrap(), &[b"from pyre".to_vec(), vec![]]);

    // WHISPER both ways.
    z.whisper(pyre_id, vec![b"psst".to_vec(), b"2".to_vec()])
        .unwrap();
    let w = py.wait("WHISPER", of_type("WHISPER", &zid));
    assert_eq!(w["payload"], json!([hex(b"psst"), hex(b"2")]));
    py.send(json!({"cmd": "whisper", "peer": zid, "frames": [hex(b"back")]}));
    let w = wait_event(&rx, |e| e.kind() == "WHISPER");
    assert_eq!(unhex(&hex(&w.content().unwrap()[0])), b"back");

    // LEAVE both ways.
    z.leave("CHAT").unwrap();
    py.wait("LEAVE", of_type("LEAVE", &zid));
    py.send(json!({"cmd": "leave", "group": "CHAT"}));
    wait_event(
        &rx,
        |e| matches!(e, Event::Leave { group, .. } if group == "CHAT"),
    );
    assert_eq!(z.stats().unwrap().malformed, 0);
    Some((z, py, pyre_id))
}

#[test]
fn pyre_and_zmesh_converse_then_zmesh_stops() {
    let Some((mut z, mut py, _)) = meet(46201) else {
        return;
    };
    let zid = z.uuid().to_string();
    z.stop();
    py.wait("EXIT", of_type("EXIT", &zid));
}

#[test]
fn pyre_and_zmesh_converse_then_pyre_stops() {
    let Some((z, mut py, pyre_id)) = meet(46202) else {
        return;
    };
    py.send(json!({"cmd": "stop"}));
    py.wait("STOPPED", |v| v["type"] == "STOPPED");
    let exit = wait_event(&z.events(), |e| e.kind() == "EXIT" && e.peer() == pyre_id);
    assert!(matches!(
        exit,
        Event::Exit {
            reason: ExitReason::Left,
            ..
        }
    ));
}
