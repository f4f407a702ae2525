//! One remote peer: its outgoing link, sequence numbers, status counter and liveness.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::endpoint_of;
use super::info::PeerFigures;
use super::link::Link;
use super::LinkId;
use crate::event::PeerId;
use crate::frames::Frames;
use crate::name::Name;
use crate::wire::zre::{Body, ZreMessage};

/// Everything the engine knows about one peer.
///
/// `repr(C)` keeps the fields every message touches (readiness, sequence numbers,
/// timers) together at the start, in one cache line: peer lookups are the engine's
/// hottest memory accesses.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Peer {
    pub(crate) id: PeerId,
    /// When it was last heard from (any message, or bytes left unread for it).
    /// Its EVASIVE and EXIT deadlines follow from it and the engine's timeouts
    /// (see [`Peer::after`]), rather than being kept in each of n² records.
    pub(crate) heard_at: Instant,
    /// Our outgoing (DEALER) link to the peer's inbox.
    pub(crate) link_id: LinkId,
    /// CURVE: the public key the peer announced (beacon, gossip or HELLO), which
    /// our link to it expects and its links into our inbox must present.
    /// Boxed: a plain mesh has no keys, and n² peer records would carry 32
    /// bytes of nothing each.
    pub(crate) key: Option<Box<[u8; 32]>>,
    /// Which entry of the peer table's deadline queue is this peer's (set on
    /// insert); read with the deadlines, so in the same cache line.
    pub(crate) due_stamp: u32,
    /// The last sequence number we sent on our link (HELLO is 1).
    pub(crate) sent_sequence: u16,
    /// The sequence number we expect next from it.
    pub(crate) want_sequence: u16,
    /// True once its HELLO arrived.
    pub(crate) ready: bool,
    /// True once one of our links to it finished its handshake, which is when our
    /// HELLO (queued first) went out.
    pub(crate) hello_out: bool,
    /// Our copy of its group status counter.
    pub(crate) status: u8,
    /// Take its next sequence number as it comes: our address changed and the
    /// links it had to us died with what was in them.
    pub(crate) resync: bool,
    /// Connects in a row that closed before their handshake finished: while the
    /// peer has not entered, each doubles the wait before the next.
    pub(crate) failed_connects: u8,
    /// Where its accepted HELLO came from: mostly its own address, so that the
    /// address itself is kept (in `rare`) only when it is another.
    inbox_at: InboxAt,
    /// What few peers have, or have only for a while (a pending reconnect, a
    /// PING for unread bytes, headers, an endpoint that is not its address
    /// written out, a HELLO from another address than its own): one box, 8 bytes
    /// instead of 96 in each of a mesh's n² records.
    rare: Option<Box<Rare>>,
    pub(crate) link: Link,
    /// Where its endpoint points; changed only with it ([`Peer::set_place`]).
    addr: CompactAddr,
    pub(crate) name: Name,
    pub(crate) groups: PeerGroups,
    /// Traffic, reconnects and the last round trip (reported in [`PeerInfo`](super::PeerInfo)).
    pub(crate) figures: Counters,
    /// When our oldest unanswered PING went out: its PING-OK gives the round trip.
    pub(crate) ping_at: Option<Instant>,
}

/// Where a peer's accepted HELLO came from: only messages from there count (see
/// `takeover.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InboxAt {
    /// No HELLO taken yet.
    Unknown,
    /// The IP address of its endpoint.
    Addr,
    /// Another, kept in the rare parts.
    Elsewhere,
}

/// The parts of a peer record most peers do without.
#[derive(Debug, Default)]
struct Rare {
    /// When the broken outgoing link is due to be connected again; while set, the
    /// link's output waits in `link`.
    reconnect_at: Option<Instant>,
    /// When we last pinged it because its bytes sat unread (the application was
    /// behind).
    unread_ping_at: Option<Instant>,
    /// The headers of its HELLO.
    headers: BTreeMap<String, String>,
    /// The endpoint we connect to (from the beacon or the HELLO), when it is not
    /// just the address written out (see [`Peer::endpoint`]): most are, and n²
    /// copies of "tcp://a.b.c.d:port" cost a heap block each.
    endpoint_text: Option<Box<str>>,
    /// Where its accepted HELLO came from, when not its endpoint's address.
    inbox_ip: Option<std::net::IpAddr>,
}

