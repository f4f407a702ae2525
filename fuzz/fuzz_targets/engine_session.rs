//! A neighbour's whole session against one engine (beacons of 22 and 54 bytes,
//! inbox connections and HELLOs, closes, connects, the application's commands, time
//! jumps past the timeouts), with every step's cost checked against its bound.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zmesh_toolkit::hostile::run(data);
});
