//! The actor thread: one `mio` event loop per node over the beacon socket, the inbox
//! listener, every TCP link and a waker for application commands. It is the only
//! place that reads the clock, and the only place that touches sockets.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token};

mod accept;
mod backlog;
mod conn;
mod mailbox;
mod watch;

pub(crate) use backlog::Backlog;
use conn::Conn;
pub(crate) use mailbox::Mailbox;
pub(crate) use watch::{networks, Watch, PERIOD as WATCH_PERIOD};

use super::Options;
use crate::engine::hash::FixedMap;
use crate::engine::{CloseReason, Engine, LinkId, Output};
use accept::Listener;

pub(crate) const WAKER: Token = Token(0);
const BEACON: Token = Token(1);
const LISTENER: Token = Token(2);
const GOSSIP: Token = Token(3);
const BEACON6: Token = Token(4);
const LOG: Token = Token(5);
const FIRST_LINK: usize = 16;

/// Output past this many bytes is written at once instead of at the end of the turn.
const WRITE_NOW: usize = 256 << 10;

/// After a failed accept (out of file handles, most often), when to try again: the
/// listener is edge-triggered, so the connections left in the backlog would
/// otherwise wait for the next one to arrive.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Bytes read from a link per turn before others get theirs.
const READ_BUDGET: usize = 1 << 20;
/// Datagrams read from a beacon socket per turn of the loop: a flood must not
/// starve timers, links and commands (the rest wait for the next turn).
const BEACON_BUDGET: usize = 256;
/// Commands carried out per turn of the loop: an application that sends without
/// pause must not starve timers, links and beacons (the rest wait a turn).
const COMMAND_BUDGET: usize = 4096;

/// What the application asks of the actor.
pub(crate) enum Command {
    Join(String),
    Leave(String),
    Whisper(crate::PeerId, crate::Frames),
    Shout(String, crate::Frames),
    /// Runs a query against the engine (peers, groups, headers), or a command that
    /// reports back (a shout that returns its recipients).
    Query(Box<dyn FnOnce(&mut Engine) + Send>),
    Stop,
    /// Vanish without a word: no port-0 beacon, no Stop event, sockets just close.
    Abort,
}

/// Counters kept by the driver.
#[derive(Debug, Default, Clone)]
pub(crate) struct DriverStats {
    pub(crate) overflow_drops: u64,
}

/// The sockets a node's event loop runs over.
pub(crate) struct Sockets {
    pub(crate) poll: Poll,
    /// None when the node does not beacon.
    pub(crate) beacon: Option<UdpSocket>,
    /// Where beacons go: one broadcast address per interface, at the beacon port.
    pub(crate) beacon_dests: Vec<SocketAddr>,
    pub(crate) listener: TcpListener,
    /// The gossip service's listener, if the node serves gossip.
    pub(crate) gossip: Option<TcpListener>,
    /// The log collector's listener, if the node collects ZRE-LOG records.
    pub(crate) log: Option<TcpListener>,
    /// The IPv6 beacon socket and where its beacons go (the multicast group on
    /// each interface), when the node takes IPv6.
    pub(crate) beacon6: Option<(UdpSocket, Vec<SocketAddr>)>,
    /// Ignore beacons from anywhere but loopback (the node is on `lo`).
    pub(crate) loopback_only: bool,
    /// Set when the node follows its interfaces' addresses.
    pub(crate) watch: Option<Watch>,
}

pub(crate) struct Actor {
    engine: Engine,
    poll: Poll,
    beacon: Option<UdpSocket>,
    beacon_dests: Vec<SocketAddr>,
    listener: TcpListener,
    gossip: Option<TcpListener>,
    log: Option<TcpListener>,
    beacon6: Option<(UdpSocket, Vec<SocketAddr>)>,
    loopback_only: bool,
    watch: Option<Watch>,
    commands: Receiver<Command>,
    asleep: Arc<AtomicBool>,
    events: super::signal::EventTx,
    options: Options,
    conns: FixedMap<LinkId, Conn>,
    backlog: Arc<Backlog>,
    /// Content bytes taken from the command queue since the backlog was published.
    taken: usize,
    /// The links' unsent bytes as last published.
    published: usize,
    /// Links with output written since the last flush: flushed once per turn of
    /// the loop, so that a burst of messages to a link costs one system call.
    unflushed: Vec<LinkId>,
    /// At least the unsent bytes of all links: raised by every write, made exact
    /// only when it passes `Options::max_total_output`.
    unsent_bound: usize,
    /// Links the driver closed while carrying out the engine's outputs: the engine
    /// hears of them once the current outputs are drained, not from inside the
    /// drain (which would run the engine again in the middle of it).
    closed: Vec<(LinkId, CloseReason)>,
    /// Links whose reading paused (the application is behind, or the link used up
    /// its budget), so that a turn need not look at every link to find them;
    /// entries of links closed or read since are skipped.
    unread: Vec<LinkId>,
    stats: DriverStats,
    buf: Vec<u8>,
    stopping: bool,
    aborted: bool,
    /// Set when accepting failed: the next attempt.
    accept_retry: Option<Instant>,
    /// Beacon sockets (IPv4, IPv6) left with datagrams when the budget ran out.
    beacons_left: [bool; 2],
}