impl Rare {
    fn is_empty(&self) -> bool {
        self.reconnect_at.is_none()
            && self.unread_ping_at.is_none()
            && self.headers.is_empty()
            && self.endpoint_text.is_none()
            && self.inbox_ip.is_none()
    }
}

/// A socket address in 16 bytes where `SocketAddr` takes 32: IPv4 inline, IPv6
/// (rare in a mesh, and n² records hold one each) boxed.
#[derive(Debug)]
enum CompactAddr {
    V4(std::net::SocketAddrV4),
    V6(Box<std::net::SocketAddrV6>),
}

impl CompactAddr {
    fn new(addr: SocketAddr) -> CompactAddr {
        match addr {
            SocketAddr::V4(a) => CompactAddr::V4(a),
            SocketAddr::V6(a) => CompactAddr::V6(Box::new(a)),
        }
    }

    fn get(&self) -> SocketAddr {
        match self {
            CompactAddr::V4(a) => SocketAddr::V4(*a),
            CompactAddr::V6(a) => SocketAddr::V6(**a),
        }
    }
}

/// The endpoint's text when [`endpoint_of`] the address does not give it back.
fn spelt_out(endpoint: &str, addr: SocketAddr) -> Option<Box<str>> {
    (endpoint_of(addr) != endpoint).then(|| endpoint.into())
}

/// Headers of a peer that announced none.
static NO_HEADERS: BTreeMap<String, String> = BTreeMap::new();

/// A peer's [`PeerFigures`] but the time since it was heard, which is worked out
/// when they are reported (16 bytes fewer in each of a mesh's n² peer records).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counters {
    pub(crate) messages_in: u64,
    pub(crate) bytes_in: u64,
    pub(crate) messages_out: u64,
    pub(crate) bytes_out: u64,
    pub(crate) reconnects: u32,
    /// The last round trip in nanoseconds, `u64::MAX` for none (8 bytes where an
    /// `Option<Duration>` takes 16).
    round_trip_ns: u64,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            messages_in: 0,
            bytes_in: 0,
            messages_out: 0,
            bytes_out: 0,
            reconnects: 0,
            round_trip_ns: u64::MAX,
        }
    }
}

impl Counters {
    /// The last round trip, if a PING was ever answered.
    pub(crate) fn round_trip(&self) -> Option<std::time::Duration> {
        (self.round_trip_ns != u64::MAX)
            .then(|| std::time::Duration::from_nanos(self.round_trip_ns))
    }

    /// A round trip of 584 years or more is kept as just under.
    pub(crate) fn set_round_trip(&mut self, d: std::time::Duration) {
        self.round_trip_ns = u64::try_from(d.as_nanos())
            .unwrap_or(u64::MAX - 1)
            .min(u64::MAX - 1);
    }

    /// The figures to report, `since_heard` ago.
    pub(crate) fn report(&self, since_heard: std::time::Duration) -> PeerFigures {
        PeerFigures {
            messages_in: self.messages_in,
            bytes_in: self.bytes_in,
            messages_out: self.messages_out,
            bytes_out: self.bytes_out,
            reconnects: self.reconnects.into(),
            round_trip: self.round_trip(),
            since_heard,
        }
    }
}

/// What every send borrows from the engine: a buffer for the header, and in
/// verbose mode our own name for the send lines (here once, not in each of the n²
/// peer records of a mesh).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) buf: Vec<u8>,
    pub(crate) trace_as: Option<std::sync::Arc<str>>,
}

