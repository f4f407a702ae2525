//! The ZMTP link layer, sans-IO: one [`Link`] per TCP connection runs the NULL
//! handshake and framing, and a [`Router`] manages the inbox's many accepted links
//! with libzmq's ROUTER semantics (identity from READY, handover on a duplicate).
//!
//! Neither touches a socket: the caller feeds received bytes in and takes bytes to
//! write out, so one thread (or a simulator) can drive any number of links.
//!
//! ```
//! use zmesh::engine::link::{Link, LinkEvent};
//! // Two links talking to each other through memory.
//! let mut dealer = Link::dealer(b"\x01dealer-identity", 1 << 20);
//! let mut router = Link::router(1 << 20);
//! dealer.send(&[&b"hello"[..]]); // held until the router's READY arrives
//! router.handle_bytes(&dealer.take_output());
//! assert!(matches!(router.poll(), Ok(Some(LinkEvent::Ready { .. }))));
//! dealer.handle_bytes(&router.take_output());
//! assert!(matches!(dealer.poll(), Ok(Some(LinkEvent::Ready { .. }))));
//! router.handle_bytes(&dealer.take_output());
//! assert_eq!(router.poll(), Ok(Some(LinkEvent::Message(vec![b"hello".to_vec()].into()))));
//! assert_eq!(router.peer_identity(), Some(&b"\x01dealer-identity"[..]));
//! ```

use super::hash::{FixedMap, KeyedState, SlimMap};
use std::fmt;
use std::hash::BuildHasher;
use std::net::SocketAddr;

use super::LinkId;
use crate::frames::Frames;
use crate::wire::zmtp::{self, Command, Decoder, Greeting, Item, GREETING_LEN};

mod pubsub;
mod records;
mod sealed;
use crate::wire::WireError;
pub use pubsub::{MAX_TOPICS, MAX_TOPIC_LEN};
pub(crate) use records::RoutingId;
use records::{Heard, Rare};
use sealed::CurveLink;

/// The socket type a link presents in its READY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The connecting side: a ZRE node's per-peer outbox.
    Dealer,
    /// The accepting side: a ZRE node's inbox.
    Router,
    /// A publisher (ZRE-LOG: a node to a collector).
    Pub,
    /// A subscriber (ZRE-LOG: a collector).
    Sub,
}

impl Role {
    fn socket_type(self) -> &'static str {
        match self {
            Role::Dealer => "DEALER",
            Role::Router => "ROUTER",
            Role::Pub => "PUB",
            Role::Sub => "SUB",
        }
    }

    /// Peer socket types that libzmq allows with this one.
    fn accepts(self, peer: &[u8]) -> bool {
        match self {
            Role::Dealer => matches!(peer, b"ROUTER" | b"DEALER" | b"REP"),
            Role::Router => matches!(peer, b"DEALER" | b"ROUTER" | b"REQ"),
            Role::Pub => matches!(peer, b"SUB" | b"XSUB"),
            Role::Sub => matches!(peer, b"PUB" | b"XPUB"),
        }
    }
}

/// What a link yields to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The peer's READY arrived: the handshake is complete.
    Ready {
        /// The peer's `Identity` property (possibly empty).
        identity: Vec<u8>,
        /// The peer's `Socket-Type` property.
        socket_type: String,
    },
    /// A whole multipart message.
    Message(Frames),
}

/// Why a link failed. Every variant means: close the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// The byte stream is not valid ZMTP (or exceeds the message limit).
    Wire(WireError),
    /// The peer sent an ERROR command.
    PeerError(String),
    /// The peer's socket type cannot talk to ours.
    BadSocketType(String),
    /// The peer broke the handshake order (a message before READY, a second READY).
    Handshake(&'static str),
    /// CURVE: a box that does not open, a wrong key, a replayed nonce, a command
    /// out of order, or clear text where boxes belong.
    Security(&'static str),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Wire(e) => write!(f, "ZMTP stream error: {e}"),
            LinkError::PeerError(r) => write!(f, "peer sent ERROR: {r}"),
            LinkError::BadSocketType(t) => write!(f, "incompatible peer socket type {t:?}"),
            LinkError::Handshake(what) => write!(f, "handshake violation: {what}"),
            LinkError::Security(what) => write!(f, "security: {what}"),
        }
    }
}

