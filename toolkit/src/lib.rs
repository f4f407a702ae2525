//! zmesh-toolkit: what zmesh's tools and tests share, so that each exists once.
//!
//! * [`rng`]: counter-based random streams (SplitMix64), reproducible from a seed;
//! * [`stats`]: percentiles of a sample;
//! * [`proc`]: this process's CPU time, memory and file-handle limit (Linux);
//! * [`netns`]: network namespaces that tests create and always remove;
//! * [`hostile`]: a neighbour's session against one engine, read from arbitrary
//!   bytes, with a bound checked on every step (property tests and a fuzz target);
//! * [`ledger`]: the record of delivered messages that oracles check order and
//!   duplicates against;
//! * [`skip`]: tests that cannot run on this machine say why, in one list.
//!
//! It is not part of the library: the simulator, the tester and the integration
//! tests depend on it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod hostile;
pub mod ledger;
pub mod netns;
pub mod proc;
pub mod rng;
pub mod skip;
pub mod stats;

use std::time::Duration;

/// Parses a duration as the tools write them: `500ms`, `1.5s`, `2m`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(zmesh_toolkit::parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// assert!(zmesh_toolkit::parse_duration("soon").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration {s:?} (e.g. 500ms, 1.5s, 2m)");
    let (num, unit) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        return Err(bad());
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    if !(v >= 0.0 && v.is_finite()) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(v * unit))
}
