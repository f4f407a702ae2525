//! A neighbour's session against one engine, read from arbitrary bytes: beacons of
//! exactly 22 and 54 bytes, inbox connections from a few addresses under a few
//! identities, well-formed and broken ZRE messages on them, closes, connects that
//! succeed or fail, the application's own commands between inputs, and time jumps
//! past the 30 s timeouts. After every step it checks what the step cost, not only
//! that nothing panicked: peers, events, bytes written and peer records stay within
//! bounds proportional to the step.
//!
//! The property tests run it on random bytes; the `engine_session` fuzz target on
//! whatever libFuzzer finds.
//!
//! ```
//! let report = zmesh_toolkit::hostile::run(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
//! assert!(report.steps > 0);
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use zmesh::engine::link::Link;
use zmesh::engine::{
    CloseReason, Config, Engine, LinkId, Output, MAX_INBOX_LINKS, MAX_PEER_GROUPS,
    MAX_PEER_HEADERS, MAX_UNREADY_PEERS,
};
use zmesh::wire::beacon::Beacon;
use zmesh::wire::zre::{Body, Hello, ZreMessage};
use zmesh::PeerId;

/// What a session did, for the caller's own checks and for figures.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Steps run.
    pub steps: usize,
    /// Events the engine emitted.
    pub events: usize,
    /// Peers it entered (ENTER events).
    pub entered: usize,
    /// Bytes it wrote.
    pub written: usize,
    /// The most peers it held at once.
    pub max_peers: usize,
}

/// Reads the session's bytes.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let end = (self.at + n).min(self.data.len());
        let s = &self.data[self.at..end];
        self.at = end;
        s
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte().unwrap_or(0), self.byte().unwrap_or(0)])
    }
}

/// The neighbour's addresses, and the node's own.
fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 10 + i % 4], 40000 + u16::from(i % 4)))
}

/// A few identities, so that connections and beacons meet each other's peers.
fn uuid(i: u8) -> [u8; 16] {
    [0x20 + i % 6; 16]
}

/// A string from the session (at most 40 bytes, so that it is valid).
fn string(c: &mut Cursor) -> String {
    let n = c.byte().unwrap_or(0) % 41;
    String::from_utf8_lossy(c.bytes(n as usize))
        .chars()
        .take(40)
        .collect()
}

/// A ZRE message of a kind the session picks; `next` is the link's next sequence
/// number, which it carries unless the session says otherwise.
fn message(c: &mut Cursor, next: &mut u16) -> ZreMessage {
    let kind = c.byte().unwrap_or(0);
    let seq = if kind & 0x80 != 0 {
        c.u16()
    } else if kind.is_multiple_of(10) {
        1
    } else {
        next.wrapping_add(1)
    };
    *next = seq;
    let body = match kind % 10 {
        0 => {
            let groups = (0..c.byte().unwrap_or(0) % 8).map(|_| string(c)).collect();
            let headers = (0..c.byte().unwrap_or(0) % 4)
                .map(|_| (string(c), string(c)))
                .collect();
            let port = c.u16();
            let at = c.byte().unwrap_or(0);
            Body::Hello(Hello {
                endpoint: format!("tcp://{}:{port}", addr(at).ip()),
                groups,
                status: c.byte().unwrap_or(0),
                name: string(c),
                headers,
            })
        }
        1 => Body::Whisper {
            content: vec![c.bytes(8).to_vec()].into(),
        },
        2 => Body::Shout {
            group: string(c).into(),
            content: vec![c.bytes(8).to_vec()].into(),
        },
        3 => Body::Join {
            group: string(c),
            status: c.byte().unwrap_or(0),
        },
        4 => Body::Leave {
            group: string(c),
            status: c.byte().unwrap_or(0),
        },
        5 => Body::Ping,
        6 => Body::PingOk,
        7 => Body::Goodbye,
        8 => Body::Elect {
            group: string(c),
            challenger_id: PeerId(uuid(c.byte().unwrap_or(0))).to_string(),
        },
        _ => Body::Leader {
            group: string(c),
            leader_id: PeerId(uuid(c.byte().unwrap_or(0))).to_string(),
        },
    };
    ZreMessage::new(seq, body)
}

