//! Any datagram: parse never panics, and what parses re-encodes to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zmesh::wire::beacon::Beacon;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = Beacon::parse(data) {
        assert_eq!(b.encode(), data);
    }
});
