//! Any frame: parsing a ZRE-LOG message never panics, and a parsed message
//! re-encodes and parses to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zmesh::wire::zrelog::LogRecord;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = LogRecord::parse(data) {
        assert_eq!(LogRecord::parse(&r.encode()).unwrap(), r);
    }
});
