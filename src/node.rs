//! [`Node`]: the application's handle on one mesh node, with Zyre's API.

use std::fmt;
use std::time::Duration;

use crossbeam_channel::Receiver;

use crate::engine::Config;
pub use crate::error::Error;
use crate::event::{Event, PeerId};
use crate::frames::Frames;
use crate::net::actor::Command;
use crate::net::{Options, Running};
use crate::wire::check_string;

pub use crate::wire::beacon::DEFAULT_PORT;

/// One mesh node. Configure it, [`start`](Node::start) it, then talk and listen:
///
/// ```no_run
/// use zmesh::{Event, Node};
/// let mut node = Node::new("alice");
/// node.set_interface("lo");          // this host only
/// node.set_port(5670);
/// node.start()?;
/// node.join("chat")?;
/// for event in node.events() {
///     match event {
///         Event::Enter { name, .. } => println!("{name} is here"),
///         Event::Shout { name, content, .. } => {
///             println!("{name}: {}", String::from_utf8_lossy(&content[0]))
///         }
///         _ => {}
///     }
/// }
/// # Ok::<(), zmesh::Error>(())
/// ```
///
/// The protocol runs in one actor thread per node; this handle sends it commands,
/// and [`events`](Node::events) is a crossbeam receiver that can be `select!`ed
/// with the application's own channels. Dropping the node stops it politely.
pub struct Node {
    pub(crate) id: PeerId,
    pub(crate) config: Config,
    port: u16,
    interface: Option<String>,
    pub(crate) options: Options,
    /// Groups joined before start: announced in the first HELLOs.
    early_groups: std::sync::Mutex<Vec<String>>,
    events_tx: crate::net::signal::EventTx,
    pub(crate) signal: std::sync::Arc<crate::net::signal::Signal>,
    events_rx: Receiver<Event>,
    running: Option<Running>,
    stopped: bool,
    /// Beacons on or off as asked; by default on unless the node gossips or was
    /// given an endpoint (as Zyre).
    beacon: Option<bool>,
    endpoint: Option<String>,
    inbox_port: Option<u16>,
    gossip_bind: Option<String>,
    log_bind: Option<String>,
    gossip_connect: Vec<String>,
    /// IPv6 on or off as asked (default: `ZSYS_IPV6=1`), and the beacon group.
    ipv6: Option<bool>,
    ipv6_group: Option<std::net::Ipv6Addr>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .field("name", &self.config.name)
            .field("running", &self.running.is_some())
            .finish()
    }
}

impl Node {
    /// A node with this name (empty: the first 6 hex digits of its UUID, as Zyre)
    /// and a fresh random UUID. Silent until started.
    pub fn new(name: &str) -> Node {
        Node::with_id(name, PeerId::random())
    }

    /// A node with a given UUID (to restart "the same" node).
    pub fn with_id(name: &str, id: PeerId) -> Node {
        let name = if name.is_empty() {
            id.short(6)
        } else {
            name.to_string()
        };
        let (events_tx, events_rx) = crossbeam_channel::unbounded();
        let signal = std::sync::Arc::new(crate::net::signal::Signal::default());
        let events_tx = crate::net::signal::EventTx::new(events_tx, signal.clone());
        Node {
            id,
            config: Config::new(name),
            port: DEFAULT_PORT,
            interface: None,
            options: Options::default(),
            early_groups: std::sync::Mutex::new(Vec::new()),
            events_tx,
            signal,
            events_rx,
            running: None,
            stopped: false,
            beacon: None,
            endpoint: None,
            inbox_port: None,
            gossip_bind: None,
            log_bind: None,
            gossip_connect: Vec::new(),
            ipv6: None,
            ipv6_group: None,
        }
    }

    /// Our UUID.
    pub fn uuid(&self) -> PeerId {
        self.id
    }

