//! The short examples run as tests: each starts its nodes on loopback with a beacon
//! port of its own and must find what it looks for.

#[allow(dead_code)]
#[path = "../examples/service_discovery.rs"]
mod service_discovery;

#[allow(dead_code)]
#[path = "../examples/request_reply.rs"]
mod request_reply;

#[test]
fn service_discovery_finds_both_printers_by_header() {
    let found = service_discovery::run(46530).unwrap();
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        [
            ("inkjet".to_string(), "tcp://127.0.0.1:9101".to_string()),
            ("laser".to_string(), "tcp://127.0.0.1:9100".to_string()),
        ]
    );
}

#[test]
fn request_reply_matches_every_answer_to_its_request() {
    let replies = request_reply::run(46531).unwrap();
    let expected = ["ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO"];
    assert_eq!(replies.len(), expected.len(), "{replies:?}");
    for (id, text) in (1u32..).zip(expected) {
        assert_eq!(replies[&id], text);
    }
}