/// The groups a peer is in: a sorted list of names shared with the engine's
/// group table. Peers are in few groups, and a mesh of n nodes holds n² of these,
/// where a `BTreeSet` would allocate a whole node (about 300 bytes) for the first
/// name, and a copy of each name another allocation. One group, the common case,
/// is kept inline: no heap block of its own in each of the n² records.
#[derive(Debug, Default, Clone)]
pub(crate) enum PeerGroups {
    #[default]
    None,
    One(Arc<str>),
    /// Two or more, sorted.
    Many(Box<[Arc<str>]>),
}

impl PeerGroups {
    fn as_slice(&self) -> &[Arc<str>] {
        match self {
            PeerGroups::None => &[],
            PeerGroups::One(g) => std::slice::from_ref(g),
            PeerGroups::Many(gs) => gs,
        }
    }

    pub(crate) fn contains(&self, group: &str) -> bool {
        self.find(group).is_ok()
    }

    fn find(&self, group: &str) -> Result<usize, usize> {
        self.as_slice().binary_search_by(|g| (**g).cmp(group))
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub(crate) fn insert(&mut self, group: Arc<str>) {
        let Err(i) = self.find(&group) else {
            return;
        };
        *self = match std::mem::take(self) {
            PeerGroups::None => PeerGroups::One(group),
            other => {
                // Exact: peers change their groups rarely.
                let mut v = Vec::with_capacity(other.len() + 1);
                v.extend(other.as_slice().iter().cloned());
                v.insert(i, group);
                PeerGroups::Many(v.into_boxed_slice())
            }
        };
    }

    pub(crate) fn remove(&mut self, group: &str) {
        let Ok(i) = self.find(group) else {
            return;
        };
        let mut v = std::mem::take(self).as_slice().to_vec();
        v.remove(i);
        *self = match v.len() {
            0 => PeerGroups::None,
            1 => PeerGroups::One(v.swap_remove(0)),
            _ => PeerGroups::Many(v.into_boxed_slice()),
        };
    }

    /// In order, as a `BTreeSet` would give them.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.as_slice().iter().map(|g| &**g)
    }
}

impl Peer {
    /// A peer we know only by id and endpoint: not ready, nothing sent yet, its
    /// liveness timers at `now` (the caller refreshes them).
    pub(crate) fn new(
        id: PeerId,
        endpoint: String,
        addr: SocketAddr,
        link_id: LinkId,
        link: Link,
        now: Instant,
    ) -> Peer {
        let mut p = Peer {
            id,
            link_id,
            ready: false,
            hello_out: false,
            status: 0,
            sent_sequence: 0,
            want_sequence: 0,
            resync: false,
            rare: None,
            key: None,
            link,
            addr: CompactAddr::new(addr),
            name: Name::default(),
            groups: PeerGroups::default(),
            inbox_at: InboxAt::Unknown,
            failed_connects: 0,
            figures: Counters::default(),
            heard_at: now,
            ping_at: None,
            due_stamp: 0,
        };
        if let Some(text) = spelt_out(&endpoint, addr) {
            p.set_rare(|r| r.endpoint_text = Some(text));
        }
        p
    }