/// The session's state beside the engine: the far ends of its links.
struct Session {
    e: Engine,
    now: Instant,
    /// Our (the neighbour's) end of each inbox connection it opened.
    strangers: BTreeMap<LinkId, (Link, u16)>,
    /// The engine's outgoing links waiting for a connect result.
    connecting: Vec<LinkId>,
    /// The engine's outgoing links that are up (their bytes are dropped).
    outgoing: Vec<LinkId>,
    report: Report,
}

impl Session {
    /// Drains the engine's outputs, checking what one step cost. `input` is the
    /// step's size in bytes; `peers_before` the peers held before it.
    fn drain(&mut self, input: usize, peers_before: usize, seconds: usize) {
        let mut events = 0;
        let mut written = 0;
        while let Some(o) = self.e.poll_output() {
            match o {
                Output::Event(ev) => {
                    events += 1;
                    if ev.kind() == "ENTER" {
                        self.report.entered += 1;
                    }
                }
                Output::Write { link, bytes } => {
                    written += bytes.len();
                    if let Some((d, _)) = self.strangers.get_mut(&link) {
                        d.handle_bytes(&bytes);
                        while let Ok(Some(_)) = d.poll() {}
                    }
                }
                Output::Connect { link, .. } => self.connecting.push(link),
                Output::Close { link } => {
                    self.strangers.remove(&link);
                    self.connecting.retain(|l| *l != link);
                    self.outgoing.retain(|l| *l != link);
                }
                Output::Broadcast(b) => written += b.len(),
            }
        }
        let peers = self.e.peers().count();
        self.report.max_peers = self.report.max_peers.max(peers);
        self.report.events += events;
        self.report.written += written;
        let held = peers.max(peers_before) + 1;
        // A step's events: a few per peer it touches (EXIT, an election, and as in
        // Zyre an EVASIVE per reap while a peer stays quiet, so per second that
        // passes), plus at most one per byte it carried (a JOIN per group).
        assert!(
            events <= 8 * held * (1 + seconds) + input,
            "{events} events from a step of {input} bytes, {seconds} s, {held} peers"
        );
        // A step's writes: a HELLO or a PING per peer (and a beacon) per second,
        // plus what it carried.
        assert!(
            written <= 4096 * held * (1 + seconds) + 4 * input,
            "{written} bytes written for a step of {input} bytes, {seconds} s, {held} peers"
        );
        assert!(
            peers <= MAX_UNREADY_PEERS + self.e.ready_count(),
            "{peers} peers"
        );
        assert!(self.strangers.len() <= MAX_INBOX_LINKS);
        for p in self.e.peers() {
            assert!(p.groups.len() <= MAX_PEER_GROUPS);
            assert!(p.headers.len() <= MAX_PEER_HEADERS);
        }
    }

