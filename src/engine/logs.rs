//! ZRE-LOG in the engine, the guide's distributed logging: a collector announces
//! itself with the header `X-ZRELOG` (its log endpoint); every node that sees such
//! a peer connects a PUB link there (once per endpoint) and publishes its protocol
//! events and its application's records as ZRE-LOG LOG messages. A collector takes
//! publishers' connections on its own listener, subscribes to everything, and
//! hands each record to its application as [`Event::Log`].
//!
//! Logging never floods the mesh: a node publishes at most [`LOG_RATE`] records a
//! second by default (bursts of twice that), a collector slower than that gets drops, not
//! a growing queue ([`LOG_OUTPUT_LIMIT`]), a node publishes to at most
//! [`MAX_LOG_COLLECTORS`] collectors, and a collector takes at most
//! [`MAX_LOG_PUBLISHERS`] publishers ([`MAX_LOG_PUBLISHERS_PER_ADDRESS`] from one
//! address), each closed if its handshake does not finish in time. Every drop is counted in [`Stats`]. CURVE
//! nodes neither publish nor collect: the log links would be clear text.
//!
//! [`Stats`]: super::Stats

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Instant;

use super::endpoint::endpoint_addr;
use super::link::{Link, LinkEvent};
use super::{Engine, LinkId, Output};
use crate::event::{Event, PeerId};
use crate::wire::zrelog::{self, Level, LogEvent, LogRecord};

/// The header a collector announces its log endpoint in.
pub const LOG_HEADER: &str = "X-ZRELOG";
/// Records a node publishes a second by default ([`Config::log_rate`]); it may
/// publish twice as many at once before the rate applies.
///
/// [`Config::log_rate`]: super::Config::log_rate
pub const LOG_RATE: u64 = 100;
/// Unsent bytes a collector's link may hold (in the engine and in the driver)
/// before records to it are dropped.
pub const LOG_OUTPUT_LIMIT: usize = 256 << 10;
/// Collectors a node publishes to.
pub const MAX_LOG_COLLECTORS: usize = 16;
/// Publishers a collector takes.
pub const MAX_LOG_PUBLISHERS: usize = 1024;
/// Publishers a collector takes from one address.
pub const MAX_LOG_PUBLISHERS_PER_ADDRESS: usize = 64;
/// The largest message a log link takes: a LOG record is at most 273 bytes and a
/// subscription at most 256 that count, so a publisher (or a collector) cannot make
/// a link buffer the node's whole message limit; more closes the link.
pub const LOG_MAX_MESSAGE: usize = 4096;
/// How long after its link broke a collector is connected again (while a peer
/// still announces it).
pub const LOG_RETRY: std::time::Duration = std::time::Duration::from_secs(1);
/// Records held for a collector until its subscription arrives (the ENTER that
/// made the link among them), so that a new collector misses none of the start.
pub const LOG_EARLY: usize = 64;

/// One collector this node publishes to.
#[derive(Debug)]
struct Collector {
    link_id: LinkId,
    link: Link,
    addr: SocketAddr,
    /// The link broke: connect again at this time (at a reap tick).
    retry_at: Option<Instant>,
    /// The peers that announce it: the link goes when the last of them does.
    advertisers: BTreeSet<PeerId>,
    /// Records from before its subscription came (at most [`LOG_EARLY`]).
    early: Vec<Vec<u8>>,
}

impl Collector {
    /// Publishes one record, or holds it until the collector has subscribed.
    /// False if it was dropped.
    fn publish(&mut self, frame: &[u8]) -> bool {
        if self.link.is_ready() && !self.link.topics().is_empty() {
            return self.link.publish(&[frame], LOG_OUTPUT_LIMIT);
        }
        if self.early.len() < LOG_EARLY {
            self.early.push(frame.to_vec());
            return true;
        }
        false
    }

    /// Sends what waited for the subscription, once it is there.
    fn flush_early(&mut self) {
        if self.early.is_empty() || !self.link.is_ready() || self.link.topics().is_empty() {
            return;
        }
        for frame in std::mem::take(&mut self.early) {
            self.link.publish(&[&frame], LOG_OUTPUT_LIMIT);
        }
    }
}

/// The engine's logging state.
#[derive(Debug, Default)]
pub(super) struct Logs {
    /// Collectors by endpoint.
    collectors: BTreeMap<String, Collector>,
    /// As a collector: publishers' links and where they come from.
    publishers: BTreeMap<LinkId, (Link, SocketAddr)>,
    /// The token bucket, in millionths of a record, and when it was last filled.
    tokens: u64,
    filled: Option<Instant>,
    /// Unix seconds at an instant, handed in by the driver (the engine reads no
    /// clock); records carry 0 without it.
    epoch: Option<(Instant, u64)>,
    /// Records dropped over the rate since the last one published: the next one
    /// that goes is preceded by an OVERFLOW record that says how many.
    over_rate: u64,
}

