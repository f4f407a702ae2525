//! zmesh and a real Pyre node (zeromq-pyre from PyPI) on loopback: each sees the
//! other's ENTER (with headers), JOIN, SHOUT, WHISPER, LEAVE and EXIT.

mod common;

use common::talk::{converse, of_type, other_args, wait_event, zmesh_node};
use common::Helper;
use serde_json::json;
use zmesh::{Event, ExitReason, Node, PeerId};

/// Starts both nodes and runs the conversation; returns them still running.
fn meet(port: u16) -> Option<(Node, Helper, PeerId)> {
    let python = common::python()?;
    let mut args = vec!["pyre1".into(), port.to_string()];
    args.extend(other_args());
    let mut py = Helper::spawn(&python, "pyre_peer.py", &args);
    let started = py.wait("STARTED", |v| v["type"] == "STARTED");
    let pyre_id: PeerId = started["peer"].as_str().unwrap().parse().unwrap();
    let z = zmesh_node("zmesh1", "lo", port);
    converse(&mut py, pyre_id, "pyre1", "tcp://127.0.0.1:", &z);
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
