//! One conversation between a zmesh node and another implementation's node driven
//! by a helper (Pyre, Zyre C): the same checks whichever implementation it is.

use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use serde_json::{json, Value};
use zmesh::{Event, Node, PeerId};

use super::{hex, Helper};

/// The header and the group joined before start that both sides use.
pub const OTHER_HEADER: (&str, &str) = ("X-OTHER", "yes");
/// Joined by the other node before it starts.
pub const OTHER_EARLY: &str = "EARLY-OTHER";

/// Waits (generously) for a zmesh event matching `pred`.
pub fn wait_event(rx: &Receiver<Event>, pred: impl Fn(&Event) -> bool) -> Event {
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

/// Matches a helper line of type `t` about `peer`.
pub fn of_type<'a>(t: &'a str, peer: &'a str) -> impl Fn(&Value) -> bool + 'a {
    move |v| v["type"] == t && v["peer"] == peer
}

/// The arguments that give the other node [`OTHER_HEADER`] and [`OTHER_EARLY`].
pub fn other_args() -> Vec<String> {
    vec![
        format!("{}={}", OTHER_HEADER.0, OTHER_HEADER.1),
        format!("+{OTHER_EARLY}"),
    ]
}

/// A started zmesh node with header `X-ZMESH: yes` and group `EARLY-Z` joined
/// before start.
pub fn zmesh_node(name: &str, interface: &str, port: u16) -> Node {
    let mut z = Node::new(name);
    z.set_interface(interface);
    z.set_port(port);
    z.set_header("X-ZMESH", "yes").unwrap();
    z.join("EARLY-Z").unwrap();
    z.start().unwrap();
    z
}

/// ENTER both ways (headers, endpoints), HELLO groups as JOINs, JOIN, SHOUT and
/// WHISPER both ways (multi-frame, empty and > 255-byte frames), LEAVE both ways.
/// `other` is the helper driving a node called `other_name`, started with
/// [`other_args`]; its endpoint must start with `endpoint_prefix`.
pub fn converse(
    other: &mut Helper,
    other_id: PeerId,
    other_name: &str,
    endpoint_prefix: &str,
    z: &Node,
) {
    let rx = z.events();
    let zid = z.uuid().to_string();

    let enter = wait_event(&rx, |e| e.kind() == "ENTER" && e.peer() == other_id);
    match enter {
        Event::Enter {
            name,
            headers,
            endpoint,
            ..
        } => {
            assert_eq!(name, other_name);
            assert_eq!(
                headers.get(OTHER_HEADER.0).map(String::as_str),
                Some(OTHER_HEADER.1)
            );
            assert!(endpoint.starts_with(endpoint_prefix), "{endpoint}");
        }
        _ => unreachable!(),
    }
    let penter = other.wait("ENTER", of_type("ENTER", &zid));
    assert_eq!(penter["name"], z.name());
    assert_eq!(penter["headers"]["X-ZMESH"], "yes");
    assert_eq!(penter["endpoint"].as_str(), z.endpoint());

    // Groups joined before start travel in HELLO and arrive as JOINs.
    let j = other.wait("JOIN from HELLO", of_type("JOIN", &zid));
    assert_eq!(j["group"], "EARLY-Z");
    wait_event(
        &rx,
        |e| matches!(e, Event::Join { group, .. } if group == OTHER_EARLY),
    );
    assert_eq!(z.peers_by_group(OTHER_EARLY).unwrap(), vec![other_id]);

    // JOIN both ways.
    other.send(json!({"cmd": "join", "group": "CHAT"}));
    wait_event(
        &rx,
        |e| matches!(e, Event::Join { group, .. } if group == "CHAT"),
    );
    z.join("CHAT").unwrap();
    let j = other.wait("JOIN", of_type("JOIN", &zid));
    assert_eq!(j["group"], "CHAT");

    // SHOUT both ways, multi-frame, with a frame over 255 bytes and an empty one.
    let big = vec![0x5a; 700];
    z.shout("CHAT", vec![b"from zmesh".to_vec(), big.clone(), vec![]])
        .unwrap();
    let s = other.wait("SHOUT", of_type("SHOUT", &zid));
    assert_eq!(s["group"], "CHAT");
    assert_eq!(s["payload"], json!([hex(b"from zmesh"), hex(&big), ""]));
    other.send(json!({"cmd": "shout", "group": "CHAT", "frames": [hex(b"from other"), ""]}));
    let s = wait_event(&rx, |e| e.kind() == "SHOUT");
    assert_eq!(s.group(), Some("CHAT"));
    assert_eq!(s.content().unwrap(), &[b"from other".to_vec(), vec![]]);

    // WHISPER both ways.
    z.whisper(other_id, vec![b"psst".to_vec(), b"2".to_vec()])
        .unwrap();
    let w = other.wait("WHISPER", of_type("WHISPER", &zid));
    assert_eq!(w["payload"], json!([hex(b"psst"), hex(b"2")]));
    other.send(json!({"cmd": "whisper", "peer": zid, "frames": [hex(b"back")]}));
    let w = wait_event(&rx, |e| e.kind() == "WHISPER");
    assert_eq!(w.content().unwrap(), &[b"back".to_vec()]);

    // LEAVE both ways.
    z.leave("CHAT").unwrap();
    other.wait("LEAVE", of_type("LEAVE", &zid));
    other.send(json!({"cmd": "leave", "group": "CHAT"}));
    wait_event(
        &rx,
        |e| matches!(e, Event::Leave { group, .. } if group == "CHAT"),
    );
    assert_eq!(z.stats().unwrap().malformed, 0);
}
