//! Where this node is: the networks its inbox listens on (which address each peer
//! is told) and a move to a new address.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use super::{endpoint_of, Engine};
use crate::event::PeerId;

/// Where the node is on IPv6 (see [`Engine::set_v6`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V6Place {
    /// The address IPv6 peers are told.
    pub addr: Ipv6Addr,
    /// The link-local address peers at link-local addresses are told.
    pub link_local: Option<Ipv6Addr>,
    /// The interface's index: the scope of link-local addresses.
    pub index: u32,
}

impl Engine {
    /// The networks (address, netmask) the inbox is reachable on, when it listens
    /// on more than one: the HELLO to a peer on one of them names our address on
    /// that network instead of the first, which the peer may have no route to.
    pub fn set_networks(&mut self, networks: Vec<(Ipv4Addr, Ipv4Addr)>) {
        self.networks = networks;
    }

    /// Our IPv6 address, our link-local one, and the index of their interface,
    /// when the inbox takes IPv6 as well as (or instead of) IPv4: a peer at an
    /// IPv6 address is told the first, or the link-local one if it is at a
    /// link-local address itself (it may have no route to the other).
    pub fn set_v6(&mut self, v6: Option<V6Place>) {
        self.v6 = v6;
    }

    /// `addr` with our interface's scope if it is link-local IPv6 without one (an
    /// endpoint from a HELLO or gossip, where scopes are left out).
    pub(super) fn scoped(&self, addr: SocketAddr) -> SocketAddr {
        match (addr, self.v6) {
            (SocketAddr::V6(mut a), Some(v6))
                if a.scope_id() == 0 && a.ip().is_unicast_link_local() =>
            {
                a.set_scope_id(v6.index);
                SocketAddr::V6(a)
            }
            _ => addr,
        }
    }

    /// The endpoint to tell a peer at `addr` (see [`Engine::set_networks`] and
    /// [`Engine::set_v6`]).
    pub(super) fn endpoint_for(&self, addr: SocketAddr) -> String {
        let ours = self.endpoint.clone().unwrap_or_default();
        if self.config.advertised_endpoint.is_some() {
            return ours;
        }
        let ip = match addr.ip() {
            IpAddr::V4(ip) => ip,
            IpAddr::V6(v6) => match (v6.to_ipv4_mapped(), self.v6) {
                (Some(ip), _) => ip,
                (None, Some(mine)) => {
                    let ip = match mine.link_local {
                        Some(ll) if v6.is_unicast_link_local() => ll,
                        _ => mine.addr,
                    };
                    return endpoint_of(SocketAddr::new(ip.into(), self.port));
                }
                (None, None) => return ours,
            },
        };
        let mask = |a: Ipv4Addr, m: Ipv4Addr| u32::from(a) & u32::from(m);
        match self
            .networks
            .iter()
            .find(|(a, m)| mask(*a, *m) == mask(ip, *m))
        {
            Some((a, _)) => endpoint_of(SocketAddr::new((*a).into(), self.port)),
            None => ours,
        }
    }

    /// Our address changed (a DHCP renewal, roaming): the inbox now listens at
    /// `inbox`, on `networks` (see [`Engine::set_networks`]; empty with one
    /// interface) and at `v6` (see [`Engine::set_v6`]). Every peer that we would now tell another endpoint than before
    /// gets a fresh link that starts with a HELLO naming the new one (zmesh peers
    /// take a HELLO that moves a known peer to a new address on the same port as a
    /// move, not a restart: no EXIT, no ENTER), and its next message is taken
    /// whatever its sequence number (what was in flight on the dead links is lost).
    /// Peers that would be told the same endpoint (on a network whose address did
    /// not change) keep their links. Our gossip tuple is published again.
    pub fn rebind(
        &mut self,
        now: Instant,
        inbox: SocketAddr,
        networks: Vec<(Ipv4Addr, Ipv4Addr)>,
        v6: Option<V6Place>,
    ) {
        self.now = Some(now);
        if !self.is_running() {
            self.networks = networks;
            self.v6 = v6;
            return;
        }
        let told: Vec<(PeerId, SocketAddr, String)> = self
            .peers
            .ids()
            .into_iter()
            .filter_map(|id| {
                let addr = self.peers.get(&id)?.addr();
                Some((id, addr, self.endpoint_for(addr)))
            })
            .collect();
        let before = self.endpoint.clone();
        if self.config.advertised_endpoint.is_none() {
            self.endpoint = Some(endpoint_of(inbox));
            self.port = inbox.port();
        }
        self.networks = networks;
        self.v6 = v6;
        let moved: BTreeSet<PeerId> = told
            .into_iter()
            .filter(|(_, addr, was)| self.endpoint_for(*addr) != *was)
            .map(|(id, _, _)| id)
            .collect();
        if moved.is_empty() && self.endpoint == before {
            return;
        }
        log::info!(
            "{}: now at {} ({} peers told)",
            self.config.name,
            self.endpoint.as_deref().unwrap_or_default(),
            moved.len()
        );
        // Their links into our inbox went with the old address.
        for link in self.inbox.links() {
            if super::links::inbox_peer(&self.inbox, link).is_some_and(|id| moved.contains(&id)) {
                self.inbox.remove(link);
                self.out.close(link);
            }
        }
        for id in moved {
            self.new_link_to(id, true);
            if let Some(p) = self.peers.get_mut(&id) {
                p.resync = true;
            }
        }
        self.gossip_moved(now);
    }
}