    /// Our name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Renames the node before it starts (Zyre's `zyre_set_name`; empty: the first
    /// 6 hex digits of its UUID). Peers learn the name from HELLO, so a running
    /// node cannot change it: [`Error::AlreadyStarted`].
    ///
    /// ```
    /// let mut node = zmesh::Node::new("first");
    /// node.set_name("alice")?;
    /// assert_eq!(node.name(), "alice");
    /// # Ok::<(), zmesh::Error>(())
    /// ```
    pub fn set_name(&mut self, name: &str) -> Result<(), Error> {
        if self.running.is_some() {
            return Err(Error::AlreadyStarted);
        }
        self.config.name = if name.is_empty() {
            self.id.short(6)
        } else {
            name.to_string()
        };
        Ok(())
    }

    /// Verbose mode (Zyre's `zyre_set_verbose`), before or after start: a line for
    /// every message this node sends and receives, each starting with its name,
    /// `(alice) send WHISPER to peer=bob sequence=3`. The lines are logged at
    /// `info` under the target `zmesh::verbose` (with `env_logger`:
    /// `RUST_LOG=zmesh::verbose=info`).
    pub fn set_verbose(&mut self, on: bool) {
        self.config.verbose = on;
        if self.running.is_some() {
            let _ = self.query(move |e| e.set_verbose(on));
        }
    }

    /// Adds a header sent to peers in HELLO. Takes effect at start. The key is at
    /// most 255 bytes (a ZRE `string`): a longer one would make every HELLO
    /// unencodable and the node invisible, so it is refused.
    pub fn set_header(&mut self, key: &str, value: &str) -> Result<(), Error> {
        if key.len() > 255 {
            return Err(Error::BadSetting(format!(
                "header keys are at most 255 bytes; {:?}... has {}",
                key.chars().take(16).collect::<String>(),
                key.len()
            )));
        }
        if u32::try_from(value.len()).is_err() {
            return Err(Error::BadSetting("header values are below 4 GiB".into()));
        }
        self.config.headers.insert(key.into(), value.into());
        Ok(())
    }

    /// The UDP beacon port (default 5670); nodes on different ports never meet.
    pub fn set_port(&mut self, port: u16) {
        self.port = port;
    }

    /// The interface: a name, an IPv4 address, a digit (index of the eligible
    /// interfaces), `lo` for this host only, `*` for every eligible interface, or
    /// names separated by commas. With more than one, the node beacons on each and
    /// its inbox listens on every address. Default: `ZSYS_INTERFACE`, then the
    /// first broadcast-capable non-loopback interface that is up (see
    /// [`interfaces`](crate::interfaces)). A running node looks at its interfaces
    /// every 2 s and follows a change of their addresses: it rebinds its inbox
    /// on the same port and tells its peers, which keep it (no EXIT).
    pub fn set_interface(&mut self, interface: &str) {
        self.interface = Some(interface.to_string());
    }

    /// Time between beacons (zero: the default, 1 s).
    pub fn set_interval(&mut self, interval: Duration) {
        self.config = self.config.clone().with_beacon_interval(interval);
    }

    /// Quiet time before a peer is pinged and reported EVASIVE (default 5 s; from
    /// 10 ms to a day).
    pub fn set_evasive_timeout(&mut self, t: Duration) -> Result<(), Error> {
        self.config.evasive_timeout = timeout("evasive", t)?;
        Ok(())
    }

    /// Zyre's name for the same setting as [`Node::set_evasive_timeout`]: SILENT
    /// follows EVASIVE by one reap interval.
    pub fn set_silent_timeout(&mut self, t: Duration) -> Result<(), Error> {
        self.set_evasive_timeout(t)
    }

    /// Quiet time before a peer is dropped with EXIT (default 30 s; from 10 ms to
    /// a day).
    pub fn set_expired_timeout(&mut self, t: Duration) -> Result<(), Error> {
        self.config.expired_timeout = timeout("expired", t)?;
        Ok(())
    }

    /// Driver limits (per-peer output, event backlog).
    pub fn set_options(&mut self, options: Options) {
        self.options = options;
    }