fn token(link: LinkId) -> Token {
    Token(link.0 as usize + FIRST_LINK)
}

fn link_of(t: Token) -> LinkId {
    LinkId((t.0 - FIRST_LINK) as u64)
}

impl Actor {
    pub(crate) fn new(
        engine: Engine,
        sockets: Sockets,
        commands: Receiver<Command>,
        (asleep, backlog): (Arc<AtomicBool>, Arc<Backlog>),
        events: super::signal::EventTx,
        options: Options,
    ) -> io::Result<Actor> {
        let Sockets {
            poll,
            mut beacon,
            beacon_dests,
            mut listener,
            mut gossip,
            mut log,
            mut beacon6,
            loopback_only,
            watch,
        } = sockets;
        if let Some((b, _)) = beacon6.as_mut() {
            poll.registry().register(b, BEACON6, Interest::READABLE)?;
        }
        if let Some(b) = beacon.as_mut() {
            poll.registry().register(b, BEACON, Interest::READABLE)?;
        }
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        if let Some(g) = gossip.as_mut() {
            poll.registry().register(g, GOSSIP, Interest::READABLE)?;
        }
        if let Some(l) = log.as_mut() {
            poll.registry().register(l, LOG, Interest::READABLE)?;
        }
        Ok(Actor {
            engine,
            poll,
            beacon,
            beacon_dests,
            listener,
            gossip,
            log,
            beacon6,
            loopback_only,
            watch,
            commands,
            asleep,
            events,
            options,
            conns: FixedMap::default(),
            backlog,
            taken: 0,
            published: 0,
            unflushed: Vec::new(),
            unsent_bound: 0,
            closed: Vec::new(),
            unread: Vec::new(),
            stats: DriverStats::default(),
            buf: vec![0u8; 64 * 1024],
            stopping: false,
            aborted: false,
            accept_retry: None,
            beacons_left: [false; 2],
        })
    }