    /// The endpoint we connect to, as the beacon or the HELLO gave it.
    pub(crate) fn endpoint(&self) -> Cow<'_, str> {
        match self.rare.as_ref().and_then(|r| r.endpoint_text.as_deref()) {
            Some(t) => Cow::Borrowed(t),
            None => Cow::Owned(endpoint_of(self.addr())),
        }
    }

    /// Where its endpoint points.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr.get()
    }

    /// A new endpoint, and the address it points to.
    pub(crate) fn set_place(&mut self, endpoint: &str, addr: SocketAddr) {
        let text = spelt_out(endpoint, addr);
        if text.is_some() || self.rare.is_some() {
            self.set_rare(|r| r.endpoint_text = text);
        }
        // Where its HELLO came from stays, whatever the new address.
        let inbox_ip = self.inbox_ip();
        self.addr = CompactAddr::new(addr);
        self.set_inbox_ip(inbox_ip);
    }

    /// The address its accepted HELLO came from, once one was taken.
    pub(crate) fn inbox_ip(&self) -> Option<std::net::IpAddr> {
        match self.inbox_at {
            InboxAt::Unknown => None,
            InboxAt::Addr => Some(self.addr().ip()),
            InboxAt::Elsewhere => self.rare.as_ref()?.inbox_ip,
        }
    }

    /// True if a message from `src` counts as the peer's: no HELLO was taken
    /// yet, or `src` is where it came from (see `takeover.rs`).
    pub(crate) fn heard_from(&self, src: Option<std::net::IpAddr>) -> bool {
        let at = self.inbox_ip();
        at.is_none() || at == src
    }

    pub(crate) fn set_inbox_ip(&mut self, ip: Option<std::net::IpAddr>) {
        let (at, other) = match ip {
            None => (InboxAt::Unknown, None),
            Some(ip) if ip == self.addr().ip() => (InboxAt::Addr, None),
            Some(ip) => (InboxAt::Elsewhere, Some(ip)),
        };
        self.inbox_at = at;
        if other.is_some() || self.rare.is_some() {
            self.set_rare(|r| r.inbox_ip = other);
        }
    }

    /// Sets one of the rare parts (made on first need; gone when all are empty).
    fn set_rare(&mut self, f: impl FnOnce(&mut Rare)) {
        let r = self.rare.get_or_insert_with(Box::default);
        f(r);
        if r.is_empty() {
            self.rare = None;
        }
    }

    /// When the broken outgoing link is due to be connected again (while set, the
    /// link's output waits in `link`).
    pub(crate) fn reconnect_at(&self) -> Option<Instant> {
        self.rare.as_ref()?.reconnect_at
    }

    pub(crate) fn set_reconnect_at(&mut self, at: Option<Instant>) {
        if at.is_some() || self.rare.is_some() {
            self.set_rare(|r| r.reconnect_at = at);
        }
    }

    /// When we last pinged it because its bytes sat unread.
    pub(crate) fn unread_ping_at(&self) -> Option<Instant> {
        self.rare.as_ref()?.unread_ping_at
    }

    pub(crate) fn set_unread_ping_at(&mut self, at: Option<Instant>) {
        if at.is_some() || self.rare.is_some() {
            self.set_rare(|r| r.unread_ping_at = at);
        }
    }

    /// The headers of its HELLO.
    pub(crate) fn headers(&self) -> &BTreeMap<String, String> {
        self.rare.as_ref().map_or(&NO_HEADERS, |r| &r.headers)
    }

    pub(crate) fn set_headers(&mut self, headers: BTreeMap<String, String>) {
        if !headers.is_empty() || self.rare.is_some() {
            self.set_rare(|r| r.headers = headers);
        }
    }

    /// PINGs the peer (it answers PING-OK, as Zyre and Pyre do) and notes when, so
    /// that the answer measures the round trip.
    pub(crate) fn ping(&mut self, now: Instant, scratch: &mut Scratch) {
        self.send(Body::Ping, scratch);
        self.ping_at.get_or_insert(now);
    }

    /// Its PING-OK came: the round trip since our oldest unanswered PING.
    pub(crate) fn pong(&mut self, now: Instant) {
        if let Some(at) = self.ping_at.take() {
            self.figures
                .set_round_trip(now.saturating_duration_since(at));
        }
    }

    /// Queues a ZRE message on the outgoing link with the next sequence number.
    /// Encoding cannot fail for what the engine sends: names and groups are bounded
    /// when they are accepted.
    pub(crate) fn send(&mut self, body: Body, scratch: &mut Scratch) {
        self.sent_sequence = self.sent_sequence.wrapping_add(1);
        let msg = ZreMessage::new(self.sent_sequence, body);
        self.trace_send(scratch, msg.body.name());
        log::trace!(
            "send {} seq {} to {}",
            msg.body.name(),
            msg.sequence,
            self.id
        );
        let buf = &mut scratch.buf;
        buf.clear();
        match msg.encode_header_into(buf) {
            Ok(()) => {
                self.count_out(buf, msg.content());
                self.link.send_parts(buf, msg.content())
            }
            Err(e) => log::warn!("not sending {} to {}: {e}", msg.body.name(), self.id),
        }
    }

    /// Sends content (WHISPER or SHOUT) without copying the frames first.
    pub(crate) fn send_content(
        &mut self,
        group: Option<&str>,
        content: &Frames,
        scratch: &mut Scratch,
    ) {
        self.sent_sequence = self.sent_sequence.wrapping_add(1);
        self.trace_send(scratch, if group.is_some() { "SHOUT" } else { "WHISPER" });
        log::trace!(
            "send {} seq {} to {}",
            if group.is_some() { "SHOUT" } else { "WHISPER" },
            self.sent_sequence,
            self.id
        );
        let buf = &mut scratch.buf;
        buf.clear();
        match ZreMessage::encode_content_header_into(buf, self.sent_sequence, group) {
            Ok(()) => {
                self.count_out(buf, content);
                self.link.send_parts(buf, content)
            }
            Err(e) => log::warn!("not sending to {}: {e}", self.id),
        }
    }

    fn count_out(&mut self, header: &[u8], content: &Frames) {
        self.figures.messages_out += 1;
        self.figures.bytes_out += (header.len() + content.content_len()) as u64;
    }

    /// In verbose mode, one line per message sent, as Zyre's: who sends, what, to
    /// whom, with which sequence number.
    fn trace_send(&self, scratch: &Scratch, what: &str) {
        if let Some(me) = &scratch.trace_as {
            log::info!(
                target: "zmesh::verbose",
                "({me}) send {what} to peer={} sequence={}",
                self.label(),
                self.sent_sequence
            );
        }
    }

    /// The peer's name, or its id before its HELLO has told us the name.
    pub(crate) fn label(&self) -> String {
        if self.name.as_str().is_empty() {
            self.id.to_string()
        } else {
            self.name.to_string()
        }
    }

    /// Checks an incoming sequence number. Zyre wraps 65535 to 0; Pyre skips 65535
    /// (it counts modulo 65535), so 0 is also accepted where 65535 is due.
    pub(crate) fn accept_sequence(&mut self, is_hello: bool, seq: u16) -> bool {
        if std::mem::take(&mut self.resync) {
            self.want_sequence = seq;
            return true;
        }
        let want = if is_hello {
            1
        } else {
            self.want_sequence.wrapping_add(1)
        };
        let ok = seq == want || (want == u16::MAX && seq == 0);
        if ok {
            self.want_sequence = seq;
        }
        ok
    }

    /// Marks the peer heard from at `now`.
    pub(crate) fn refresh(&mut self, now: Instant) {
        self.heard_at = now;
    }

    /// `timeout` after it was last heard from: its EVASIVE deadline for the
    /// evasive timeout, its EXIT deadline for the expired one.
    pub(crate) fn after(&self, timeout: std::time::Duration) -> Instant {
        // An engine configured with a huge timeout must not overflow the clock.
        self.heard_at
            .checked_add(timeout)
            .unwrap_or(self.heard_at + std::time::Duration::from_secs(1 << 30))
    }
}