impl Logs {
    pub(super) fn owns(&self, link: LinkId) -> bool {
        self.publishers.contains_key(&link) || self.collector_of(link).is_some()
    }

    fn collector_of(&self, link: LinkId) -> Option<&String> {
        self.collectors
            .iter()
            .find(|(_, c)| c.link_id == link)
            .map(|(ep, _)| ep)
    }

    /// Every log link, forgotten (the node stops; what is queued is written
    /// before each closes).
    pub(super) fn drain(&mut self) -> Vec<LinkId> {
        let mut links: Vec<LinkId> = self.publishers.keys().copied().collect();
        links.extend(self.collectors.values().map(|c| c.link_id));
        self.publishers.clear();
        self.collectors.clear();
        links
    }

    pub(super) fn take_output(&mut self, link: LinkId) -> Vec<u8> {
        if let Some((l, _)) = self.publishers.get_mut(&link) {
            return l.take_output();
        }
        match self.collectors.values_mut().find(|c| c.link_id == link) {
            // Not while it waits to be connected again: the driver has no such
            // link yet, and the greeting must be the first thing it writes.
            Some(c) if c.retry_at.is_none() => c.link.take_output(),
            _ => Vec::new(),
        }
    }

    pub(super) fn handshake_pending(&self, link: LinkId) -> bool {
        self.publishers
            .get(&link)
            .is_some_and(|(l, _)| !l.is_ready())
    }

    /// Takes one record's worth from the bucket; false if it is empty. The bucket
    /// starts full.
    fn allow(&mut self, now: Instant, rate: u64) -> bool {
        const ONE: u64 = 1_000_000;
        let full = rate.saturating_mul(2).saturating_mul(ONE);
        self.tokens = match self.filled.replace(now) {
            None => full,
            Some(last) => {
                let micros = now.saturating_duration_since(last).as_micros();
                let gained = u64::try_from(micros)
                    .unwrap_or(u64::MAX)
                    .saturating_mul(LOG_RATE);
                self.tokens.saturating_add(gained).min(full)
            }
        };
        if self.tokens >= ONE {
            self.tokens -= ONE;
            true
        } else {
            false
        }
    }

    fn time(&self, now: Instant) -> u64 {
        self.epoch.map_or(0, |(at, secs)| {
            secs.saturating_add(now.saturating_duration_since(at).as_secs())
        })
    }
}

impl Engine {
    /// Tells the engine the Unix time (seconds) at `now`, for the time field of
    /// the log records it publishes. The driver calls it at start.
    pub fn set_epoch(&mut self, now: Instant, unix_secs: u64) {
        self.logs.epoch = Some((now, unix_secs));
    }

    /// A connection to our log listener was accepted from `from` (the node is a
    /// collector): returns its id.
    pub fn handle_log_accepted(&mut self, now: Instant, from: SocketAddr) -> LinkId {
        self.now = Some(now);
        let link = self.new_link();
        let same = self
            .logs
            .publishers
            .values()
            .filter(|(_, a)| a.ip() == from.ip())
            .count();
        if self.config.curve.is_some()
            || self.logs.publishers.len() >= MAX_LOG_PUBLISHERS
            || same >= MAX_LOG_PUBLISHERS_PER_ADDRESS
        {
            self.stats.log_refused += 1;
            self.out.close(link);
            return link;
        }
        let made = Link::subscriber(LOG_MAX_MESSAGE, &[&zrelog::SIGNATURE]);
        self.logs.publishers.insert(link, (made, from));
        self.timers
            .handshake_by(now + self.config.handshake_timeout, link);
        self.out.touch(link);
        link
    }

