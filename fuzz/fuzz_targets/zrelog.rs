//! Any frame: parsing a ZRE-LOG message never panics, and what it parses to
//! survives re-encoding: the text is decoded lossily (an invalid byte becomes
//! three), so a long invalid text is cut once on the way back, and from then on
//! the record re-encodes and parses to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zmesh::wire::zrelog::LogRecord;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = LogRecord::parse(data) {
        let once = LogRecord::parse(&r.encode()).unwrap();
        assert_eq!(
            (once.level, once.event, once.node, once.peer, once.time),
            (r.level, r.event, r.node, r.peer, r.time)
        );
        assert!(r.data.starts_with(&once.data));
        assert_eq!(LogRecord::parse(&once.encode()).unwrap(), once);
    }
});