    /// Largest message accepted from a peer (default 64 MiB, 4 GiB at most).
    pub fn set_max_message(&mut self, bytes: usize) {
        self.config.max_message = bytes;
    }

    /// Binds the inbox to this endpoint (`tcp://IP:PORT`, or `tcp://*:PORT` for every
    /// address) instead of an ephemeral port: a fixed port for a firewall. As in
    /// Zyre, the node then discovers by gossip or explicit peers only, unless
    /// [`Node::set_beacon`] turns beacons back on. Takes effect at start.
    ///
    /// ```
    /// let mut node = zmesh::Node::new("a");
    /// assert!(node.set_endpoint("tcp://127.0.0.1:49999").is_ok());
    /// assert!(node.set_endpoint("udp://x").is_err());
    /// ```
    pub fn set_endpoint(&mut self, endpoint: &str) -> Result<(), Error> {
        crate::net::bind_addr(endpoint).ok_or_else(|| Error::BadEndpoint(endpoint.into()))?;
        self.endpoint = Some(endpoint.to_string());
        Ok(())
    }

    /// The endpoint peers are told to connect to, when it is not the bound one
    /// (NAT, a container's port mapping): it goes in HELLO and gossip, and its port
    /// in beacons. Takes effect at start.
    pub fn set_advertised_endpoint(&mut self, endpoint: &str) -> Result<(), Error> {
        crate::engine::endpoint_addr(endpoint)
            .ok_or_else(|| Error::BadEndpoint(endpoint.into()))?;
        self.config.advertised_endpoint = Some(endpoint.to_string());
        Ok(())
    }

    /// Binds the inbox on this port of the interface, and keeps beacons (Zyre's
    /// `zyre_set_beacon_peer_port`). Takes effect at start.
    pub fn set_beacon_peer_port(&mut self, port: u16) {
        self.inbox_port = Some(port);
    }

    /// Turns UDP beacons on or off, whatever the other settings imply (by default
    /// they are on unless the node gossips or has an endpoint). A node may beacon and
    /// gossip at once; a peer found both ways is one peer. Takes effect at start.
    pub fn set_beacon(&mut self, on: bool) {
        self.beacon = Some(on);
    }

    /// Makes this node a ZRE-LOG collector, as in the guide's chapter 8: it listens
    /// on `endpoint` (`tcp://IP:PORT`, `tcp://*:PORT`, port 0 for any) and
    /// announces it in the `X-ZRELOG` header; every node that sees it publishes
    /// its protocol events and its application's records ([`Node::log`]) there,
    /// and each arrives here as an [`Event::Log`](crate::Event::Log). Takes effect
    /// at start. Not with CURVE (the log links would be clear text).
    ///
    /// ```no_run
    /// let mut collector = zmesh::Node::new("collector");
    /// collector.set_interface("lo");
    /// collector.set_log_collector("tcp://127.0.0.1:0")?;
    /// collector.start()?;
    /// for event in collector.events() {
    ///     if let zmesh::Event::Log { name, record, .. } = event {
    ///         println!("{name}: {:?} {}", record.event, record.data);
    ///     }
    /// }
    /// # Ok::<(), zmesh::Error>(())
    /// ```
    pub fn set_log_collector(&mut self, endpoint: &str) -> Result<(), Error> {
        crate::net::bind_addr(endpoint).ok_or_else(|| Error::BadEndpoint(endpoint.into()))?;
        self.log_bind = Some(endpoint.to_string());
        Ok(())
    }

    /// Publishes one record of the application's to every log collector on the
    /// mesh (see [`Node::set_log_collector`]); nothing when there is none. Records
    /// beyond 100 a second (after a burst of 200) are dropped and counted in
    /// [`Stats::log_dropped`](crate::engine::Stats::log_dropped); text beyond 255
    /// bytes is cut.
    pub fn log(&self, level: crate::wire::zrelog::Level, text: &str) -> Result<(), Error> {
        let text = text.to_string();
        self.send(Command::Query(Box::new(move |e| e.log(level, &text))))
    }

