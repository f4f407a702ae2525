//! Following the interface: every few seconds the actor selects its interfaces
//! again, and when an address changed (a DHCP renewal, roaming, a cable moved) it
//! rebinds the inbox on the same port, beacons to the new broadcast addresses and
//! tells the engine, which re-announces the node to its peers (see
//! [`Engine::rebind`](crate::engine::Engine::rebind)). An interface that is gone
//! is waited for: nothing changes until it comes back.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::Interest;

use super::{Actor, LISTENER};
use crate::net::iface::{self, Interface, Interface6};

/// How often the interfaces are looked at: one `getifaddrs` call.
pub(crate) const PERIOD: Duration = Duration::from_secs(2);

/// What the actor needs to follow its interfaces.
pub(crate) struct Watch {
    /// What the application asked for (`None`: the default choice).
    pub(crate) spec: Option<String>,
    /// The interfaces in use.
    pub(crate) current: Vec<Interface>,
    /// The beacon port.
    pub(crate) port: u16,
    /// False when the application chose where the inbox binds (`tcp://*:PORT`):
    /// only the address peers are told follows the interface then.
    pub(crate) own_listener: bool,
    /// When to look next.
    pub(crate) next: Instant,
    /// With IPv6: the beacon group and the IPv6 interfaces in use.
    pub(crate) v6: Option<(Ipv6Addr, Vec<Interface6>)>,
}

/// (address, netmask) of each interface, for [`Engine::set_networks`]; empty with
/// one interface, which is the one every peer is told of.
///
/// [`Engine::set_networks`]: crate::engine::Engine::set_networks
pub(crate) fn networks(ifaces: &[Interface]) -> Vec<(Ipv4Addr, Ipv4Addr)> {
    if ifaces.len() < 2 {
        return Vec::new();
    }
    ifaces
        .iter()
        .filter_map(|i| Some((i.addr, iface::netmask_of(i.addr)?)))
        .collect()
}

impl Actor {
    /// Looks at the interfaces if it is time to, and follows a change.
    pub(super) fn watch_interfaces(&mut self, now: Instant) {
        let Some(w) = self.watch.as_mut() else {
            return;
        };
        if now < w.next {
            return;
        }
        w.next = now + PERIOD;
        // A family whose interfaces are gone keeps what it had: it is waited for.
        let found = match iface::select_all(w.spec.as_deref()) {
            Ok(found) => found,
            Err(_) if w.v6.is_some() => w.current.clone(),
            Err(_) => return,
        };
        let found6 = w
            .v6
            .as_ref()
            .map(|(_, had)| iface::select_v6(w.spec.as_deref()).unwrap_or_else(|_| had.clone()));
        let same6 = match (&w.v6, &found6) {
            (Some((_, had)), Some(now6)) => had == now6,
            _ => true,
        };
        if found == w.current && same6 {
            return;
        }
        let (port, own_listener) = (w.port, w.own_listener);
        let every = found.len() > 1;
        let Ok(bound) = self.listener.local_addr() else {
            return;
        };
        if let Some(first) = found.first().map(|i| i.addr).filter(|_| own_listener) {
            let want = if every { Ipv4Addr::UNSPECIFIED } else { first };
            if bound.ip() != want && !self.relisten(SocketAddr::from((want, bound.port()))) {
                return;
            }
        }
        let Ok(mut inbox) = self.listener.local_addr() else {
            return;
        };
        let v6 = found6.unwrap_or_default();
        match (found.first(), v6.first()) {
            (Some(i), _) => inbox.set_ip(i.addr.into()),
            (None, Some(i)) => {
                inbox = SocketAddr::V6(SocketAddrV6::new(i.addr, inbox.port(), 0, i.index))
            }
            (None, None) => return,
        }
        log::info!(
            "{}: interfaces now {:?}",
            self.engine.name(),
            found
                .iter()
                .map(|i| format!("{} {}", i.name, i.addr))
                .chain(v6.iter().map(|i| format!("{} {}", i.name, i.addr)))
                .collect::<Vec<_>>()
        );
        self.beacon_dests = found
            .iter()
            .map(|i| SocketAddr::from((i.broadcast, port)))
            .collect();
        if let Some(w) = self.watch.as_mut() {
            w.current = found.clone();
            if let Some((group, had)) = w.v6.as_mut() {
                let group = *group;
                if let Some((socket, dests)) = self.beacon6.as_mut() {
                    // Leave the group where the interface went, join it where one came.
                    for i in had
                        .iter()
                        .filter(|i| !v6.iter().any(|n| n.index == i.index))
                    {
                        let _ = socket.leave_multicast_v6(&group, i.index);
                    }
                    for i in v6
                        .iter()
                        .filter(|i| !had.iter().any(|o| o.index == i.index))
                    {
                        if let Err(e) = socket.join_multicast_v6(&group, i.index) {
                            log::warn!("joining {group} on {} failed: {e}", i.name);
                        }
                    }
                    *dests = v6
                        .iter()
                        .map(|i| SocketAddr::V6(SocketAddrV6::new(group, port, 0, i.index)))
                        .collect();
                }
                *had = v6.clone();
            }
        }
        let place = v6.first().map(Interface6::place);
        self.engine.rebind(now, inbox, networks(&found), place);
        self.drain_outputs();
    }

    /// Moves the inbox to `addr` (the same port if it is free there, so that peers
    /// see a move, else another). False if it cannot listen there yet.
    fn relisten(&mut self, addr: SocketAddr) -> bool {
        let Some(mut listener) = [addr.port(), 0]
            .into_iter()
            .find_map(|p| TcpListener::bind(SocketAddr::new(addr.ip(), p)).ok())
        else {
            log::warn!("{}: cannot listen on {} yet", self.engine.name(), addr.ip());
            return false;
        };
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
        {
            log::warn!("{}: cannot watch the new inbox: {e}", self.engine.name());
            return false;
        }
        let mut old = std::mem::replace(&mut self.listener, listener);
        let _ = self.poll.registry().deregister(&mut old);
        true
    }
}
