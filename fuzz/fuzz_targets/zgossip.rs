//! Any frame: parsing a zgossip message never panics, and a parsed message
//! re-encodes and parses to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zmesh::wire::zgossip::GossipMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = GossipMessage::parse(data) {
        // Strings were decoded lossily, so compare message to message.
        if let Ok(bytes) = m.encode() {
            assert_eq!(GossipMessage::parse(&bytes).unwrap(), m);
        }
    }
});