    /// Serves gossip on this endpoint (Zyre's `zyre_gossip_bind`): other nodes
    /// connect to it to learn of each other. Takes effect at start.
    pub fn gossip_bind(&mut self, endpoint: &str) -> Result<(), Error> {
        crate::net::bind_addr(endpoint).ok_or_else(|| Error::BadEndpoint(endpoint.into()))?;
        self.gossip_bind = Some(endpoint.to_string());
        Ok(())
    }

    /// Becomes a client of the gossip server at this endpoint (Zyre's
    /// `zyre_gossip_connect`); may be called for several servers. Takes effect at
    /// start.
    pub fn gossip_connect(&mut self, endpoint: &str) -> Result<(), Error> {
        crate::engine::endpoint_addr(endpoint)
            .ok_or_else(|| Error::BadEndpoint(endpoint.into()))?;
        self.gossip_connect.push(endpoint.to_string());
        Ok(())
    }

    /// Connects to a peer given by its UUID and endpoint, with no discovery at all
    /// (Zyre's `zyre_require_peer`). The node must be running.
    pub fn require_peer(&self, peer: PeerId, endpoint: &str) -> Result<(), Error> {
        let ep = endpoint.to_string();
        // The closure runs on the actor thread, whose clock the engine follows.
        self.query(move |e| e.connect_peer(std::time::Instant::now(), peer, &ep))?
            .map_err(|e| Error::BadEndpoint(e.0))
    }

    /// Contests the leadership of `group` (Zyre's `zyre_set_contest_in_group`),
    /// before or after start. When a member joins the group or its leader goes, an
    /// election runs among the group's members (every member takes part, contesting
    /// or not) and each member gets an [`Event::Leader`](crate::Event::Leader); the
    /// lowest UUID among those contesting wins. See docs/election.md.
    pub fn set_contest_in_group(&mut self, group: &str) -> Result<(), Error> {
        check_string(group).map_err(|_| Error::GroupTooLong)?;
        if self.running.is_some() {
            let g = group.to_string();
            return self.query(move |e| e.set_contest_in_group(&g));
        }
        self.config.contest.insert(group.to_string());
        Ok(())
    }

    /// CURVE mode, as Zyre's `zyre_set_zcert`: the node is its key pair. Its
    /// beacons carry the public key (version 3), its HELLO says it in
    /// `X-PUBLICKEY`, every link is CurveZMQ-encrypted and authenticated, and a
    /// peer is known by its key: a message whose sender authenticated with another
    /// key than the one its UUID was announced with is dropped. A CURVE node and a
    /// plain one never meet. Takes effect at start.
    ///
    /// ```no_run
    /// let mut node = zmesh::Node::new("alice");
    /// node.set_curve(zmesh::new_curve_keys());
    /// node.start()?;
    /// # Ok::<(), zmesh::Error>(())
    /// ```
    pub fn set_curve(&mut self, keys: crate::CurveKeys) {
        self.config.curve = Some(keys);
    }

    /// CURVE mode: talk only to these public keys (czmq's `zauth` with a
    /// certificate store; [`cert::load_dir`](crate::cert::load_dir) reads one). A
    /// connection that authenticates with another key is closed as soon as its
    /// handshake is done, a peer announced with another key is not connected to,
    /// and neither ever enters; both are counted (`Stats::not_allowed`). Takes
    /// effect at start.
    pub fn set_curve_allow(&mut self, keys: impl IntoIterator<Item = [u8; 32]>) {
        self.config.allow = Some(keys.into_iter().collect());
    }

    /// Takes IPv6 as well as IPv4 (czmq's `ZSYS_IPV6`, which is the default when
    /// this is not called): beacons go to the IPv6 multicast group too (see
    /// [`set_ipv6_multicast`](Node::set_ipv6_multicast)) on the interfaces
    /// [`set_interface`](Node::set_interface) names that have IPv6, and the inbox
    /// takes IPv6 and IPv4 connections. A peer that is on both is one peer. On a
    /// network with no IPv4 the node runs on IPv6 alone. Takes effect at start.
    pub fn set_ipv6(&mut self, on: bool) {
        self.ipv6 = Some(on);
    }