impl std::error::Error for LinkError {}

impl From<WireError> for LinkError {
    fn from(e: WireError) -> Self {
        LinkError::Wire(e)
    }
}

/// One ZMTP 3.1 NULL connection, either side.
///
/// The greeting and READY are queued at creation, so the first bytes written are
/// the full greeting: libzmq sends its own in stages and waits for ours, so waiting
/// for the peer's greeting first would deadlock.
#[derive(Debug)]
pub struct Link {
    role: Role,
    decoder: Decoder,
    out: Vec<u8>,
    greeting: Option<Heard>,
    /// Kept inline when short (ZRE's are 17 bytes): one allocation fewer per link.
    peer_identity: Option<RoutingId>,
    /// What few links need, or need only for a while (None: a NULL DEALER or
    /// ROUTER link past its handshake, which is most of a mesh's 2n² links).
    rare: Option<Box<Rare>>,
}

impl Link {
    fn new(role: Role, identity: &[u8], max_message: usize) -> Link {
        let mut out = Vec::with_capacity(GREETING_LEN + 64 + identity.len());
        out.extend_from_slice(&Greeting::null().encode());
        zmtp::encode_ready_into(&mut out, role.socket_type(), identity)
            .expect("identity fits a READY property"); // identities come from us, ≤ 255 bytes
        Link {
            role,
            decoder: Decoder::new(max_message),
            out,
            greeting: None,
            peer_identity: None,
            rare: None,
        }
    }

    /// A connecting DEALER presenting `identity` (ZRE uses `0x01` + UUID). Identities
    /// longer than 255 bytes are cut to 255, the ZMTP maximum.
    pub fn dealer(identity: &[u8], max_message: usize) -> Link {
        Link::new(
            Role::Dealer,
            &identity[..identity.len().min(255)],
            max_message,
        )
    }

    /// An accepting ROUTER-side link (empty identity, as libzmq sends).
    pub fn router(max_message: usize) -> Link {
        Link::new(Role::Router, b"", max_message)
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// True once the peer's READY has been received.
    pub fn is_ready(&self) -> bool {
        self.peer_identity.is_some()
    }

    /// The peer's identity, once ready: on a link a [`Router`] accepted, its
    /// routing id (one the router made up if the peer announced none).
    pub fn peer_identity(&self) -> Option<&[u8]> {
        self.peer_identity.as_ref().map(RoutingId::as_slice)
    }

    /// The peer's greeting, once received.
    pub fn peer_greeting(&self) -> Option<Greeting> {
        self.greeting.map(Heard::greeting)
    }

    /// The buffer messages go to: held back until the peer's READY arrives, because
    /// libzmq takes any message that reaches it before it has sent its own READY for
    /// a second handshake command and drops the connection.
    fn message_buf(&mut self) -> &mut Vec<u8> {
        if self.peer_identity.is_some() {
            &mut self.out
        } else {
            &mut self.rare().held
        }
    }

    /// Takes the messages held for the handshake (and the box they were in, if
    /// nothing else is in it).
    fn take_held(&mut self) -> Vec<u8> {
        let Some(r) = self.rare.as_mut() else {
            return Vec::new();
        };
        let held = std::mem::take(&mut r.held);
        if r.is_empty() {
            self.rare = None;
        }
        held
    }

    /// Queues a multipart message (held until the handshake completes).
    pub fn send<T: AsRef<[u8]>>(&mut self, frames: &[T]) {
        if let Some((mech, out)) = self.sealer() {
            let n = frames.len();
            for (i, f) in frames.iter().enumerate() {
                mech.seal_frame(out, u8::from(i + 1 < n), f.as_ref());
            }
            return;
        }
        zmtp::encode_message_into(self.message_buf(), frames);
    }

    /// Queues a message made of `first` followed by `rest`, without building a
    /// frame list (a ZRE header frame plus content frames).
    pub fn send_parts(&mut self, first: &[u8], rest: &Frames) {
        if let Some((mech, out)) = self.sealer() {
            mech.seal_frame(out, u8::from(!rest.is_empty()), first);
            let n = rest.len();
            for (i, f) in rest.iter().enumerate() {
                mech.seal_frame(out, u8::from(i + 1 < n), f);
            }
            return;
        }
        let buf = self.message_buf();
        // One allocation of the exact size when the buffer starts empty (it does after
        // every write), instead of growing it frame by frame. The rest is framed
        // already.
        buf.reserve(zmtp::frame_size(first.len()) + rest.encoded().len());
        zmtp::encode_frame_into(buf, !rest.is_empty(), first);
        buf.extend_from_slice(rest.encoded());
    }

    /// Takes the messages queued before a handshake that never completed: they were
    /// never written, so a new connection can carry them (as a libzmq socket keeps
    /// unsent messages across reconnects). Empty once the link is ready.
    pub fn take_unsent_messages(&mut self) -> Vec<u8> {
        if self.is_ready() {
            return Vec::new();
        }
        self.take_held()
    }

    /// Queues messages taken from an earlier link with
    /// [`Link::take_unsent_messages`], ahead of anything queued after them.
    pub fn restore_unsent_messages(&mut self, mut bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        bytes.extend_from_slice(self.message_buf());
        *self.message_buf() = bytes;
    }

    /// Bytes ready to be written now.
    pub fn pending_output(&self) -> usize {
        self.out.len()
    }

    /// Bytes queued in all: ready to write plus held for the handshake.
    pub fn queued(&self) -> usize {
        self.out.len() + self.rare.as_ref().map_or(0, |r| r.held.len())
    }

    /// Takes the bytes waiting to be written.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Appends the bytes waiting to be written to `buf`, leaving none queued.
    pub fn drain_output_into(&mut self, buf: &mut Vec<u8>) {
        if buf.is_empty() {
            std::mem::swap(buf, &mut self.out);
        } else {
            buf.append(&mut self.out);
        }
    }

    /// Feeds received bytes; call [`Link::poll`] until it returns `Ok(None)`.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        self.decoder.feed(bytes);
    }

