//! The real driver: sockets, interface choice and the actor thread that runs an
//! [`Engine`](crate::engine::Engine) on them. Applications use [`Node`](crate::Node);
//! this module holds the parts it is built from.

pub(crate) mod actor;
pub mod iface;

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;
use socket2::{Domain, Protocol, Socket, Type};

use crate::engine::{Config, Engine};
use crate::error::Error;
use crate::event::{Event, PeerId};
use actor::{Actor, Command, Mailbox, Sockets, WAKER};

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

/// Everything a running node is made from.
pub(crate) struct Spec {
    pub(crate) engine: Config,
    pub(crate) id: PeerId,
    /// The beacon port.
    pub(crate) port: u16,
    pub(crate) interface: Option<String>,
    pub(crate) options: Options,
    /// Groups to be in from the first HELLO on.
    pub(crate) groups: Vec<String>,
    pub(crate) events: Sender<Event>,
}

/// The application's side of a running node: its mailbox, its thread, its endpoint.
pub(crate) struct Running {
    pub(crate) mailbox: Mailbox,
    pub(crate) thread: Option<JoinHandle<()>>,
    pub(crate) endpoint: String,
}

impl Running {
    /// Sends the last command (stop or abort) and waits for the actor to end.
    pub(crate) fn finish(mut self, last: Command) {
        let _ = self.mailbox.send(last);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Assembles the driver: picks the interface, binds the beacon socket and the
/// inbox, builds the engine and the event loop, and starts the actor thread, whose
/// first act is the first beacon.
pub(crate) fn spawn(spec: Spec) -> Result<Running, Error> {
    let iface = iface::select(spec.interface.as_deref()).map_err(Error::NoInterface)?;
    let beacon_addr = SocketAddr::from(([0, 0, 0, 0], spec.port));
    let beacon = beacon_socket(spec.port).map_err(|source| Error::Bind {
        what: "beacon port",
        addr: beacon_addr,
        source,
    })?;
    let inbox_addr = SocketAddr::from((iface.addr, 0));
    let listener = std::net::TcpListener::bind(inbox_addr).map_err(|source| Error::Bind {
        what: "inbox",
        addr: inbox_addr,
        source,
    })?;
    listener.set_nonblocking(true).map_err(Error::Io)?;
    let inbox = listener.local_addr().map_err(Error::Io)?;
    let poll = mio::Poll::new().map_err(Error::Io)?;
    let waker = mio::Waker::new(poll.registry(), WAKER).map_err(Error::Io)?;
    let (mailbox, commands, asleep) = Mailbox::new(waker);
    let name = spec.engine.name.clone();
    let mut engine = Engine::new(spec.engine, spec.id);
    for g in &spec.groups {
        // Node::join checked the name.
        let _ = engine.join(g);
    }
    let sockets = Sockets {
        poll,
        beacon: mio::net::UdpSocket::from_std(beacon),
        beacon_dest: SocketAddr::from((iface.broadcast, spec.port)),
        listener: mio::net::TcpListener::from_std(listener),
        loopback_only: iface.is_loopback(),
    };
    let actor = Actor::new(engine, sockets, commands, asleep, spec.events, spec.options)
        .map_err(Error::Io)?;
    let thread = std::thread::Builder::new()
        .name(format!("zmesh-{name}"))
        .spawn(move || actor.run(inbox))
        .map_err(Error::Io)?;
    log::debug!(
        "{name}: started on {inbox} ({}), beacon port {}",
        iface.name,
        spec.port
    );
    Ok(Running {
        mailbox,
        thread: Some(thread),
        endpoint: format!("tcp://{inbox}"),
    })
}
