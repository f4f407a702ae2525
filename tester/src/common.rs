//! The tester's message payloads. What it shares with the simulator and the tests
//! (random streams, percentiles, /proc readings, namespaces, the delivery ledger)
//! is in `zmesh-toolkit`.

use std::sync::atomic::{AtomicBool, Ordering};

/// Benchmarks' nodes in CURVE mode (`--curve`), each with a fresh key pair.
static CURVE: AtomicBool = AtomicBool::new(false);

/// Puts the benchmarks' nodes in CURVE mode.
pub fn use_curve(on: bool) {
    CURVE.store(on, Ordering::Relaxed);
}

/// A benchmark node, not started: CURVE mode if asked for.
pub fn bench_node(name: &str, interface: &str, port: u16) -> zmesh::Node {
    let mut n = zmesh::Node::new(name);
    n.set_interface(interface);
    n.set_port(port);
    if CURVE.load(Ordering::Relaxed) {
        n.set_curve(zmesh::new_curve_keys());
    }
    n
}

/// Every tester message starts with this frame: `ZT`, the message id (unique per run,
/// increasing per sender), and a hop count (replies to replies are not answered).
pub fn payload(id: u64, hop: u8) -> Vec<u8> {
    let mut p = b"ZT".to_vec();
    p.extend_from_slice(&id.to_be_bytes());
    p.push(hop);
    p
}

/// The id and hop of a tester message, if the frame is one.
pub fn parse_payload(frame: &[u8]) -> Option<(u64, u8)> {
    if frame.len() != 11 || &frame[..2] != b"ZT" {
        return None;
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&frame[2..10]);
    Some((u64::from_be_bytes(id), frame[10]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip() {
        assert_eq!(parse_payload(&payload(42, 1)), Some((42, 1)));
        assert_eq!(parse_payload(b"hello"), None);
    }
}