    /// Bytes on a log link: records from a publisher, or subscriptions from a
    /// collector.
    pub(super) fn log_bytes(&mut self, link: LinkId, bytes: &[u8]) {
        let mut records = Vec::new();
        let mut failed = false;
        let mut identity = Vec::new();
        if let Some((l, from)) = self.logs.publishers.get_mut(&link) {
            l.handle_bytes(bytes);
            identity = l.peer_identity().unwrap_or_default().to_vec();
            loop {
                match l.poll() {
                    Ok(Some(LinkEvent::Ready { identity: id, .. })) => identity = id,
                    Ok(Some(LinkEvent::Message(frames))) => records.push((frames, *from)),
                    Ok(None) => break,
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
        } else if let Some(c) = self
            .logs
            .collectors
            .values_mut()
            .find(|c| c.link_id == link)
        {
            c.link.handle_bytes(bytes);
            while let Ok(Some(_)) = c.link.poll() {}
            failed = c.link.poll().is_err();
            c.flush_early();
        }
        self.out.touch(link);
        for (frames, from) in records {
            self.take_record(&frames, from, &identity);
        }
        if failed {
            self.log_link_closed(link);
            self.out.close(link);
        }
    }

    fn take_record(&mut self, frames: &crate::Frames, from: SocketAddr, identity: &[u8]) {
        let Some(record) = frames.first().and_then(|f| LogRecord::parse(f).ok()) else {
            self.stats.log_malformed += 1;
            return;
        };
        // The sender, if it is a peer: the routing id a zmesh publisher presents, at
        // that peer's address; else the one peer at that address with that
        // endpoint hash (the guide's hash is loose: two are nobody).
        let by_id = match identity {
            [1, uuid @ ..] => <[u8; 16]>::try_from(uuid)
                .ok()
                .and_then(|u| self.peers.get(&PeerId(u)))
                .filter(|p| p.addr().ip() == from.ip()),
            _ => None,
        };
        let mut by_hash = self
            .peers
            .iter()
            .filter(|p| p.addr().ip() == from.ip() && zrelog::hash(&p.endpoint()) == record.node);
        let known = by_id.or_else(|| match (by_hash.next(), by_hash.next()) {
            (Some(p), None) => Some(p),
            _ => None,
        });
        let (peer, name) = known.map_or((PeerId::default(), Default::default()), |p| {
            (p.id, p.name.clone())
        });
        drop(by_hash);
        self.emit(Event::Log {
            peer,
            name,
            source: from.to_string(),
            record,
        });
    }

    /// A log link closed: a publisher gone, or a collector we lost (it comes
    /// back when a peer announces it again).
    pub(super) fn log_link_closed(&mut self, link: LinkId) {
        if self.logs.publishers.remove(&link).is_some() {
            return;
        }
        // A collector's link broke while a peer still announces it: a fresh link,
        // connected at a later reap; records wait for it (at most LOG_EARLY).
        let Some(ep) = self.logs.collector_of(link).cloned() else {
            return;
        };
        let fresh = self.new_link();
        let made = Link::publisher(&self.identity, LOG_MAX_MESSAGE);
        let retry_at = self.now.map(|t| t + LOG_RETRY);
        if let Some(c) = self.logs.collectors.get_mut(&ep) {
            c.link_id = fresh;
            c.link = made;
            c.retry_at = retry_at;
        }
    }

    /// Connects again the collectors whose links broke (called at every reap).
    pub(super) fn retry_collectors(&mut self, now: Instant) {
        for c in self.logs.collectors.values_mut() {
            if c.retry_at.is_some_and(|t| now >= t) {
                c.retry_at = None;
                self.out.push(Output::Connect {
                    link: c.link_id,
                    addr: c.addr,
                });
                self.out.touch(c.link_id);
            }
        }
    }

    /// Publishes what the event says to every collector, and follows the peers
    /// that announce collectors. Called for every event the engine emits.
    pub(super) fn log_event(&mut self, e: &Event) {
        match e {
            Event::Enter { peer, headers, .. } => {
                if let Some(ep) = headers.get(LOG_HEADER) {
                    self.follow_collector(*peer, ep.clone());
                }
            }
            Event::Exit { peer, .. } => {
                let gone: Vec<LinkId> = self
                    .logs
                    .collectors
                    .values_mut()
                    .filter_map(|c| {
                        c.advertisers.remove(peer);
                        c.advertisers.is_empty().then_some(c.link_id)
                    })
                    .collect();
                for link in gone {
                    self.logs.collectors.retain(|_, c| c.link_id != link);
                    self.out.close(link);
                }
            }
            _ => {}
        }
        if self.logs.collectors.is_empty() {
            return;
        }
        let (level, event, text) = match e {
            Event::Enter { name, endpoint, .. } => (
                Level::Info,
                LogEvent::Enter,
                format!("{name} entered from {endpoint}"),
            ),
            Event::Exit { name, reason, .. } => {
                let level = match reason {
                    crate::ExitReason::Left => Level::Info,
                    _ => Level::Warning,
                };
                (
                    level,
                    LogEvent::Exit,
                    format!("{name} exited: {}", reason.as_str()),
                )
            }
            Event::Join { name, group, .. } => (
                Level::Info,
                LogEvent::Join,
                format!("{name} joined {group}"),
            ),
            Event::Leave { name, group, .. } => {
                (Level::Info, LogEvent::Leave, format!("{name} left {group}"))
            }
            Event::Evasive { name, peer } => (
                Level::Warning,
                LogEvent::Evasive,
                format!("{name} is quiet{}", self.figures_text(*peer)),
            ),
            Event::Silent { name, peer } => (
                Level::Warning,
                LogEvent::Silent,
                format!("{name} is silent{}", self.figures_text(*peer)),
            ),
            Event::Leader { name, group, .. } => (
                Level::Info,
                LogEvent::Leader,
                format!("{name} leads {group}"),
            ),
            Event::Stop { .. } => (Level::Info, LogEvent::Stop, "stopped".to_string()),
            _ => return,
        };
        let peer = match e {
            Event::Enter { endpoint, .. } => zrelog::hash(endpoint),
            _ => self
                .peers
                .get(&e.peer())
                .map_or(0, |p| zrelog::hash(&p.endpoint())),
        };
        self.publish_log(level, event, peer, text);
    }

    /// True if `link` carries our records to a collector: the driver drops writes
    /// to it past [`LOG_OUTPUT_LIMIT`] unsent bytes instead of queueing them.
    pub fn is_log_output(&self, link: LinkId) -> bool {
        self.logs.collectors.values().any(|c| c.link_id == link)
    }

    /// The driver dropped a write to a collector that does not keep up: whole
    /// records, as many as the write held (one write may carry a burst of them).
    pub fn log_output_dropped(&mut self, bytes: &[u8]) {
        let records = crate::wire::zmtp::split_frames(bytes)
            .map_or(1, |f| f.iter().filter(|(more, _)| !more).count());
        self.stats.log_dropped += records as u64;
    }

    /// The application's own record (`Node::log`), to every collector.
    pub fn log(&mut self, level: Level, text: &str) {
        if !self.logs.collectors.is_empty() {
            self.publish_log(level, LogEvent::App, 0, text.to_string());
        }
    }

    /// A quiet peer's figures, for its EVASIVE and SILENT records: a slow peer
    /// and a dead one read differently.
    fn figures_text(&self, peer: PeerId) -> String {
        let Some(p) = self.peers.get(&peer) else {
            return String::new();
        };
        let heard = self.now.map_or(0.0, |t| {
            t.saturating_duration_since(p.heard_at).as_secs_f64()
        });
        let rtt = p.figures.round_trip().map_or("-".to_string(), |d| {
            format!("{:.1} ms", d.as_secs_f64() * 1e3)
        });
        format!(
            " (heard {heard:.1} s ago, last round trip {rtt}, {} messages in, {} reconnects)",
            p.figures.messages_in, p.figures.reconnects
        )
    }

    fn publish_log(&mut self, level: Level, event: LogEvent, peer: u16, text: String) {
        let Some(now) = self.now else {
            return;
        };
        if !self.logs.allow(now, self.config.log_rate) {
            self.stats.log_dropped += self.logs.collectors.len() as u64;
            self.logs.over_rate += 1;
            return;
        }
        let over = std::mem::take(&mut self.logs.over_rate);
        if over > 0 {
            let note = format!("{over} records dropped over the rate");
            self.publish_record(Level::Warning, LogEvent::Overflow, 0, note, now);
        }
        self.publish_record(level, event, peer, text, now);
    }

    fn publish_record(
        &mut self,
        level: Level,
        event: LogEvent,
        peer: u16,
        text: String,
        now: Instant,
    ) {
        let own = self.endpoint.as_deref().map_or(0, zrelog::hash);
        let record = LogRecord {
            level,
            event,
            node: own,
            peer,
            time: self.logs.time(now),
            data: format!("{}: {text}", self.config.name),
        };
        let frame = record.encode();
        for c in self.logs.collectors.values_mut() {
            if c.publish(&frame) {
                self.out.touch(c.link_id);
            } else {
                self.stats.log_dropped += 1;
            }
        }
    }

    fn follow_collector(&mut self, peer: PeerId, endpoint: String) {
        if let Some(c) = self.logs.collectors.get_mut(&endpoint) {
            c.advertisers.insert(peer);
            return;
        }
        let Some(addr) = endpoint_addr(&endpoint) else {
            self.stats.log_refused += 1;
            return;
        };
        if self.config.curve.is_some() || self.logs.collectors.len() >= MAX_LOG_COLLECTORS {
            self.stats.log_refused += 1;
            return;
        }
        let link_id = self.new_link();
        let collector = Collector {
            link_id,
            link: Link::publisher(&self.identity, LOG_MAX_MESSAGE),
            addr,
            retry_at: None,
            advertisers: BTreeSet::from([peer]),
            early: Vec::new(),
        };
        self.logs.collectors.insert(endpoint, collector);
        self.out.push(Output::Connect {
            link: link_id,
            addr,
        });
        self.out.touch(link_id);
    }
}
