//! Node and per-peer counters in the Prometheus / OpenMetrics text format (feature
//! `metrics`), through the `prometheus-client` crate: what [`Node::metrics`]
//! returns and what `zmesh monitor --metrics ADDR` serves over HTTP.
//!
//! Every series carries `node="NAME"`. Node series: `zmesh_peers` (entered),
//! `zmesh_peers_seen` (all known), `zmesh_stats_total{counter="..."}` (every
//! counter of [`Stats`], by field name), `zmesh_exits_total{reason="..."}`. Peer
//! series, labelled `peer` (UUID) and `name`: `zmesh_peer_messages_in_total`,
//! `zmesh_peer_bytes_in_total`, `zmesh_peer_messages_out_total`,
//! `zmesh_peer_bytes_out_total`, `zmesh_peer_reconnects_total`,
//! `zmesh_peer_round_trip_seconds` (once one PING was answered) and
//! `zmesh_peer_since_heard_seconds`.

use std::borrow::Cow;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::engine::{PeerInfo, Stats};
use crate::node::{Error, Node};

type Labels = Vec<(String, String)>;
/// A per-peer counter: its name, its help, and how to read it off a record.
type PeerCounter = (&'static str, &'static str, fn(&PeerInfo) -> u64);

/// The text exposition of a node's counters and its peers' figures.
///
/// ```
/// let text = zmesh::metrics::render("alice", &zmesh::engine::Stats::default(), &[]);
/// assert!(text.contains("zmesh_peers{node=\"alice\"} 0"));
/// assert!(text.ends_with("# EOF\n"));
/// ```
pub fn render(node: &str, stats: &Stats, peers: &[PeerInfo]) -> String {
    let label = (Cow::Borrowed("node"), Cow::Owned(node.to_string()));
    let mut r = Registry::with_prefix_and_labels("zmesh", std::iter::once(label));

    let entered = Gauge::<i64>::default();
    entered.set(peers.iter().filter(|p| p.ready).count() as i64);
    r.register("peers", "Peers that have entered", entered);
    let seen = Gauge::<i64>::default();
    seen.set(peers.len() as i64);
    r.register("peers_seen", "Peers known, entered or not", seen);

    let counters = Family::<Labels, Counter>::default();
    for (name, v) in stats.counters() {
        counters
            .get_or_create(&vec![("counter".into(), name.into())])
            .inc_by(v);
    }
    r.register("stats", "The engine's counters, by name", counters);
    let exits = Family::<Labels, Counter>::default();
    for (reason, v) in &stats.exits {
        exits
            .get_or_create(&vec![("reason".into(), reason.to_string())])
            .inc_by(*v);
    }
    r.register("exits", "Peers dropped, by reason", exits);

    let families: [PeerCounter; 5] = [
        (
            "peer_messages_in",
            "ZRE messages taken from the peer",
            |p| p.figures.messages_in,
        ),
        ("peer_bytes_in", "Their bytes", |p| p.figures.bytes_in),
        (
            "peer_messages_out",
            "ZRE messages queued to the peer",
            |p| p.figures.messages_out,
        ),
        ("peer_bytes_out", "Their bytes", |p| p.figures.bytes_out),
        (
            "peer_reconnects",
            "Times our link to the peer was connected again",
            |p| p.figures.reconnects,
        ),
    ];
    let labels = |p: &PeerInfo| -> Labels {
        vec![
            ("peer".into(), p.id.to_string()),
            ("name".into(), p.name.clone()),
        ]
    };
    for (name, help, value) in families {
        let f = Family::<Labels, Counter>::default();
        for p in peers {
            f.get_or_create(&labels(p)).inc_by(value(p));
        }
        r.register(name, help, f);
    }
    let rtt = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    let heard = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    for p in peers {
        if let Some(d) = p.figures.round_trip {
            rtt.get_or_create(&labels(p)).set(d.as_secs_f64());
        }
        heard
            .get_or_create(&labels(p))
            .set(p.figures.since_heard.as_secs_f64());
    }
    r.register("peer_round_trip_seconds", "The last PING's round trip", rtt);
    r.register(
        "peer_since_heard_seconds",
        "Time since the peer was last heard from",
        heard,
    );

    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut text, &r);
    text
}

impl Node {
    /// This node's counters and its peers' figures in the Prometheus / OpenMetrics
    /// text format (feature `metrics`; see [`render`]), taken in one round trip
    /// to the node's thread.
    pub fn metrics(&self) -> Result<String, Error> {
        // Only the copy is taken in the node's thread; the text is made here.
        let (stats, peers) = self.query(|e| (e.stats().clone(), e.peers().collect::<Vec<_>>()))?;
        Ok(render(self.name(), &stats, &peers))
    }
}
