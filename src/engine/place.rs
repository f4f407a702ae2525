//! Where this node is: the networks its inbox listens on (which address each peer
//! is told) and a move to a new address.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use super::link::Router;
use super::Engine;

impl Engine {
    /// The networks (address, netmask) the inbox is reachable on, when it listens
    /// on more than one: the HELLO to a peer on one of them names our address on
    /// that network instead of the first, which the peer may have no route to.
    pub fn set_networks(&mut self, networks: Vec<(Ipv4Addr, Ipv4Addr)>) {
        self.networks = networks;
    }

    /// The endpoint to tell a peer at `addr` (see [`Engine::set_networks`]).
    pub(super) fn endpoint_for(&self, addr: SocketAddr) -> String {
        let ours = self.endpoint.clone().unwrap_or_default();
        let std::net::IpAddr::V4(ip) = addr.ip() else {
            return ours;
        };
        if self.config.advertised_endpoint.is_some() {
            return ours;
        }
        let mask = |a: Ipv4Addr, m: Ipv4Addr| u32::from(a) & u32::from(m);
        match self
            .networks
            .iter()
            .find(|(a, m)| mask(*a, *m) == mask(ip, *m))
        {
            Some((a, _)) => format!("tcp://{}", SocketAddr::new((*a).into(), self.port)),
            None => ours,
        }
    }

    /// Our address changed (a DHCP renewal, roaming): the inbox now listens at
    /// `inbox`. Every link we had is dead with the old address, so each peer gets a
    /// fresh link that starts with a HELLO naming the new endpoint (zmesh peers
    /// take a HELLO that moves a known peer to a new address on the same port as a
    /// move, not a restart: no EXIT, no ENTER), and the next message from each peer
    /// is taken whatever its sequence number (what was in flight on the dead links
    /// is lost). Our gossip tuple is published again with the new endpoint.
    pub fn rebind(&mut self, now: Instant, inbox: SocketAddr) {
        self.now = Some(now);
        if !self.is_running() {
            return;
        }
        if self.config.advertised_endpoint.is_none() {
            self.endpoint = Some(format!("tcp://{inbox}"));
            self.port = inbox.port();
        }
        log::info!(
            "{}: now at {}",
            self.config.name,
            self.endpoint.as_deref().unwrap_or_default()
        );
        for link in self.inbox.links() {
            self.out.close(link);
        }
        self.inbox = Router::tagged(self.config.max_message);
        for id in self.peers.ids() {
            self.new_link_to(id, true);
            if let Some(p) = self.peers.get_mut(&id) {
                p.resync = true;
            }
        }
        self.gossip_moved(now);
    }
}
