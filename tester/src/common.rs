//! The tester's message payloads. What it shares with the simulator and the tests
//! (random streams, percentiles, /proc readings, namespaces, the delivery ledger)
//! is in `zmesh-toolkit`.

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
