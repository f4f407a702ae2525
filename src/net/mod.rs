//! The real driver: sockets, interface choice and the actor thread that runs an
//! [`Engine`](crate::engine::Engine) on them. Applications use [`Node`](crate::Node);
//! this module holds the parts it is built from.

pub(crate) mod actor;
pub mod iface;

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use socket2::{Domain, Protocol, Socket, Type};

/// Limits of the driver, per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// A peer whose unsent output passes this many bytes is dropped (it is not
    /// reading), logged and counted: the book's rule against a slow peer blocking
    /// the node. Default 64 MiB.
    pub max_link_output: usize,
    /// When this many events wait for the application, the node stops reading from
    /// the network (TCP then slows the senders) until the application catches up.
    /// Beacons and heartbeats go on. Default 100,000.
    pub event_high_water: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_link_output: 64 << 20,
            event_high_water: 100_000,
        }
    }
}

/// Opens the UDP beacon socket: bound to `0.0.0.0:port` with SO_REUSEADDR and
/// SO_REUSEPORT, so any number of nodes on one host share the port (broadcasts
/// reach each of them), and SO_BROADCAST for sending.
pub fn beacon_socket(port: u16) -> io::Result<std::net::UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    #[cfg(unix)]
    s.set_reuse_port(true)?;
    s.set_broadcast(true)?;
    s.set_nonblocking(true)?;
    s.bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).into())?;
    Ok(s.into())
}