    /// The IPv6 multicast group beacons go to (default: `ZSYS_IPV6_MCAST_ADDRESS`,
    /// then `ff02::1`, as czmq). Takes effect at start.
    pub fn set_ipv6_multicast(&mut self, group: std::net::Ipv6Addr) {
        self.ipv6_group = Some(group);
    }

    /// The IPv6 beacon group if the node takes IPv6.
    fn ipv6_group(&self) -> Option<std::net::Ipv6Addr> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let on = self
            .ipv6
            .unwrap_or_else(|| env("ZSYS_IPV6").is_some_and(|v| v == "1"));
        on.then(|| {
            self.ipv6_group
                .or_else(|| env("ZSYS_IPV6_MCAST_ADDRESS")?.parse().ok())
                .unwrap_or(std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1))
        })
    }

    /// Starts the node: binds the beacon socket and the inbox, starts the actor
    /// thread, and sends the first beacon.
    pub fn start(&mut self) -> Result<(), Error> {
        if self.running.is_some() || self.stopped {
            return Err(Error::AlreadyStarted);
        }
        let groups = self.early_groups.lock().expect("not poisoned").clone();
        let mut engine = self.config.clone();
        engine.beacon = self.beacon.unwrap_or(
            self.endpoint.is_none() && self.gossip_bind.is_none() && self.gossip_connect.is_empty(),
        );
        self.running = Some(crate::net::spawn(crate::net::Spec {
            engine,
            id: self.id,
            port: self.port,
            interface: self.interface.clone(),
            options: self.options,
            groups,
            events: self.events_tx.clone(),
            endpoint: self.endpoint.clone(),
            inbox_port: self.inbox_port,
            gossip_bind: self.gossip_bind.clone(),
            log_bind: self.log_bind.clone(),
            gossip_connect: self.gossip_connect.clone(),
            ipv6: self.ipv6_group(),
        })?);
        Ok(())
    }

    /// Stops the node politely (a port-0 beacon, so peers see EXIT at once) and
    /// waits for the actor to finish. A `Stop` event is the last event.
    pub fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            self.stopped = true;
            r.finish(Command::Stop);
        }
    }

    /// Stops the node abruptly, as if its process died: no port-0 beacon, no
    /// `Stop` event; its connections just close. Peers notice only through their
    /// timeouts. For tests and fault injection.
    pub fn abort(&mut self) {
        if let Some(r) = self.running.take() {
            self.stopped = true;
            r.finish(Command::Abort);
        }
    }

    /// True between `start` and `stop`.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Our inbox endpoint (`tcp://ip:port`), once started.
    pub fn endpoint(&self) -> Option<&str> {
        self.running.as_ref().map(|r| r.endpoint.as_str())
    }

    /// The event stream. Clones share one queue: each event goes to one reader.
    pub fn events(&self) -> Receiver<Event> {
        self.events_rx.clone()
    }

    pub(crate) fn send(&self, cmd: Command) -> Result<(), Error> {
        let r = self.running.as_ref().ok_or(Error::NotRunning)?;
        match r.mailbox.send(cmd) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::NotRunning),
            Err(e) => Err(Error::Io(e)),
        }
    }

    /// Joins a group; every peer is told. Before start, the group is announced in
    /// the node's HELLOs.
    pub fn join(&self, group: &str) -> Result<(), Error> {
        check_string(group).map_err(|_| Error::GroupTooLong)?;
        if self.running.is_none() {
            if self.stopped {
                return Err(Error::NotRunning);
            }
            let mut early = self.early_groups.lock().expect("not poisoned");
            if !early.iter().any(|g| g == group) {
                early.push(group.to_string());
            }
            return Ok(());
        }
        self.send(Command::Join(group.into()))
    }

    /// Leaves a group.
    pub fn leave(&self, group: &str) -> Result<(), Error> {
        if self.running.is_none() {
            if self.stopped {
                return Err(Error::NotRunning);
            }
            self.early_groups
                .lock()
                .expect("not poisoned")
                .retain(|g| g != group);
            return Ok(());
        }
        self.send(Command::Leave(group.into()))
    }

    /// Sends a multipart message to one peer. A peer that is not known is skipped
    /// (and counted), as in Zyre. The frames are a [`Frames`] (a received message's
    /// content is sent on as it is, without a copy) or anything that iterates over
    /// byte strings: `["hi"]`, `vec![bytes]`, `[b"a".as_slice(), b"b"]`, which
    /// are copied into one buffer.
    ///
    /// ```no_run
    /// # let node = zmesh::Node::new("a");
    /// # let peer = zmesh::PeerId([1; 16]);
    /// node.whisper(peer, ["one frame"])?;
    /// node.whisper(peer, vec![b"two".to_vec(), vec![0u8; 1024]])?;
    /// # Ok::<(), zmesh::Error>(())
    /// ```
    pub fn whisper(&self, peer: PeerId, frames: impl Into<Frames>) -> Result<(), Error> {
        self.send(Command::Whisper(peer, frames.into()))
    }

    /// Sends a one-frame text message to one peer.
    pub fn whispers(&self, peer: PeerId, text: &str) -> Result<(), Error> {
        self.whisper(peer, [text])
    }

    /// Sends a multipart message to every peer in a group (we need not be in it).
    /// The frames are as for [`Node::whisper`].
    pub fn shout(&self, group: &str, frames: impl Into<Frames>) -> Result<(), Error> {
        check_string(group).map_err(|_| Error::GroupTooLong)?;
        self.send(Command::Shout(group.into(), frames.into()))
    }

    /// Sends a one-frame text message to a group.
    pub fn shouts(&self, group: &str, text: &str) -> Result<(), Error> {
        self.shout(group, [text])
    }

    /// Bytes of whisper and shout content this node holds unsent: still in its
    /// command queue, or in its links' output that the kernel has not taken yet
    /// (there a message counts with its framing, and a shout once per recipient).
    /// 0 when the node is not running.
    ///
    /// A send never blocks, in zmesh as in Zyre, and a peer whose unsent output
    /// passes `Options::max_link_output` is dropped. A sender that can outrun its
    /// peers paces itself on this figure, or waits with [`Node::wait_queued`].
    pub fn queued_bytes(&self) -> usize {
        self.running
            .as_ref()
            .map_or(0, |r| r.mailbox.backlog.bytes())
    }

    /// Waits until the node holds at most `at_most` bytes unsent
    /// ([`Node::queued_bytes`]): `Ok(true)` when it does, `Ok(false)` if `timeout`
    /// passed first (a peer that does not read keeps its output here until it is
    /// dropped), [`Error::NotRunning`] if the node is not running or stops meanwhile.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # let node = zmesh::Node::new("a");
    /// # let peer = zmesh::PeerId([1; 16]);
    /// # let data = vec![0u8; 1 << 30];
    /// const ROOM: usize = 4 << 20;
    /// for chunk in data.chunks(64 * 1024) {
    ///     // At most 4 MiB waits in the node, however slowly the peer reads.
    ///     if node.queued_bytes() > ROOM && !node.wait_queued(ROOM, Duration::from_secs(30))? {
    ///         eprintln!("the peer has read nothing for 30 s");
    ///         break;
    ///     }
    ///     node.whisper(peer, [chunk])?;
    /// }
    /// # Ok::<(), zmesh::Error>(())
    /// ```
    pub fn wait_queued(&self, at_most: usize, timeout: Duration) -> Result<bool, Error> {
        let r = self.running.as_ref().ok_or(Error::NotRunning)?;
        r.mailbox
            .backlog
            .wait(at_most, timeout)
            .ok_or(Error::NotRunning)
    }

    /// [`Node::wait_queued`] for async code (feature `async`): resolves once the
    /// node holds at most `at_most` bytes unsent, without blocking the executor's
    /// thread, or to [`Error::NotRunning`] if the node is not running or stops.
    /// Bound the wait with the runtime's own timeout.
    ///
    /// ```no_run
    /// # async fn send(node: &zmesh::Node, peer: zmesh::PeerId, data: &[u8]) -> Result<(), zmesh::Error> {
    /// for chunk in data.chunks(64 * 1024) {
    ///     node.wait_queued_async(4 << 20).await?;
    ///     node.whisper(peer, [chunk])?;
    /// }
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "async")]
    pub fn wait_queued_async(&self, at_most: usize) -> Room {
        Room {
            backlog: self.running.as_ref().map(|r| r.mailbox.backlog.clone()),
            at_most,
        }
    }
}

