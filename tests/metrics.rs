//! `Node::metrics` (feature `metrics`): the node's counters and each peer's figures
//! in the Prometheus text format, on loopback with a beacon port of its own.
#![cfg(feature = "metrics")]

use std::time::{Duration, Instant};

use zmesh::{Event, Node};

/// The value of the one sample whose line starts with `series`.
fn sample(text: &str, series: &str) -> f64 {
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(series)).collect();
    assert_eq!(lines.len(), 1, "{series} in\n{text}");
    lines[0].rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn counters_and_peer_figures_in_the_text_format() {
    let port = 46543;
    let a = Node::builder("alice")
        .interface("lo")
        .port(port)
        .build()
        .unwrap();
    let b = Node::builder("bob")
        .interface("lo")
        .port(port)
        .build()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while !a.peer(b.uuid()).unwrap().is_some_and(|p| p.ready) {
        assert!(Instant::now() < end, "bob never entered");
        std::thread::sleep(Duration::from_millis(20));
    }
    for _ in 0..3 {
        assert!(a.whisper_report(b.uuid(), [vec![0u8; 100]]).unwrap());
    }
    let mut got = 0;
    while got < 3 {
        let e = b.events().recv_timeout(Duration::from_secs(30)).unwrap();
        got += usize::from(matches!(e, Event::Whisper { .. }));
    }
    let text = a.metrics().unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(sample(&text, "zmesh_peers{node=\"alice\"}"), 1.0);
    let peer = format!("node=\"alice\",peer=\"{}\",name=\"bob\"", b.uuid());
    // HELLO and three whispers at least.
    let out = sample(&text, &format!("zmesh_peer_messages_out_total{{{peer}}}"));
    assert!(out >= 4.0, "{text}");
    let bytes = sample(&text, &format!("zmesh_peer_bytes_out_total{{{peer}}}"));
    assert!(bytes >= 300.0, "{text}");
    assert!(sample(&text, &format!("zmesh_peer_since_heard_seconds{{{peer}}}")) >= 0.0);
    let sent = sample(
        &text,
        "zmesh_stats_total{node=\"alice\",counter=\"beacons_sent\"}",
    );
    assert!(sent >= 1.0, "{text}");
    // Bob's side counts the same messages in.
    let text_b = b.metrics().unwrap();
    let peer_a = format!("node=\"bob\",peer=\"{}\",name=\"alice\"", a.uuid());
    let inn = sample(
        &text_b,
        &format!("zmesh_peer_messages_in_total{{{peer_a}}}"),
    );
    assert!(inn >= 4.0, "{text_b}");
}

#[test]
fn every_counter_is_exported() {
    let text = zmesh::metrics::render("n", &zmesh::engine::Stats::default(), &[]);
    for (name, _) in zmesh::engine::Stats::default().counters() {
        let series = format!("zmesh_stats_total{{node=\"n\",counter=\"{name}\"}} 0");
        assert!(text.contains(&series), "{series}");
    }
}