    /// Runs until the application stops the node (or drops it).
    pub(crate) fn run(mut self, inbox: SocketAddr) {
        self.engine.start(Instant::now(), inbox);
        let mut events = Events::with_capacity(256);
        loop {
            if !self.aborted {
                self.drain_outputs();
                self.flush_unflushed();
                self.publish_backlog();
            }
            if self.stopping {
                break;
            }
            let now = Instant::now();
            let mut timeout = self
                .engine
                .poll_timeout()
                .map(|t| t.saturating_duration_since(now));
            if self.beacons_left.contains(&true) {
                timeout = Some(Duration::ZERO);
            }
            if !self.unread.is_empty() {
                // Reading is paused. For the application: look again soon. For the
                // other links' turn (a link used up its budget): at once, as the
                // bytes left in the socket raise no new readiness event.
                let t = if self.events.len() >= self.options.event_high_water {
                    Duration::from_millis(5)
                } else {
                    Duration::ZERO
                };
                timeout = Some(timeout.map_or(t, |x| x.min(t)));
            }
            for at in [self.accept_retry, self.watch.as_ref().map(|w| w.next)]
                .into_iter()
                .flatten()
            {
                let t = at.saturating_duration_since(now);
                timeout = Some(timeout.map_or(t, |x| x.min(t)));
            }
            // Say we are about to sleep, then look at the queue once more (see
            // `Mailbox::send`).
            self.asleep.store(true, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            if !self.commands.is_empty() {
                timeout = Some(Duration::ZERO);
            }
            let polled = self.poll.poll(&mut events, timeout);
            self.asleep.store(false, Ordering::Relaxed);
            if !self.commands.is_empty() {
                self.commands();
            }
            if let Err(e) = polled {
                if e.kind() != io::ErrorKind::Interrupted {
                    // The node cannot go on: stop as if asked, so that peers hear
                    // of it and the application gets STOP.
                    log::error!("poll failed: {e}");
                    self.engine.stop(Instant::now());
                    self.drain_outputs();
                    break;
                }
            }
            for ev in events.iter() {
                match ev.token() {
                    WAKER => self.commands(),
                    BEACON => self.read_beacons(false),
                    BEACON6 => self.read_beacons(true),
                    LISTENER => self.accept(Listener::Inbox),
                    GOSSIP => self.accept(Listener::Gossip),
                    LOG => self.accept(Listener::Log),
                    t => self.link_ready(link_of(t), ev.is_readable(), ev.is_writable()),
                }
            }
            // Links left unread while the application was behind: read them once
            // it has caught up; until then their peers stay alive. Links that used
            // up their budget: read them now.
            let mut pending = std::mem::take(&mut self.unread);
            pending.sort_unstable();
            pending.dedup();
            let behind = self.events.len() >= self.options.event_high_water;
            for &l in &pending {
                if !self.conns.get(&l).is_some_and(|c| c.read_pending) {
                    continue; // closed meanwhile, or read since
                }
                if behind {
                    self.engine.handle_unread(Instant::now(), l);
                    self.drain_outputs();
                    self.unread.push(l);
                } else {
                    self.link_ready(l, true, false);
                }
            }
            for (v6, left) in [(false, self.beacons_left[0]), (true, self.beacons_left[1])] {
                if left {
                    self.read_beacons(v6);
                }
            }
            let now = Instant::now();
            if self.accept_retry.is_some_and(|t| now >= t) {
                self.accept_retry = None;
                self.accept(Listener::Inbox);
                self.accept(Listener::Gossip);
                self.accept(Listener::Log);
            }
            if self.engine.poll_timeout().is_some_and(|t| now >= t) {
                self.engine.handle_timeout(now);
            }
            self.watch_interfaces(now);
        }
        // Give what is queued (the port-0 beacon went out already) a last chance.
        for c in self.conns.values_mut() {
            let _ = c.flush();
        }
        log::debug!(
            "{}: actor stopped (overflow drops {})",
            self.engine.name(),
            self.stats.overflow_drops
        );
    }

    /// Carries out the application's commands, at most [`COMMAND_BUDGET`] per turn,
    /// then what they made of the engine's output, once: a burst of whispers to one
    /// peer leaves as one write, not one per message. Past [`WRITE_NOW`] bytes of
    /// content the output is carried out on the spot, so that a burst of large
    /// messages goes to the sockets as it comes instead of piling up in the engine
    /// (where its bound, `max_pending`, would drop the peer sooner).
    fn commands(&mut self) {
        self.engine.set_now(Instant::now());
        let mut content_bytes = 0;
        for _ in 0..COMMAND_BUDGET {
            let cmd = match self.commands.try_recv() {
                Ok(cmd) => cmd,
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                // The Node handle is gone without a Stop: stop politely anyway.
                Err(crossbeam_channel::TryRecvError::Disconnected) => Command::Stop,
            };
            match cmd {
                Command::Join(g) => {
                    // Node::join checked the name.
                    let _ = self.engine.join(&g);
                }
                Command::Leave(g) => self.engine.leave(&g),
                Command::Whisper(p, content) => {
                    let n = content.content_len();
                    (content_bytes, self.taken) = (content_bytes + n, self.taken + n);
                    if !self.engine.whisper(p, &content) {
                        log::debug!(
                            "{}: whisper to unknown peer {p} dropped",
                            self.engine.name()
                        );
                    }
                }
                Command::Shout(g, content) => {
                    let n = content.content_len();
                    (content_bytes, self.taken) = (content_bytes + n, self.taken + n);
                    let _ = self.engine.shout(&g, &content);
                }
                Command::Query(q) => q(&mut self.engine),
                Command::Stop => {
                    self.engine.stop(Instant::now());
                    self.stopping = true;
                    return;
                }
                Command::Abort => {
                    self.conns.clear();
                    self.aborted = true;
                    self.stopping = true;
                    return;
                }
            }
            if content_bytes >= WRITE_NOW {
                self.drain_outputs();
                content_bytes = 0;
            }
        }
        self.drain_outputs();
    }

    fn read_beacons(&mut self, v6: bool) {
        self.beacons_left[usize::from(v6)] = false;
        for _ in 0..BEACON_BUDGET {
            let beacon = match v6 {
                false => self.beacon.as_ref(),
                true => self.beacon6.as_ref().map(|(b, _)| b),
            };
            let Some(beacon) = beacon else {
                return;
            };
            match beacon.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    if !v6 && self.loopback_only && !from.ip().is_loopback() {
                        continue;
                    }
                    let now = Instant::now();
                    self.engine.handle_datagram(now, from, &self.buf[..n]);
                    self.drain_outputs();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("beacon receive failed: {e}");
                    return;
                }
            }
        }
        // The budget ran out before the socket did: the rest next turn.
        self.beacons_left[usize::from(v6)] = true;
    }

    /// Registers a new connection (accepted, or still connecting) under its link id;
    /// if that fails, the engine hears that the link closed.
    fn adopt(&mut self, mut stream: TcpStream, link: LinkId, connected: bool) {
        let _ = stream.set_nodelay(true);
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, token(link), interest)
        {
            log::warn!("register failed: {e}");
            self.closed.push((link, CloseReason::Network));
            return;
        }
        let conn = Conn {
            stream,
            out: Vec::new(),
            sent: 0,
            connected,
            read_pending: false,
        };
        self.conns.insert(link, conn);
    }

    fn link_ready(&mut self, link: LinkId, readable: bool, writable: bool) {
        let Some(conn) = self.conns.get_mut(&link) else {
            return;
        };
        if writable && !conn.connected {
            match conn.stream.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => {
                    log::debug!("connect on {link:?} failed: {e}");
                    return self.close(link, CloseReason::Network);
                }
            }
            match conn.stream.peer_addr() {
                Ok(_) => {
                    conn.connected = true;
                    self.engine.handle_connected(Instant::now(), link);
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(_) => return self.close(link, CloseReason::Network),
            }
        }
        let Some(conn) = self.conns.get_mut(&link) else {
            return;
        };
        if conn.connected && conn.unsent() > 0 {
            if let Err(e) = conn.flush() {
                log::debug!("{}: {link:?} write failed: {e}", self.engine.name());
                return self.close(link, CloseReason::Network);
            }
        }
        if readable && conn.connected {
            self.read_link(link);
        }
    }

    fn read_link(&mut self, link: LinkId) {
        let mut total = 0;
        loop {
            if self.events.len() >= self.options.event_high_water {
                // The application is behind: leave the bytes in the kernel, so TCP
                // slows the sender down. Timers and beacons keep running, and the
                // peer, which is talking, stays alive on both sides.
                if let Some(c) = self.conns.get_mut(&link) {
                    if !c.read_pending {
                        c.read_pending = true;
                        self.unread.push(link);
                    }
                }
                return;
            }
            let Some(conn) = self.conns.get_mut(&link) else {
                return;
            };
            if total >= READ_BUDGET {
                if !conn.read_pending {
                    conn.read_pending = true;
                    self.unread.push(link);
                }
                return;
            }
            conn.read_pending = false;
            match conn.stream.read(&mut self.buf) {
                Ok(0) => {
                    log::debug!("{}: {link:?} closed by peer", self.engine.name());
                    return self.close(link, CloseReason::Network);
                }
                Ok(n) => {
                    total += n;
                    self.engine
                        .handle_bytes(Instant::now(), link, &self.buf[..n]);
                    self.drain_outputs();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("{}: {link:?} read failed: {e}", self.engine.name());
                    return self.close(link, CloseReason::Network);
                }
            }
        }
    }

    /// Closes a link on the driver's side and tells the engine, then carries out
    /// what the engine makes of it.
    fn close(&mut self, link: LinkId, reason: CloseReason) {
        self.forget(link, reason);
        self.drain_outputs();
    }

    /// Closes a link on the driver's side; the engine hears of it when the outputs
    /// are next drained.
    fn forget(&mut self, link: LinkId, reason: CloseReason) {
        if let Some(mut c) = self.conns.remove(&link) {
            let _ = self.poll.registry().deregister(&mut c.stream);
        }
        self.closed.push((link, reason));
    }

    /// Drops the peers with the most unsent output until all links together hold
    /// at most `Options::max_total_output`.
    fn bound_total_output(&mut self) {
        loop {
            let total: usize = self.conns.values().map(Conn::unsent).sum();
            self.unsent_bound = total;
            if total <= self.options.max_total_output {
                return;
            }
            let Some((&link, _)) = self.conns.iter().max_by_key(|(l, c)| (c.unsent(), **l)) else {
                return;
            };
            let why = format!(
                "links hold {total} bytes unsent, more than {}",
                self.options.max_total_output
            );
            self.overflow(link, &why);
        }
    }

    /// Drops the peer of a link whose output outgrew a bound: logged and counted.
    fn overflow(&mut self, link: LinkId, why: &str) {
        log::warn!(
            "{}: {why}: dropping the peer of {link:?}",
            self.engine.name()
        );
        self.stats.overflow_drops += 1;
        self.forget(link, CloseReason::Overflow);
    }

    /// Tells the application's side what this turn took from the queue and what the
    /// links still hold. Only while something was sent or is unsent: an idle turn
    /// costs nothing, a busy one a sum over the links.
    fn publish_backlog(&mut self) {
        if self.taken == 0 && self.published == 0 {
            return;
        }
        let unsent = self.conns.values().map(Conn::unsent).sum();
        self.backlog
            .publish(std::mem::take(&mut self.taken), unsent);
        self.published = unsent;
    }

    /// Writes what was queued this turn to the sockets.
    fn flush_unflushed(&mut self) {
        while let Some(link) = self.unflushed.pop() {
            let Some(conn) = self.conns.get_mut(&link) else {
                continue;
            };
            if conn.connected {
                if let Err(e) = conn.flush() {
                    log::debug!("{}: {link:?} write failed: {e}", self.engine.name());
                    self.close(link, CloseReason::Network);
                }
            }
        }
    }

    /// Carries out everything the engine asked for, and tells it of the links that
    /// closed meanwhile, until it has nothing more to ask.
    fn drain_outputs(&mut self) {
        loop {
            self.carry_out();
            if self.closed.is_empty() {
                return;
            }
            let now = Instant::now();
            for (link, reason) in std::mem::take(&mut self.closed) {
                self.engine.handle_closed(now, link, reason);
            }
        }
    }

    /// Carries out the engine's outputs; links that fail are only queued in
    /// `closed` here.
    fn carry_out(&mut self) {
        while let Some(out) = self.engine.poll_output() {
            match out {
                Output::Broadcast(bytes) => {
                    let v4 = self.beacon.as_ref().map(|b| (b, &self.beacon_dests));
                    let v6 = self.beacon6.as_ref().map(|(b, d)| (b, d));
                    for (b, dests) in v4.into_iter().chain(v6) {
                        for dest in dests {
                            if let Err(e) = b.send_to(&bytes, *dest) {
                                log::debug!("beacon send to {dest} failed: {e}");
                            }
                        }
                    }
                }
                Output::Connect { link, addr } => match TcpStream::connect(addr) {
                    Ok(stream) => self.adopt(stream, link, false),
                    Err(e) => {
                        log::debug!("connect to {addr} failed: {e}");
                        self.closed.push((link, CloseReason::Network));
                    }
                },
                Output::Write { link, bytes } => {
                    let Some(conn) = self.conns.get_mut(&link) else {
                        continue;
                    };
                    // A log collector that does not read costs records, not memory:
                    // each write is whole ZMTP frames, so dropping one keeps framing.
                    if conn.unsent() + bytes.len() > crate::engine::logs::LOG_OUTPUT_LIMIT
                        && self.engine.is_log_output(link)
                    {
                        self.engine.log_output_dropped(&bytes);
                        continue;
                    }
                    self.unsent_bound += bytes.len();
                    let before = conn.unsent();
                    if before == 0 {
                        if conn.connected {
                            self.unflushed.push(link);
                        }
                        if conn.out.is_empty() {
                            conn.out = bytes;
                        } else {
                            conn.out.extend_from_slice(&bytes);
                        }
                    } else {
                        conn.out.extend_from_slice(&bytes);
                    }
                    // Output that grows past WRITE_NOW goes to the socket now rather
                    // than at the end of the turn: the buffer stays small enough to
                    // be reused instead of mapped and faulted in afresh. Only on the
                    // crossing, so a blocked socket costs no syscall per message. Past
                    // the bound, the socket gets a last chance before the peer goes.
                    let after = conn.unsent();
                    let crossed = before < WRITE_NOW && after >= WRITE_NOW;
                    let over = after > self.options.max_link_output;
                    let dead = (crossed || over) && conn.connected && conn.flush().is_err();
                    if dead {
                        self.forget(link, CloseReason::Network);
                    } else if self
                        .conns
                        .get(&link)
                        .is_some_and(|c| c.unsent() > self.options.max_link_output)
                    {
                        let why = format!(
                            "more than {} bytes unsent on one link",
                            self.options.max_link_output
                        );
                        self.overflow(link, &why);
                    }
                    if self.unsent_bound > self.options.max_total_output {
                        self.bound_total_output();
                    }
                }
                Output::Close { link } => {
                    if let Some(mut c) = self.conns.remove(&link) {
                        if c.connected {
                            let _ = c.flush();
                        }
                        let _ = self.poll.registry().deregister(&mut c.stream);
                    }
                }
                Output::Event(e) => {
                    // The receiver is gone only if the application dropped it: fine.
                    let _ = self.events.send(e);
                }
            }
        }
    }
}
