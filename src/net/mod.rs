//! The real driver: sockets, interface choice and the actor thread that runs an
//! [`Engine`] on them. Applications use [`Node`](crate::Node);
//! this module holds the parts it is built from.

pub(crate) mod actor;
pub mod cert;
pub mod iface;
pub(crate) mod signal;

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::thread::JoinHandle;

use socket2::{Domain, Protocol, Socket, Type};

use crate::engine::{Config, Engine};
use crate::error::Error;
use crate::event::{Event, PeerId};
use actor::{networks, Actor, Command, Mailbox, Sockets, Watch, WAKER, WATCH_PERIOD};
use iface::Interface6;

/// Limits of the driver, per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// A peer whose unsent output passes this many bytes is dropped (it is not
    /// reading), logged and counted: the book's rule against a slow peer blocking
    /// the node. Default 64 MiB.
    pub max_link_output: usize,
    /// When the unsent output of all links together passes this many bytes, the
    /// peer with the most is dropped (as by `max_link_output`), until the total is
    /// back under: many slow peers cannot hold more memory than this. Default 1 GiB.
    pub max_total_output: usize,
    /// When this many events wait for the application, the node stops reading from
    /// the network (TCP then slows the senders) until the application catches up.
    /// Beacons and heartbeats go on. Default 100,000.
    pub event_high_water: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_link_output: 64 << 20,
            max_total_output: 1 << 30,
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

/// Opens the IPv6 beacon socket (as czmq does with `ZSYS_IPV6=1`): bound to
/// `[::]:port` (IPv6 only, shared as [`beacon_socket`] is), a member of the
/// multicast `group` on each interface index given, looping back so that nodes
/// on one host hear each other.
pub fn beacon_socket_v6(
    port: u16,
    group: Ipv6Addr,
    interfaces: &[u32],
) -> io::Result<std::net::UdpSocket> {
    let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_only_v6(true)?;
    s.set_reuse_address(true)?;
    #[cfg(unix)]
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
    for &index in interfaces {
        s.join_multicast_v6(&group, index)?;
    }
    s.set_multicast_loop_v6(true)?;
    Ok(s.into())
}

/// The inbox of a node that takes IPv6: `[::]:port`, taking IPv4 as well.
fn dual_stack_listener(port: u16) -> Result<std::net::TcpListener, Error> {
    let addr = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
    let bind = || -> io::Result<std::net::TcpListener> {
        let s = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
        s.set_only_v6(false)?;
        s.set_reuse_address(true)?;
        s.set_nonblocking(true)?;
        s.bind(&addr.into())?;
        s.listen(1024)?;
        Ok(s.into())
    };
    bind().map_err(|source| Error::Bind {
        what: "inbox",
        addr,
        source,
    })
}

/// 32 bytes from the OS's generator.
fn os_seed() -> [u8; 32] {
    use rand::{RngCore, SeedableRng};
    let mut seed = [0u8; 32];
    rand::rngs::StdRng::from_os_rng().fill_bytes(&mut seed);
    seed
}

/// A fresh CURVE key pair from the OS's generator, for
/// [`Node::set_curve`](crate::Node::set_curve).
///
/// ```
/// let keys = zmesh::new_curve_keys();
/// assert_ne!(keys.public(), zmesh::new_curve_keys().public());
/// ```
pub fn new_curve_keys() -> crate::engine::curve::CurveKeys {
    use rand::SeedableRng;
    crate::engine::curve::CurveKeys::generate(&mut rand::rngs::StdRng::from_os_rng())
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
    pub(crate) events: signal::EventTx,
    /// Bind the inbox here (`tcp://IP:PORT`, `tcp://*:PORT`) instead of an
    /// ephemeral port on the interface.
    pub(crate) endpoint: Option<String>,
    /// Bind the inbox on this port of the interface.
    pub(crate) inbox_port: Option<u16>,
    /// Serve gossip on this endpoint.
    pub(crate) gossip_bind: Option<String>,
    /// Collect ZRE-LOG records on this endpoint.
    pub(crate) log_bind: Option<String>,
    /// Gossip servers to be a client of.
    pub(crate) gossip_connect: Vec<String>,
    /// Beacon over IPv6 multicast to this group too, and take IPv6 peers.
    pub(crate) ipv6: Option<Ipv6Addr>,
}