/// The future of [`Node::wait_queued_async`].
#[cfg(feature = "async")]
#[derive(Debug)]
#[must_use = "a wait does nothing unless awaited"]
pub struct Room {
    backlog: Option<std::sync::Arc<crate::net::actor::Backlog>>,
    at_most: usize,
}

#[cfg(feature = "async")]
impl std::future::Future for Room {
    type Output = Result<(), Error>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
        let Some(b) = &self.backlog else {
            return Poll::Ready(Err(Error::NotRunning));
        };
        match b.poll_room(self.at_most, cx.waker()) {
            Some(true) => Poll::Ready(Ok(())),
            Some(false) => Poll::Pending,
            None => Poll::Ready(Err(Error::NotRunning)),
        }
    }
}

/// A liveness timeout in its range: zero would ping every peer on every reap tick,
/// and a huge one overflows the clock.
pub(crate) fn timeout(what: &str, t: Duration) -> Result<Duration, Error> {
    const RANGE: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(86_400));
    if t < RANGE.0 || t > RANGE.1 {
        return Err(Error::BadSetting(format!(
            "the {what} timeout is from 10 ms to a day, not {t:?}"
        )));
    }
    Ok(t)
}

/// The node's state, as Zyre's `zyre_print`: name, UUID, endpoint, groups, and each
/// peer with its endpoint, groups and headers. A running node is asked for it (one
/// round trip to its thread).
impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "zmesh node {} ({})", self.config.name, self.id)?;
        let state = self.query(|e| {
            let groups: Vec<String> = e.own_groups().map(String::from).collect();
            (groups, e.peers().collect::<Vec<_>>())
        });
        let Ok((groups, peers)) = state else {
            return write!(f, "  not running");
        };
        writeln!(f, "  endpoint: {}", self.endpoint().unwrap_or("-"))?;
        writeln!(f, "  groups: {}", groups.join(", "))?;
        write!(f, "  peers: {}", peers.len())?;
        for p in peers {
            let groups: Vec<&str> = p.groups.iter().map(String::as_str).collect();
            write!(f, "\n    {} ({}) {}", p.name, p.id, p.endpoint)?;
            write!(f, "\n      groups: {}", groups.join(", "))?;
            for (k, v) in &p.headers {
                write!(f, "\n      {k}: {v}")?;
            }
        }
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An actor that dies (here of a panic in a query) still tells the
    /// application: STOP on the event channel, and commands that fail.
    #[test]
    fn a_dead_actor_says_stop() {
        let mut n = Node::new("doomed");
        n.set_interface("lo");
        n.set_port(46502);
        n.start().unwrap();
        let events = n.events();
        let _ = n.query(|_| -> () { panic!("a bug in the actor") });
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match events.recv_timeout(left) {
                Ok(Event::Stop { peer, .. }) => {
                    assert_eq!(peer, n.uuid());
                    break;
                }
                Ok(_) => {}
                Err(e) => panic!("no STOP from a dead actor: {e}"),
            }
        }
        assert!(n.join("late").is_err());
    }
}