    /// The next event, `Ok(None)` when more bytes are needed, or the error that
    /// ended the link (then the caller closes the connection). PING is answered with
    /// PONG here; PONG and unknown commands are absorbed.
    pub fn poll(&mut self) -> Result<Option<LinkEvent>, LinkError> {
        if let Some(e) = self.rare.as_ref().and_then(|r| r.failed.as_ref()) {
            return Err(e.clone());
        }
        let r = self.poll_inner();
        if let Err(e) = &r {
            self.rare().failed = Some(e.clone());
        }
        r
    }

    fn poll_inner(&mut self) -> Result<Option<LinkEvent>, LinkError> {
        if self.curve().is_some() {
            return self.poll_curve();
        }
        loop {
            let Some(item) = self.decoder.next_item()? else {
                return Ok(None);
            };
            match item {
                Item::Greeting(g) => self.greeting = Some(Heard::of(&g)),
                Item::Command(cmd) => match cmd {
                    Command::Ready(_) => {
                        if self.peer_identity.is_some() {
                            return Err(LinkError::Handshake("second READY"));
                        }
                        let socket_type = cmd.property("Socket-Type").unwrap_or_default();
                        if !self.role.accepts(socket_type) {
                            let t = String::from_utf8_lossy(socket_type).into_owned();
                            let _ = Command::Error("Invalid socket type".into())
                                .encode_into(&mut self.out);
                            return Err(LinkError::BadSocketType(t));
                        }
                        let identity = cmd.property("Identity").unwrap_or_default().to_vec();
                        self.peer_identity = Some(RoutingId::new(&identity));
                        let held = self.take_held();
                        self.out.extend_from_slice(&held);
                        if self.role == Role::Sub {
                            self.send_subscriptions();
                        }
                        return Ok(Some(LinkEvent::Ready {
                            identity,
                            socket_type: String::from_utf8_lossy(socket_type).into_owned(),
                        }));
                    }
                    Command::Error(reason) => return Err(LinkError::PeerError(reason)),
                    Command::Ping { context, .. } => {
                        if self.peer_identity.is_some() {
                            let _ = Command::Pong { context }.encode_into(&mut self.out);
                        }
                    }
                    Command::Unknown { name, data } if self.is_publisher() => {
                        self.subscription_command(&name, &data);
                    }
                    Command::Pong { .. } | Command::Unknown { .. } => {}
                },
                Item::Message(frames) => {
                    if self.peer_identity.is_none() {
                        return Err(LinkError::Handshake("message before READY"));
                    }
                    if self.is_publisher() {
                        self.subscription_message(&frames);
                        continue;
                    }
                    return Ok(Some(LinkEvent::Message(frames)));
                }
            }
        }
    }
}

