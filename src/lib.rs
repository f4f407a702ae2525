//! zmesh: a pure-Rust peer-to-peer mesh framework, wire-compatible with Zyre and Pyre.
//!
//! Nodes find each other by UDP beacons, connect with the Harmony pattern (one ROUTER
//! inbox per node, one DEALER per peer, ZMTP 3.1 over TCP), notice vanished peers
//! through heartbeats, and exchange WHISPER (one peer) and SHOUT (a group) messages.
//!
//! **Start here:** [`Node`] is the application's handle; [`Event`] is what it hears.
//!
//! The crate is layered; each layer depends only on the ones above it in this list:
//!
//! * [`wire`]: pure codecs (beacon, ZRE v2 messages, ZMTP 3.1 frames and greeting).
//!   No state beyond a decoder's buffer, no I/O, no clock. Every decoder is bounded
//!   and returns typed errors.
//! * [`engine`]: the sans-IO protocol engine. [`engine::Engine`] is the whole node's
//!   behaviour, driven by `(now, input)` calls and drained through `poll_output`;
//!   [`engine::link`] is the per-connection ZMTP state machine and the ROUTER logic.
//!   The engine never reads the clock, the OS random generator or a socket, so the
//!   driver, the simulator, the fuzzers and the unit tests all run the same code.
//! * [`net`]: the real driver. One `mio` event loop per node (the actor thread) owns
//!   the beacon socket, the inbox listener and every link, and is the only caller of
//!   `Instant::now()`.
//! * [`Node`]: the Zyre-style API over the actor: configure, start, join, shout,
//!   whisper, query peers, read events from a crossbeam channel.
//!
//! ```no_run
//! use zmesh::{Event, Node};
//! let mut node = Node::new("alice");
//! node.set_interface("lo"); // this host only
//! node.start()?;
//! node.join("chat")?;
//! node.shouts("chat", "hello")?;
//! while let Ok(event) = node.events().recv() {
//!     println!("{} from {}", event.kind(), event.name());
//! }
//! # Ok::<(), zmesh::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod builder;
pub mod engine;
mod error;
pub mod event;
mod events;
pub mod frames;
#[cfg(feature = "metrics")]
pub mod metrics;
mod name;
pub mod net;
mod node;
mod queries;
#[cfg(feature = "serde")]
mod serde_impl;
pub mod wire;

pub use builder::NodeBuilder;
pub use bytes::Bytes;
pub use engine::curve::CurveKeys;
pub use engine::{PeerFigures, PeerInfo};
pub use event::{Event, ExitReason, PeerId};
pub use events::EventFd;
#[cfg(feature = "async")]
pub use events::EventStream;
pub use frames::Frames;
pub use name::Name;
pub use net::iface::{interfaces, Candidate};
pub use net::{cert, new_curve_keys};
#[cfg(feature = "async")]
pub use node::Room;
pub use node::{Error, Node, DEFAULT_PORT};
#[cfg(feature = "async")]
pub use queries::Reply;

/// This crate's version, as `"major.minor.patch"`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// This crate's version as numbers (Zyre's `zyre_version`).
///
/// ```
/// let (major, minor, patch) = zmesh::version();
/// assert_eq!(format!("{major}.{minor}.{patch}"), zmesh::VERSION);
/// ```
pub fn version() -> (u32, u32, u32) {
    let n = |s: &str| s.parse().unwrap_or(0);
    (
        n(env!("CARGO_PKG_VERSION_MAJOR")),
        n(env!("CARGO_PKG_VERSION_MINOR")),
        n(env!("CARGO_PKG_VERSION_PATCH")),
    )
}

/// The README's examples compile as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The observability guide's example compiles as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../docs/observability.md")]
struct ObservabilityDoctests;
