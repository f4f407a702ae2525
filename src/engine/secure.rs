//! CURVE mode (see [`Config::curve`](super::Config::curve)): which links a node
//! makes, which beacons it hears, and the rule that a key, not a UUID, is what a
//! peer is.

use rand::SeedableRng;

use super::link::Link;
use super::{Engine, LinkId};
use crate::event::PeerId;
use crate::wire::beacon::Beacon;
use crate::wire::zre::Hello;

impl Engine {
    /// Seeds the generator CURVE handshakes draw keys and nonces from. The driver
    /// seeds it from the OS; a simulator from its seed, to stay deterministic.
    pub fn seed_random(&mut self, seed: [u8; 32]) {
        self.rng = rand::rngs::StdRng::from_seed(seed);
        self.set_table_key(&seed);
    }

    /// Keys the tables whose keys come from the network (see
    /// [`hash::KeyedState`](super::hash::KeyedState)).
    pub(super) fn set_table_key(&mut self, seed: &[u8]) {
        let key = super::hash::KeyedState::from_seed(seed);
        self.peers.set_key(key);
        self.inbox.set_key(key);
    }

    /// A new outgoing link to a peer whose public key is `key`; None in CURVE mode
    /// without a key (the peer cannot be reached).
    pub(super) fn dealer_link(&mut self, key: Option<[u8; 32]>) -> Option<Link> {
        let max = self.config.max_message;
        Some(match &self.config.curve {
            None => Link::dealer(&self.identity, max),
            Some(keys) => {
                Link::curve_dealer(&self.identity, max, keys.clone(), key?, &mut self.rng)
            }
        })
    }

    /// The value of our gossip tuple: our endpoint, and in CURVE mode `|` and our
    /// public key, as Zyre writes it.
    pub(super) fn own_tuple_value(&self) -> String {
        let endpoint = self.endpoint.clone().unwrap_or_default();
        match &self.config.curve {
            None => endpoint,
            Some(keys) => {
                let z = crate::wire::z85::encode(keys.public()).unwrap_or_default();
                format!("{endpoint}|{z}")
            }
        }
    }

    /// True unless an allow-list leaves `key` out (then counted and logged).
    pub(super) fn key_allowed(&mut self, key: &[u8; 32]) -> bool {
        let ok = self.config.allow.as_ref().is_none_or(|a| a.contains(key));
        if !ok {
            let z = crate::wire::z85::encode(key).unwrap_or_default();
            log::info!("{}: key {z} is not on the allow-list", self.config.name);
            self.stats.not_allowed += 1;
        }
        ok
    }

    /// True if the client on inbox `link` may stay: plain mode, or its key is
    /// allowed.
    pub(super) fn inbox_key_allowed(&mut self, link: LinkId) -> bool {
        if self.config.curve.is_none() {
            return true;
        }
        match self.inbox.peer_key(link) {
            Some(k) => self.key_allowed(&k),
            None => false,
        }
    }

    /// A new link for a connection accepted on our inbox.
    pub(super) fn inbox_link(&mut self) -> Link {
        let max = self.config.max_message;
        match &self.config.curve {
            None => Link::router(max),
            Some(keys) => Link::curve_router(max, keys.clone(), &mut self.rng),
        }
    }

    /// True if the beacon is of our mode: a plain node hears version 1, a CURVE
    /// node version 3 with a key (a key whose first byte is zero counts as none, as
    /// in Zyre). Others are counted and ignored.
    pub(super) fn beacon_usable(&mut self, beacon: &Beacon) -> bool {
        let ok = match (&self.config.curve, beacon.public_key) {
            (None, None) => true,
            (Some(_), Some(k)) => k[0] != 0,
            _ => false,
        };
        if !ok {
            self.stats.wrong_security += 1;
        }
        ok
    }

    /// CURVE: a message on inbox `link` from `id` may be heard only if the key the
    /// link authenticated with is the one `id` is known by, and a HELLO only if its
    /// `X-PUBLICKEY` names that key. A spoofed beacon or HELLO cannot take over a
    /// peer. The authenticated key, or None (dropped, counted) if the message may
    /// not be heard; always Some(None) in plain mode.
    pub(super) fn sender_key(
        &mut self,
        link: LinkId,
        id: PeerId,
        hello: Option<&Hello>,
    ) -> Option<Option<[u8; 32]>> {
        if self.config.curve.is_none() {
            return Some(None);
        }
        let authed = self.inbox.peer_key(link);
        let announced = hello.map(|h| {
            h.headers
                .iter()
                .find(|(k, _)| k == "X-PUBLICKEY")
                .and_then(|(_, v)| crate::wire::z85::decode_key(v))
        });
        let known = self.peers.get(&id).and_then(|p| p.key.as_deref().copied());
        let ok = authed.is_some()
            && announced.is_none_or(|a| a.is_some() && a == authed)
            && known.is_none_or(|k| Some(k) == authed);
        if !ok {
            log::debug!(
                "{}: {id} is not who its key says: dropped",
                self.config.name
            );
            self.stats.key_mismatch += 1;
            return None;
        }
        Some(authed)
    }
}