/// What a [`Router`] tells its owner after being fed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterEvent {
    /// A link finished its handshake; `identity` is its routing id (the peer's
    /// `Identity`, or a generated `00` + counter one when the peer sent none).
    Connected {
        /// The link.
        link: LinkId,
        /// Its routing id.
        identity: Vec<u8>,
    },
    /// Handover: `old` had the same identity as a newer link and is no longer routed
    /// to. The owner closes it.
    Replaced {
        /// The link to close.
        old: LinkId,
    },
    /// A multipart message from the link's peer (read [`Router::identity`] for its
    /// routing id).
    Message {
        /// The link it came on.
        link: LinkId,
        /// The frames.
        frames: Frames,
    },
}

#[derive(Debug)]
struct Accepted {
    /// Its peer identity is the link's routing id (one the router generated, for
    /// a peer that announced none), kept once for both.
    link: Link,
    /// The address the connection came from, when the owner said (the port
    /// serves nothing: 17 bytes, not 32).
    source: Option<std::net::IpAddr>,
}

/// The ROUTER side of many accepted links, with `ROUTER_HANDOVER` semantics: a new
/// link presenting a known identity takes it over, and the old link is handed back
/// to the owner to close (a restarted peer's new connection is the canonical one).
/// Only from the holder's address, though: a link from another address keeps the
/// identity beside the holder, which stays where messages to it are routed.
#[derive(Debug)]
pub struct Router {
    /// Boxed so the table stays small and lookups touch little memory.
    links: FixedMap<LinkId, Box<Accepted>>,
    /// The link each routing id is routed to, by the id's hash under the
    /// node's key (ids are the network's choice); a lookup checks the link's id
    /// itself, so that a hash that collides finds nothing rather than the wrong
    /// link. A hash instead of a copy of the id saves a mesh of n nodes n² ids.
    by_identity: FixedMap<u64, LinkId>,
    identity_key: KeyedState,
    /// How many accepted links came from each source address, by the address's
    /// hash under the node's key (as `by_identity`: 16 bytes an entry where the
    /// address itself took 24), so that the per-address bound costs one lookup
    /// per accept rather than a walk over every link. Two addresses whose 64-bit
    /// keyed hashes collide would share one count: a bound that only tightens.
    from_ip: SlimMap<u32>,
    next_anonymous: u32,
    max_message: usize,
}

impl Router {
    /// A router whose links refuse messages larger than `max_message`.
    pub fn new(max_message: usize) -> Router {
        Router {
            links: FixedMap::default(),
            by_identity: FixedMap::default(),
            identity_key: KeyedState::default(),
            from_ip: SlimMap::default(),
            next_anonymous: 0,
            max_message,
        }
    }

    /// Hashes routing ids (which the network chooses) under `key` from now on.
    pub fn set_key(&mut self, key: KeyedState) {
        let links: Vec<LinkId> = self.by_identity.drain().map(|(_, l)| l).collect();
        self.identity_key = key;
        for l in links {
            if let Some(id) = self
                .links
                .get(&l)
                .and_then(|a| a.link.peer_identity.as_ref())
            {
                let h = key.hash_one(id.as_slice());
                self.by_identity.insert(h, l);
            }
        }
        self.from_ip.clear();
        for ip in self.links.values().filter_map(|a| a.source) {
            *self.from_ip.entry(key.hash_one(ip)).or_default() += 1;
        }
    }

    /// Registers an accepted connection. Its greeting and READY are queued at once.
    pub fn accept(&mut self, link: LinkId) {
        self.links.insert(
            link,
            Box::new(Accepted {
                link: Link::router(self.max_message),
                source: None,
            }),
        );
    }

    /// Registers an accepted link made by the owner (a CURVE server, say), which
    /// came from `source`.
    pub fn accept_link(&mut self, link: LinkId, made: Link, source: SocketAddr) {
        let k = self.identity_key.hash_one(source.ip());
        *self.from_ip.entry(k).or_default() += 1;
        self.links.insert(
            link,
            Box::new(Accepted {
                link: made,
                source: Some(source.ip()),
            }),
        );
    }