#[cfg(test)]
mod tests {
    use super::{Peer, PeerGroups};
    use crate::engine::link::Link;
    use crate::engine::LinkId;
    use crate::PeerId;
    use std::time::{Duration, Instant};

    /// A mesh of n nodes holds n² peer records: small fields share the first
    /// cache line without padding, the rare ones are out of line.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_peer_record_stays_small() {
        assert!(
            std::mem::size_of::<Peer>() <= 288,
            "{}",
            std::mem::size_of::<Peer>()
        );
    }

    /// A peer known only by its address, as a beacon makes one.
    fn peer_at(addr: &str, now: Instant) -> Peer {
        let addr: std::net::SocketAddr = addr.parse().unwrap();
        let link = Link::dealer(b"\x01id", 1 << 20);
        Peer::new(
            PeerId([7; 16]),
            format!("tcp://{addr}"),
            addr,
            LinkId(1),
            link,
            now,
        )
    }

    /// An endpoint that is its address written out is not stored; any other
    /// (a scoped IPv6 address, a spelling of its own) is kept as given.
    #[test]
    fn a_peer_keeps_its_endpoint_as_given() {
        let mut p = peer_at("10.0.0.7:5670", Instant::now());
        assert!(p.rare.is_none());
        assert_eq!(p.endpoint(), "tcp://10.0.0.7:5670");
        let v6: std::net::SocketAddr = "[fe80::1%3]:5670".parse().unwrap();
        p.set_place("tcp://[fe80::1%eth0]:5670", v6);
        assert_eq!(p.endpoint(), "tcp://[fe80::1%eth0]:5670");
        assert_eq!(p.addr(), v6);
        assert!(p.rare.is_some());
        p.set_place("tcp://10.0.0.8:5671", "10.0.0.8:5671".parse().unwrap());
        assert!(p.rare.is_none());
        assert_eq!(p.endpoint(), "tcp://10.0.0.8:5671");
    }

    /// Where its HELLO came from is kept as given, through moves of its endpoint;
    /// only an address other than its endpoint's takes the rare box.
    #[test]
    fn a_peer_keeps_where_its_hello_came_from() {
        let mut p = peer_at("10.0.0.7:5670", Instant::now());
        assert_eq!(p.inbox_ip(), None);
        let own: std::net::IpAddr = "10.0.0.7".parse().unwrap();
        p.set_inbox_ip(Some(own));
        assert_eq!(p.inbox_ip(), Some(own));
        assert!(p.rare.is_none());
        p.set_place("tcp://10.0.0.9:5670", "10.0.0.9:5670".parse().unwrap());
        assert_eq!(p.inbox_ip(), Some(own));
        assert!(p.rare.is_some());
        p.set_place("tcp://10.0.0.7:5671", "10.0.0.7:5671".parse().unwrap());
        assert_eq!(p.inbox_ip(), Some(own));
        assert!(p.rare.is_none());
        let mapped: std::net::IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        p.set_inbox_ip(Some(mapped));
        assert_eq!(p.inbox_ip(), Some(mapped));
        p.set_inbox_ip(None);
        assert_eq!(p.inbox_ip(), None);
        assert!(p.rare.is_none());
    }

    /// The rare parts exist while one of them is set, and go with the last.
    #[test]
    fn a_peer_record_keeps_its_rare_parts_only_while_it_has_them() {
        let now = Instant::now();
        let mut p = peer_at("127.0.0.1:5670", now);
        assert!(p.rare.is_none() && p.headers().is_empty());
        p.set_reconnect_at(None);
        assert!(p.rare.is_none());
        let later = now + Duration::from_secs(1);
        p.set_reconnect_at(Some(later));
        p.set_headers([("X-A".to_string(), "1".to_string())].into());
        assert_eq!(p.reconnect_at(), Some(later));
        p.set_reconnect_at(None);
        assert_eq!(p.headers()["X-A"], "1");
        assert!(p.rare.is_some());
        p.set_headers(Default::default());
        assert!(p.rare.is_none() && p.reconnect_at().is_none());
        p.set_unread_ping_at(Some(now));
        assert_eq!(p.unread_ping_at(), Some(now));
    }

    #[test]
    fn peer_groups_stay_sorted_and_unique() {
        let mut g = PeerGroups::default();
        for name in ["m", "b", "z", "b", "a"] {
            g.insert(name.into());
        }
        assert_eq!(g.iter().collect::<Vec<_>>(), ["a", "b", "m", "z"]);
        assert_eq!(g.len(), 4);
        assert!(g.contains("m") && !g.contains("c"));
        g.remove("m");
        g.remove("c");
        assert_eq!(g.iter().collect::<Vec<_>>(), ["a", "b", "z"]);
        for name in ["a", "z"] {
            g.remove(name);
        }
        assert!(matches!(g, PeerGroups::One(_)) && g.contains("b") && g.len() == 1);
        g.remove("b");
        assert!(matches!(g, PeerGroups::None) && g.len() == 0);
        g.insert("q".into());
        assert!(matches!(g, PeerGroups::One(_)) && g.contains("q"));
    }
}