    fn step(&mut self, c: &mut Cursor) -> bool {
        let Some(op) = c.byte() else {
            return false;
        };
        let start = c.at;
        let t0 = self.now;
        let peers_before = self.e.peers().count();
        match op % 8 {
            // A beacon of exactly 22 or 54 bytes, well formed or from the session.
            0 => {
                let from = addr(c.byte().unwrap_or(0));
                let mut b = Beacon::new(uuid(c.byte().unwrap_or(0)), c.u16());
                let long = op & 0x80 != 0;
                if long {
                    let mut key = [0u8; 32];
                    let k = c.bytes(32);
                    key[..k.len()].copy_from_slice(k);
                    b.public_key = Some(key);
                }
                let mut bytes = b.encode();
                if op & 0x40 != 0 {
                    // Keep the size, take the content from the session.
                    let raw = c.bytes(bytes.len());
                    bytes[..raw.len()].copy_from_slice(raw);
                }
                assert_eq!(bytes.len(), if long { 54 } else { 22 });
                self.e.handle_datagram(self.now, from, &bytes);
            }
            // A new inbox connection under one of the identities.
            1 => {
                let from = addr(c.byte().unwrap_or(0));
                let mut identity = vec![1u8];
                identity.extend_from_slice(&uuid(c.byte().unwrap_or(0)));
                let link = self.e.handle_accepted(self.now, from);
                let mut d = Link::dealer(&identity, 1 << 20);
                self.e.handle_bytes(self.now, link, &d.take_output());
                self.strangers.insert(link, (d, 0));
            }
            // A ZRE message on one of them.
            2 | 3 => {
                let which = c.byte();
                if let Some((&link, (d, next))) = pick(&mut self.strangers, which) {
                    let m = message(c, next);
                    if let Ok(frames) = m.encode() {
                        d.send(&frames);
                    }
                    let bytes = d.take_output();
                    self.e.handle_bytes(self.now, link, &bytes);
                }
            }
            // Raw bytes on one of them.
            4 => {
                let n = c.byte().unwrap_or(0) as usize;
                let raw = c.bytes(n).to_vec();
                if let Some((&link, _)) = pick(&mut self.strangers, c.byte()) {
                    self.e.handle_bytes(self.now, link, &raw);
                }
            }
            // A connection ends: one of ours, or one the engine made.
            5 => {
                let which = c.byte().unwrap_or(0);
                if which & 1 == 0 {
                    if let Some((&link, _)) = pick(&mut self.strangers, Some(which >> 1)) {
                        self.strangers.remove(&link);
                        self.e.handle_closed(self.now, link, CloseReason::Network);
                    }
                } else if !self.outgoing.is_empty() {
                    let link = self.outgoing.remove(which as usize % self.outgoing.len());
                    self.e.handle_closed(self.now, link, CloseReason::Network);
                }
            }
            // The engine's connects: each succeeds or is refused.
            6 => {
                let ok = c.byte().unwrap_or(0);
                for (i, link) in std::mem::take(&mut self.connecting).into_iter().enumerate() {
                    if ok >> (i % 8) & 1 == 1 {
                        self.e.handle_connected(self.now, link);
                        self.outgoing.push(link);
                    } else {
                        self.e.handle_closed(self.now, link, CloseReason::Network);
                    }
                }
            }
            // Time passes (sometimes past every timeout), or the application acts.
            _ => {
                let t = c.byte().unwrap_or(0);
                match t % 4 {
                    0 => {
                        let by = if t & 0x80 != 0 {
                            Duration::from_secs(31)
                        } else {
                            Duration::from_millis(u64::from(t) * 40)
                        };
                        self.advance(by);
                    }
                    1 => {
                        let _ = self.e.join(&format!("g{}", t % 3));
                    }
                    2 => {
                        self.e.leave(&format!("g{}", t % 3));
                        let _ = self.e.shout("g0", &["hi"].into());
                    }
                    _ => {
                        let _ = self.e.whisper(PeerId(uuid(t >> 2)), &["hi"].into());
                        self.e.set_contest_in_group("g1");
                    }
                }
            }
        }
        self.report.steps += 1;
        let seconds = (self.now - t0).as_secs() as usize + 1;
        self.drain(c.at - start + 1, peers_before, seconds);
        true
    }

    /// Runs the timers up to `by` from now, one deadline at a time.
    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        // Bounded: a timer that re-arms at the same instant would be a bug, and
        // must not hang the fuzzer.
        for _ in 0..10_000 {
            match self.e.poll_timeout() {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.e.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = end;
        self.e.handle_timeout(end);
    }
}

/// One of the map's entries, chosen by `b`.
fn pick<V>(m: &mut BTreeMap<LinkId, V>, b: Option<u8>) -> Option<(&LinkId, &mut V)> {
    if m.is_empty() {
        return None;
    }
    let i = b.unwrap_or(0) as usize % m.len();
    m.iter_mut().nth(i)
}

/// Runs the session `data` describes against a fresh, started engine; panics if a
/// step costs more than its bound.
pub fn run(data: &[u8]) -> Report {
    let now = Instant::now();
    let mut e = Engine::new(Config::new("target"), PeerId([0x77; 16]));
    e.start(now, SocketAddr::from(([127, 0, 0, 1], 49152)));
    let mut s = Session {
        e,
        now,
        strangers: BTreeMap::new(),
        connecting: Vec::new(),
        outgoing: Vec::new(),
        report: Report::default(),
    };
    s.drain(0, 0, 0);
    let mut c = Cursor { data, at: 0 };
    while s.step(&mut c) {}
    s.report
}
