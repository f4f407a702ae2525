//! zmesh: a pure-Rust peer-to-peer mesh framework, wire-compatible with Zyre and Pyre.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod engine;
pub mod event;
pub mod net;
mod node;
pub mod wire;

pub use event::{Event, ExitReason, PeerId};
pub use node::{Error, Node, DEFAULT_PORT};