    /// How many accepted links came from `ip`.
    pub fn count_from(&self, ip: std::net::IpAddr) -> usize {
        let k = self.identity_key.hash_one(ip);
        self.from_ip.get(k).map_or(0, |&n| n as usize)
    }

    /// Forgets a link's record, and its count under its source address.
    fn drop_link(&mut self, link: LinkId) -> Option<Box<Accepted>> {
        let acc = self.links.remove(&link)?;
        if let Some(ip) = acc.source {
            let k = self.identity_key.hash_one(ip);
            if let Some(n) = self.from_ip.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    self.from_ip.remove(k);
                }
            }
        }
        Some(acc)
    }

    /// The address an accepted link came from, if the owner said.
    pub fn source_ip(&self, link: LinkId) -> Option<std::net::IpAddr> {
        self.links.get(&link)?.source
    }

    /// CURVE: the public key the client on `link` authenticated with.
    pub fn peer_key(&self, link: LinkId) -> Option<[u8; 32]> {
        self.links.get(&link)?.link.peer_key().copied()
    }

    /// True if `link` is one of this router's and has finished its handshake.
    pub fn is_ready(&self, link: LinkId) -> bool {
        self.links.get(&link).is_some_and(|a| a.link.is_ready())
    }

    /// True if `link` is one of this router's.
    pub fn contains(&self, link: LinkId) -> bool {
        self.links.contains_key(&link)
    }

    /// Number of accepted links.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// The accepted links, in id order.
    pub fn links(&self) -> Vec<LinkId> {
        let mut v: Vec<LinkId> = self.links.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// True when no link is accepted.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// The routing id of a link, once it is ready.
    pub fn identity(&self, link: LinkId) -> Option<&[u8]> {
        self.links.get(&link)?.link.peer_identity()
    }

    /// Feeds bytes received on `link` and appends what they produce to `events`. On
    /// `Err` the link is already forgotten and the owner closes it.
    pub fn handle_bytes(
        &mut self,
        link: LinkId,
        bytes: &[u8],
        events: &mut Vec<RouterEvent>,
    ) -> Result<(), LinkError> {
        let Some(acc) = self.links.get_mut(&link) else {
            return Ok(());
        };
        acc.link.handle_bytes(bytes);
        loop {
            let acc = self.links.get_mut(&link).expect("link present");
            match acc.link.poll() {
                Ok(None) => return Ok(()),
                Ok(Some(LinkEvent::Message(frames))) => {
                    events.push(RouterEvent::Message { link, frames })
                }
                Ok(Some(LinkEvent::Ready { identity, .. })) => {
                    // libzmq: an identity must be non-empty and not start with 0,
                    // otherwise the router generates one.
                    let announced = identity.first().is_some_and(|&b| b != 0);
                    let id = if announced {
                        identity
                    } else {
                        self.next_anonymous = self.next_anonymous.wrapping_add(1);
                        let mut id = vec![0u8];
                        id.extend_from_slice(&self.next_anonymous.to_be_bytes());
                        id
                    };
                    // CURVE: a connection takes over a known identity only with the
                    // key the identity's connection authenticated with, so that an
                    // impostor cannot push the real peer's connection out.
                    let key = acc.link.peer_key().copied();
                    let held_by = self.routed(&id).filter(|o| *o != link);
                    let old_key = held_by
                        .and_then(|o| self.links.get(&o))
                        .and_then(|a| a.link.peer_key().copied());
                    if old_key.is_some() && old_key != key {
                        self.remove(link);
                        return Err(LinkError::Security(
                            "CURVE: another key under a known identity",
                        ));
                    }
                    // From another address the newcomer does not push the holder
                    // out: a neighbour could otherwise cut any peer's connection by
                    // presenting its identity. Both stay; the owner decides whose
                    // messages count (the engine: by the address a peer's HELLO
                    // came from).
                    let source_ip = |l: &LinkId| self.links.get(l).and_then(|a| a.source);
                    let elsewhere = held_by.is_some_and(|o| source_ip(&o) != source_ip(&link));
                    let acc = self.links.get_mut(&link).expect("link present");
                    if !announced {
                        acc.link.peer_identity = Some(RoutingId::new(&id));
                    }
                    if elsewhere {
                        events.push(RouterEvent::Connected { link, identity: id });
                        continue;
                    }
                    let h = self.identity_key.hash_one(&id[..]);
                    if let Some(old) = self.by_identity.insert(h, link) {
                        // Only the link that held this very id is replaced (under a
                        // colliding hash, the other id just loses its route).
                        if old != link && Some(old) == held_by {
                            self.drop_link(old);
                            events.push(RouterEvent::Replaced { old });
                        }
                    }
                    events.push(RouterEvent::Connected { link, identity: id });
                }
                Err(e) => {
                    self.remove(link);
                    return Err(e);
                }
            }
        }
    }

    /// The link messages to `identity` are routed to, if any.
    fn routed(&self, identity: &[u8]) -> Option<LinkId> {
        let h = self.identity_key.hash_one(identity);
        let link = *self.by_identity.get(&h)?;
        let acc = self.links.get(&link)?;
        (acc.link.peer_identity() == Some(identity)).then_some(link)
    }

    /// Sends a message to the link routed by `identity`; false (dropped) if none is.
    pub fn send<F: AsRef<[u8]>>(&mut self, identity: &[u8], frames: &[F]) -> bool {
        let Some(link) = self.routed(identity) else {
            return false;
        };
        match self.links.get_mut(&link) {
            Some(acc) => {
                acc.link.send(frames);
                true
            }
            None => false,
        }
    }

    /// Sends a message on one link, whatever its identity; false if there is none.
    pub fn send_on<F: AsRef<[u8]>>(&mut self, link: LinkId, frames: &[F]) -> bool {
        match self.links.get_mut(&link) {
            Some(acc) => {
                acc.link.send(frames);
                true
            }
            None => false,
        }
    }

    /// Bytes waiting to be written on `link`.
    pub fn pending_output(&self, link: LinkId) -> usize {
        self.links.get(&link).map_or(0, |a| a.link.pending_output())
    }

    /// Takes the bytes waiting to be written on `link`.
    pub fn take_output(&mut self, link: LinkId) -> Vec<u8> {
        self.links
            .get_mut(&link)
            .map(|a| a.link.take_output())
            .unwrap_or_default()
    }

    /// Forgets a link (it closed, or the owner closed it).
    pub fn remove(&mut self, link: LinkId) {
        if let Some(acc) = self.drop_link(link) {
            if let Some(id) = acc.link.peer_identity {
                let h = self.identity_key.hash_one(id.as_slice());
                if self.by_identity.get(&h) == Some(&link) {
                    self.by_identity.remove(&h);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pump(a: &mut Link, b: &mut Link) {
        let x = a.take_output();
        b.handle_bytes(&x);
        let y = b.take_output();
        a.handle_bytes(&y);
    }

    /// What a link keeps of a greeting gives back the greeting it heard, for
    /// either mechanism, either side and any version.
    /// A mesh of n nodes holds 2n² links: the rare parts stay out of line, and a
    /// NULL link past its handshake has none.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_plain_link_stays_small() {
        assert!(
            std::mem::size_of::<Link>() <= 88,
            "{}",
            std::mem::size_of::<Link>()
        );
        // An accepted link's record is boxed: 112 bytes take a 128-byte block.
        let accepted = std::mem::size_of::<Accepted>();
        assert!(accepted <= 112, "{accepted}");
        let (mut a, mut b) = (Link::dealer(b"\x01abc", 1 << 20), Link::router(1 << 20));
        a.send(&[b"held until READY"]);
        assert!(a.rare.is_some());
        for _ in 0..4 {
            let (ab, ba) = (a.take_output(), b.take_output());
            b.handle_bytes(&ab);
            a.handle_bytes(&ba);
            while let Ok(Some(_)) = a.poll() {}
            while let Ok(Some(_)) = b.poll() {}
        }
        assert!(a.is_ready() && b.is_ready());
        assert!(a.rare.is_none() && b.rare.is_none());
        assert_eq!(a.queued(), 0);
    }

    #[test]
    fn a_heard_greeting_comes_back_whole() {
        for mut g in [
            Greeting::null(),
            Greeting::curve(false),
            Greeting::curve(true),
        ] {
            for (major, minor, as_server) in [(3, 0, false), (3, 1, true), (4, 7, false)] {
                (g.major, g.minor, g.as_server) = (major, minor, as_server);
                assert_eq!(Heard::of(&g).greeting(), g);
            }
        }
        let mut d = Link::dealer(b"\x01d", 1024);
        let mut r = Link::router(1024);
        assert_eq!(d.peer_greeting(), None);
        pump(&mut d, &mut r);
        while let Ok(Some(_)) = r.poll() {}
        while let Ok(Some(_)) = d.poll() {}
        assert_eq!(d.peer_greeting(), Some(Greeting::null()));
        assert_eq!(r.peer_greeting(), Some(Greeting::null()));
    }

    #[test]
    fn handshake_and_ping() {
        let mut d = Link::dealer(b"\x01abc", 1024);
        let mut r = Link::router(1024);
        pump(&mut d, &mut r);
        assert_eq!(
            r.poll(),
            Ok(Some(LinkEvent::Ready {
                identity: b"\x01abc".to_vec(),
                socket_type: "DEALER".into()
            }))
        );
        assert!(matches!(d.poll(), Ok(Some(LinkEvent::Ready { .. }))));
        // A PING on the dealer's side is answered with a PONG carrying its context.
        let mut ping = Vec::new();
        Command::Ping {
            ttl: 10,
            context: b"ab".to_vec(),
        }
        .encode_into(&mut ping)
        .unwrap();
        r.handle_bytes(&ping);
        assert_eq!(r.poll(), Ok(None));
        let mut pong = Vec::new();
        Command::Pong {
            context: b"ab".to_vec(),
        }
        .encode_into(&mut pong)
        .unwrap();
        assert_eq!(r.take_output(), pong);
    }

    #[test]
    fn refuses_bad_socket_type_and_message_before_ready() {
        let mut a = Link::router(1024);
        let mut b = Link::router(1024);
        pump(&mut a, &mut b);
        // ROUTER-ROUTER is allowed by libzmq.
        assert!(matches!(a.poll(), Ok(Some(LinkEvent::Ready { .. }))));
        let mut d = Link::dealer(b"x", 1024);
        let mut bytes = Greeting::null().encode().to_vec();
        Command::ready("PUB", b"").encode_into(&mut bytes).unwrap();
        d.handle_bytes(&bytes);
        let _ = d.take_output();
        assert_eq!(d.poll(), Err(LinkError::BadSocketType("PUB".into())));
        assert!(d.take_output().ends_with(b"Invalid socket type"));
        let mut d = Link::dealer(b"x", 1024);
        let mut bytes = Greeting::null().encode().to_vec();
        zmtp::encode_message_into(&mut bytes, &[b"early"]);
        d.handle_bytes(&bytes);
        assert_eq!(d.poll(), Err(LinkError::Handshake("message before READY")));
        assert!(d.poll().is_err(), "stays failed");
    }

    fn connect(router: &mut Router, id: LinkId, identity: &[u8]) -> (Link, Vec<RouterEvent>) {
        let mut d = Link::dealer(identity, 1024);
        router.accept(id);
        let mut ev = Vec::new();
        router.handle_bytes(id, &d.take_output(), &mut ev).unwrap();
        d.handle_bytes(&router.take_output(id));
        assert!(matches!(d.poll(), Ok(Some(LinkEvent::Ready { .. }))));
        (d, ev)
    }

    #[test]
    fn router_identity_routing_and_handover() {
        let mut r = Router::new(1024);
        let (mut d1, ev) = connect(&mut r, LinkId(1), b"\x01peer");
        assert_eq!(
            ev,
            vec![RouterEvent::Connected {
                link: LinkId(1),
                identity: b"\x01peer".to_vec()
            }]
        );
        let (_d2, ev) = connect(&mut r, LinkId(2), b"");
        assert_eq!(
            ev,
            vec![RouterEvent::Connected {
                link: LinkId(2),
                identity: vec![0, 0, 0, 0, 1]
            }]
        );
        assert!(r.send(b"\x01peer", &[b"to-d1"]));
        assert!(!r.send(b"\x01nobody", &[b"x"]));
        d1.handle_bytes(&r.take_output(LinkId(1)));
        assert_eq!(
            d1.poll(),
            Ok(Some(LinkEvent::Message(vec![b"to-d1".to_vec()].into())))
        );
        // The same identity again: the new link takes over, the old one is handed back.
        let (_d3, ev) = connect(&mut r, LinkId(3), b"\x01peer");
        assert_eq!(ev[0], RouterEvent::Replaced { old: LinkId(1) });
        assert!(!r.contains(LinkId(1)));
        assert_eq!(r.identity(LinkId(3)), Some(&b"\x01peer"[..]));
        // Removing the replaced link later does not unroute the new one.
        r.remove(LinkId(1));
        assert!(r.send(b"\x01peer", &[b"x"]));
        assert!(r.pending_output(LinkId(3)) > 0);
        // Under a new key the routes are rehashed, not lost.
        r.set_key(KeyedState::from_seed(&[9; 32]));
        assert_eq!(r.routed(b"\x01peer"), Some(LinkId(3)));
        assert_eq!(r.routed(&[0, 0, 0, 0, 1]), Some(LinkId(2)));
        // The index holds hashes: an entry whose hash matches but whose link holds
        // another id (a collision) routes nothing.
        let h = r.identity_key.hash_one(&b"\x01other"[..]);
        r.by_identity.insert(h, LinkId(3));
        assert_eq!(r.routed(b"\x01other"), None);
        assert!(!r.send(b"\x01other", &[b"x"]));
        // A newcomer whose id collides with a held one does not push the holder out.
        let (_d4, ev) = connect(&mut r, LinkId(4), b"\x01other");
        assert_eq!(
            ev,
            vec![RouterEvent::Connected {
                link: LinkId(4),
                identity: b"\x01other".to_vec()
            }]
        );
        assert!(r.contains(LinkId(3)));
    }

    /// Connects a dealer under `identity` from `from` (an accepted link with a source).
    fn connect_from(
        router: &mut Router,
        id: LinkId,
        identity: &[u8],
        from: &str,
    ) -> Vec<RouterEvent> {
        let mut d = Link::dealer(identity, 1024);
        router.accept_link(id, Link::router(1024), from.parse().unwrap());
        let mut ev = Vec::new();
        router.handle_bytes(id, &d.take_output(), &mut ev).unwrap();
        ev
    }

    #[test]
    fn only_the_holders_address_hands_an_identity_over() {
        let mut r = Router::new(1024);
        connect_from(&mut r, LinkId(1), b"\x01peer", "10.0.0.1:4000");
        // Another address presents the identity: both links stay, messages to the
        // identity still go to the holder.
        let ev = connect_from(&mut r, LinkId(2), b"\x01peer", "10.0.0.66:4000");
        assert_eq!(
            ev,
            vec![RouterEvent::Connected {
                link: LinkId(2),
                identity: b"\x01peer".to_vec()
            }]
        );
        assert!(r.contains(LinkId(1)) && r.contains(LinkId(2)));
        r.take_output(LinkId(1));
        assert!(r.send(b"\x01peer", &[b"x"]));
        assert!(r.pending_output(LinkId(1)) > 0);
        // The holder's own address (a restart): the old link is handed back.
        let ev = connect_from(&mut r, LinkId(3), b"\x01peer", "10.0.0.1:4001");
        assert_eq!(ev[0], RouterEvent::Replaced { old: LinkId(1) });
        assert_eq!(r.count_from("10.0.0.1".parse().unwrap()), 1);
    }

    #[test]
    fn router_keeps_short_and_long_identities() {
        let mut r = Router::new(1024);
        let short = [1u8; 22];
        let long = [7u8; 200];
        connect(&mut r, LinkId(1), &short);
        connect(&mut r, LinkId(2), &long);
        assert_eq!(r.identity(LinkId(1)), Some(&short[..]));
        assert_eq!(r.identity(LinkId(2)), Some(&long[..]));
        r.remove(LinkId(2));
        assert!(!r.send(&long, &[b"x"]));
        assert!(r.send(&short, &[b"x"]));
    }

    proptest! {
        #[test]
        fn router_random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut r = Router::new(4096);
            r.accept(LinkId(9));
            let mut ev = Vec::new();
            let mut greeting = Greeting::null().encode().to_vec();
            greeting.extend_from_slice(&bytes);
            let _ = r.handle_bytes(LinkId(9), &greeting, &mut ev);
        }
    }
}
