//! The `serde` feature: every event and peer record round-trips through JSON, and
//! every example in `docs/json.md` is what the code prints, byte for byte.
#![cfg(feature = "serde")]

use std::collections::BTreeSet;

use serde_json::Value;
use zmesh::{Event, ExitReason, PeerId, PeerInfo};

/// The lines of the JSON block that follows `marker` in docs/json.md.
fn doc_block(marker: &str) -> Vec<String> {
    let doc = include_str!("../docs/json.md");
    let at = doc
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in docs/json.md"));
    let block = &doc[at..];
    let start = block.find("```json\n").expect("a json block") + 8;
    let end = block[start..].find("```").expect("its end") + start;
    block[start..end].lines().map(String::from).collect()
}

#[test]
fn the_documented_events_are_what_events_print() {
    let lines = doc_block("<!-- events -->");
    let mut kinds = BTreeSet::new();
    for line in &lines {
        let e: Event = serde_json::from_str(line).unwrap_or_else(|err| panic!("{line}: {err}"));
        assert_eq!(serde_json::to_string(&e).unwrap(), *line);
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["type"], e.kind());
        kinds.insert(e.kind());
    }
    // Every kind is documented.
    assert_eq!(kinds.len(), 11, "{kinds:?}");
}

#[test]
fn the_documented_peer_record_is_what_records_print() {
    for line in doc_block("<!-- peers -->") {
        let p: PeerInfo = serde_json::from_str(&line).unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), line);
    }
}

#[test]
fn the_documented_tool_records_use_the_same_conventions() {
    for line in doc_block("<!-- tools -->") {
        let v: Value = serde_json::from_str(&line).unwrap();
        assert!(v["type"].is_string(), "{line}");
        if let Some(p) = v.get("peer") {
            let _: PeerId = serde_json::from_value(p.clone()).unwrap();
        }
        assert!(!line.contains("null"), "{line}");
    }
}

#[test]
fn frames_are_text_or_hex_and_round_trip() {
    let peer = PeerId([7; 16]);
    let frames: Vec<Vec<u8>> = vec![
        b"hi".to_vec(),
        vec![],
        vec![0xff, 0x00, 0x80],
        "caf\u{e9}".as_bytes().to_vec(),
        br#"{"hex":"00"}"#.to_vec(),
    ];
    let e = Event::Whisper {
        peer,
        name: "n".into(),
        content: frames.clone().into(),
    };
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(
        v["content"],
        serde_json::json!(["hi", "", {"hex": "ff0080"}, "caf\u{e9}", "{\"hex\":\"00\"}"])
    );
    let back: Event = serde_json::from_value(v).unwrap();
    assert_eq!(back, e);
}

#[test]
fn bad_json_is_an_error_not_a_panic() {
    for bad in [
        r#"{"type":"WHISPER","peer":"00","name":"n","content":[]}"#,
        r#"{"type":"WHISPER","peer":"0123456789ABCDEF0123456789ABCDEF","name":"n","content":[{"hex":"0"}]}"#,
        r#"{"type":"WHISPER","peer":"0123456789ABCDEF0123456789ABCDEF","name":"n","content":[{"hex":"zz"}]}"#,
        r#"{"type":"WHISPER","peer":"0123456789ABCDEF0123456789ABCDEF","name":"n","content":[{"hex":"+f"}]}"#,
        r#"{"type":"EXIT","peer":"0123456789ABCDEF0123456789ABCDEF","name":"n","reason":"bored"}"#,
        r#"{"type":"NOPE","peer":"0123456789ABCDEF0123456789ABCDEF","name":"n"}"#,
        r#"{"peer":"0123456789ABCDEF0123456789ABCDEF","name":"n"}"#,
    ] {
        assert!(serde_json::from_str::<Event>(bad).is_err(), "{bad}");
    }
}

#[test]
fn every_exit_reason_is_its_name() {
    use ExitReason::*;
    for r in [
        Left,
        Expired,
        SequenceGap,
        StatusMismatch,
        Restarted,
        EndpointReused,
        ProtocolError,
        Overflow,
    ] {
        assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        let back: ExitReason = serde_json::from_value(r.as_str().into()).unwrap();
        assert_eq!(back, r);
    }
}

#[test]
fn stats_counters_list_every_counter() {
    let v = serde_json::to_value(zmesh::engine::Stats::default()).unwrap();
    let mut fields: BTreeSet<String> = v.as_object().unwrap().keys().cloned().collect();
    assert!(fields.remove("exits"));
    let listed: BTreeSet<String> = zmesh::engine::Stats::default()
        .counters()
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    assert_eq!(listed, fields);
}

#[test]
fn a_running_node_reports_records_and_stats_in_json() {
    let mut node = zmesh::Node::builder("solo")
        .interface("lo")
        .port(46519)
        .header("X-A", "1")
        .build()
        .unwrap();
    let stats = serde_json::to_value(node.stats().unwrap()).unwrap();
    assert_eq!(stats["malformed"], 0);
    assert!(stats["exits"].is_object());
    node.stop();
    let events: Vec<Value> = node
        .events()
        .try_iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    let stop = events.last().expect("a STOP event");
    assert_eq!(stop["type"], "STOP");
    assert_eq!(stop["peer"], node.uuid().to_string());
}
