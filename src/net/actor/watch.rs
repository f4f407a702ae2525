//! Following the interface: every few seconds the actor selects its interfaces
//! again, and when an address changed (a DHCP renewal, roaming, a cable moved) it
//! rebinds the inbox on the same port, beacons to the new broadcast addresses and
//! tells the engine, which re-announces the node to its peers (see
//! [`Engine::rebind`](crate::engine::Engine::rebind)). An interface that is gone
//! is waited for: nothing changes until it comes back.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::Interest;

use super::{Actor, LISTENER};
use crate::net::iface::{self, Interface};

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
        let Ok(found) = iface::select_all(w.spec.as_deref()) else {
            return;
        };
        if found == w.current {
            return;
        }
        let (port, own_listener) = (w.port, w.own_listener);
        let Some(first) = found.first().map(|i| i.addr) else {
            return;
        };
        let every = found.len() > 1;
        let Ok(bound) = self.listener.local_addr() else {
            return;
        };
        let want = if every { Ipv4Addr::UNSPECIFIED } else { first };
        if own_listener && bound.ip() != want {
            // The same port if it is free there, so that peers see a move.
            let Some(listener) = [bound.port(), 0]
                .into_iter()
                .find_map(|p| TcpListener::bind(SocketAddr::from((want, p))).ok())
            else {
                log::warn!("{}: cannot listen on {want} yet", self.engine.name());
                return;
            };
            let mut listener = listener;
            if let Err(e) =
                self.poll
                    .registry()
                    .register(&mut listener, LISTENER, Interest::READABLE)
            {
                log::warn!("{}: cannot watch the new inbox: {e}", self.engine.name());
                return;
            }
            let mut old = std::mem::replace(&mut self.listener, listener);
            let _ = self.poll.registry().deregister(&mut old);
        }
        let Ok(mut inbox) = self.listener.local_addr() else {
            return;
        };
        inbox.set_ip(first.into());
        log::info!(
            "{}: interfaces now {:?}",
            self.engine.name(),
            found
                .iter()
                .map(|i| format!("{} {}", i.name, i.addr))
                .collect::<Vec<_>>()
        );
        self.beacon_dests = found
            .iter()
            .map(|i| SocketAddr::from((i.broadcast, port)))
            .collect();
        self.engine.rebind(now, inbox, networks(&found));
        if let Some(w) = self.watch.as_mut() {
            w.current = found;
        }
        self.drain_outputs();
    }
}
