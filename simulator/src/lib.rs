//! zmesh-sim: zmesh's real protocol engine on a simulated network, in virtual time.
//!
//! Every node is a [`zmesh::engine::Engine`], the same code that production runs.
//! The harness ([`sim::Sim`]) owns virtual time and one queue of deliveries; time
//! jumps to the next event and ties break by sequence number. Every random draw
//! comes from the seed through a stream of its own ([`rng`]), so the same seed and
//! scenario give the same trace, byte for byte.
//!
//! * UDP beacons: one broadcast becomes one delivery per receiver, each judged by the
//!   link's [`profile`] (loss, latency).
//! * TCP: ordered, reliable byte pipes with latency, stalls and retransmission
//!   delays; writes are split at random points so the decoders see partial frames;
//!   bytes are held during an outage and the connection resets after
//!   [`net::TCP_USER_TIMEOUT`]. Bytes are never lost silently.
//! * Faults on a timeline from a [`scenario`]: start, polite stop, crash, restart,
//!   partitions (symmetric and one-way) and heal, profile changes, group changes,
//!   traffic.
//! * An oracle ([`oracle::Oracle`]; [`sim::Sim::run`] returns its
//!   [`summary::Summary`] in an [`sim::Outcome`]) checks discovery, message delivery
//!   and order, crash detection, false EXITs and group views.
//!
//! The fabric ([`net::Net`]) can also be driven by hand from a test, with verbs such
//! as `partition`, `heal`, `crash` and `restart`.
//!
//! ```
//! use std::time::Duration;
//! use zmesh_sim::{scenario::Scenario, sim::{Sim, SimConfig}};
//! let mut cfg = SimConfig::new(4);
//! cfg.duration = Duration::from_secs(20);
//! let summary = Sim::new(cfg, &Scenario::default_for(Duration::from_secs(20))).run().summary;
//! assert!(summary.passed(), "{summary}");
//! assert_eq!(summary.enter_latency.count, 12);
//! ```

pub mod elections;
pub mod net;
pub mod oracle;
pub mod plot;
pub mod profile;
mod queue;
pub mod scenario;
pub mod sim;
pub mod summary;
mod tcp;
pub mod trace;
mod verbs;

/// The random streams every draw comes from (shared with the tester).
pub use zmesh_toolkit::rng;