/// `tcp://IP:PORT` or `tcp://*:PORT` as a socket address (`*` is 0.0.0.0).
pub(crate) fn bind_addr(endpoint: &str) -> Option<SocketAddr> {
    let rest = endpoint.strip_prefix("tcp://")?;
    match rest.strip_prefix("*:") {
        Some(port) => Some(SocketAddr::from(([0, 0, 0, 0], port.parse().ok()?))),
        None => crate::engine::endpoint_addr(endpoint),
    }
}

fn bind_listener(what: &'static str, addr: SocketAddr) -> Result<std::net::TcpListener, Error> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| Error::Bind { what, addr, source })?;
    listener.set_nonblocking(true).map_err(Error::Io)?;
    Ok(listener)
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
pub(crate) fn spawn(mut spec: Spec) -> Result<Running, Error> {
    let explicit = match &spec.endpoint {
        Some(ep) => Some(bind_addr(ep).ok_or_else(|| Error::BadEndpoint(ep.clone()))?),
        None => None,
    };
    // An interface is needed to beacon, and to know our address when the inbox is
    // not bound to one given in full.
    let needs_iface = spec.engine.beacon || explicit.is_none_or(|a| a.ip().is_unspecified());
    let v6 = match spec.ipv6 {
        Some(_) if needs_iface => iface::select_v6(spec.interface.as_deref()).unwrap_or_default(),
        _ => Vec::new(),
    };
    let ifaces = if needs_iface {
        match iface::select_all(spec.interface.as_deref()) {
            Ok(found) => found,
            // IPv6 only.
            Err(_) if !v6.is_empty() => Vec::new(),
            Err(e) => return Err(Error::NoInterface(e)),
        }
    } else {
        Vec::new()
    };
    // Our address is the first interface's; with more than one, the inbox listens
    // on every address so that peers on each network can reach it.
    let iface = ifaces.first().cloned();
    let every = ifaces.len() > 1;
    let beacon = if spec.engine.beacon && !ifaces.is_empty() {
        let beacon_addr = SocketAddr::from(([0, 0, 0, 0], spec.port));
        let socket = beacon_socket(spec.port).map_err(|source| Error::Bind {
            what: "beacon port",
            addr: beacon_addr,
            source,
        })?;
        Some(mio::net::UdpSocket::from_std(socket))
    } else {
        None
    };
    let beacon6 = match spec.ipv6 {
        Some(group) if spec.engine.beacon && !v6.is_empty() => {
            let indices: Vec<u32> = v6.iter().map(|i| i.index).collect();
            let socket =
                beacon_socket_v6(spec.port, group, &indices).map_err(|source| Error::Bind {
                    what: "IPv6 beacon port",
                    addr: SocketAddr::from((group, spec.port)),
                    source,
                })?;
            let dests = v6
                .iter()
                .map(|i| SocketAddr::V6(SocketAddrV6::new(group, spec.port, 0, i.index)))
                .collect();
            Some((mio::net::UdpSocket::from_std(socket), dests))
        }
        _ => None,
    };
    let iface_addr = iface.as_ref().map_or(Ipv4Addr::LOCALHOST, |i| i.addr);
    let bind_ip = if every {
        Ipv4Addr::UNSPECIFIED
    } else {
        iface_addr
    };
    let listener = match explicit {
        Some(addr) => bind_listener("inbox", addr)?,
        None if !v6.is_empty() => dual_stack_listener(spec.inbox_port.unwrap_or(0))?,
        None => bind_listener(
            "inbox",
            SocketAddr::from((bind_ip, spec.inbox_port.unwrap_or(0))),
        )?,
    };
    let mut inbox = listener.local_addr().map_err(Error::Io)?;
    if inbox.ip().is_unspecified() {
        // Bound to every address: peers are told the interface's (IPv4 first).
        match (&iface, v6.first()) {
            (None, Some(i6)) => {
                inbox = SocketAddr::V6(SocketAddrV6::new(i6.addr, inbox.port(), 0, i6.index))
            }
            _ => inbox.set_ip(iface_addr.into()),
        }
    }
    let gossip = match &spec.gossip_bind {
        Some(ep) => {
            let addr = bind_addr(ep).ok_or_else(|| Error::BadEndpoint(ep.clone()))?;
            let l = bind_listener("gossip service", addr)?;
            Some(mio::net::TcpListener::from_std(l))
        }
        None => None,
    };
    let log = match &spec.log_bind {
        Some(ep) => {
            let addr = bind_addr(ep).ok_or_else(|| Error::BadEndpoint(ep.clone()))?;
            let l = bind_listener("log collector", addr)?;
            // Announced to every peer, which then publishes to it (the guide's way).
            let mut at = l.local_addr().map_err(Error::Io)?;
            if at.ip().is_unspecified() {
                at.set_ip(inbox.ip());
            }
            let header = crate::engine::logs::LOG_HEADER.to_string();
            spec.engine
                .headers
                .insert(header, crate::engine::endpoint_of(at));
            spec.engine.log_collector = true;
            Some(mio::net::TcpListener::from_std(l))
        }
        None => None,
    };
    let poll = mio::Poll::new().map_err(Error::Io)?;
    let waker = mio::Waker::new(poll.registry(), WAKER).map_err(Error::Io)?;
    let (mailbox, commands, asleep) = Mailbox::new(waker);
    let backlog = mailbox.backlog.clone();
    let name = spec.engine.name.clone();
    let (last_words, own) = (spec.events.clone(), (spec.id, spec.engine.name.clone()));
    let mut engine = Engine::new(spec.engine, spec.id);
    // CURVE handshakes draw their keys and nonces from here.
    engine.seed_random(os_seed());
    // Log records carry Unix seconds; the engine reads no clock of its own.
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    engine.set_epoch(std::time::Instant::now(), unix);
    for g in &spec.groups {
        // Node::join checked the name.
        let _ = engine.join(g);
    }
    engine.set_networks(networks(&ifaces));
    engine.set_v6(v6.first().map(Interface6::place));
    let now = std::time::Instant::now();
    for ep in &spec.gossip_connect {
        engine
            .gossip_connect(now, ep)
            .map_err(|e| Error::BadEndpoint(e.0))?;
    }
    let loopback_only = !ifaces.is_empty() && ifaces.iter().all(|i| i.is_loopback());
    // The interface's address is followed unless the inbox is bound to an address
    // given in full (loopback never changes).
    let follow = explicit.is_none_or(|a| a.ip().is_unspecified());
    let watch =
        (follow && !(ifaces.is_empty() && v6.is_empty()) && !loopback_only).then(|| Watch {
            spec: spec.interface.clone(),
            current: ifaces.clone(),
            port: spec.port,
            own_listener: explicit.is_none() && v6.is_empty(),
            next: now + WATCH_PERIOD,
            v6: spec
                .ipv6
                .filter(|_| !v6.is_empty())
                .map(|g| (g, v6.clone())),
        });
    let sockets = Sockets {
        poll,
        beacon,
        beacon_dests: ifaces
            .iter()
            .map(|i| SocketAddr::from((i.broadcast, spec.port)))
            .collect(),
        listener: mio::net::TcpListener::from_std(listener),
        gossip,
        log,
        beacon6,
        loopback_only,
        watch,
    };
    let shared = (asleep, backlog.clone());
    let actor = Actor::new(engine, sockets, commands, shared, spec.events, spec.options)
        .map_err(Error::Io)?;
    // If the actor dies of a panic, the application still hears STOP rather than
    // waiting for events for ever (the node holds a sender of its own).
    let thread = std::thread::Builder::new()
        .name(format!("zmesh-{name}"))
        .spawn(move || {
            let run = std::panic::AssertUnwindSafe(|| actor.run(inbox));
            let ended = std::panic::catch_unwind(run);
            // Whoever waits for room in the backlog must not wait for a dead actor.
            backlog.close();
            if ended.is_err() {
                let (peer, name) = own;
                let _ = last_words.send(Event::Stop {
                    peer,
                    name: name.into(),
                });
            }
        })
        .map_err(Error::Io)?;
    let names: Vec<String> = ifaces
        .iter()
        .map(|i| i.name.clone())
        .chain(v6.iter().map(|i| format!("{} (IPv6 {})", i.name, i.addr)))
        .collect();
    log::debug!(
        "{name}: started on {inbox} ({}), beacon port {}",
        if names.is_empty() {
            "no interface".to_string()
        } else {
            names.join(",")
        },
        spec.port
    );
    Ok(Running {
        mailbox,
        thread: Some(thread),
        endpoint: crate::engine::endpoint_of(inbox),
    })
}
