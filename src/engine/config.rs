//! Engine configuration: name, headers and the protocol's timers.

use std::collections::BTreeMap;
use std::time::Duration;

/// Zyre's defaults, which zmesh keeps so that mixed meshes agree on liveness.
pub mod defaults {
    use std::time::Duration;
    /// Beacon interval (Zyre, Pyre: 1 s).
    pub const BEACON_INTERVAL: Duration = Duration::from_secs(1);
    /// No traffic for this long: PING the peer and report it EVASIVE (Zyre: 5 s).
    pub const EVASIVE_TIMEOUT: Duration = Duration::from_secs(5);
    /// No traffic for this long: the peer is gone (Zyre, Pyre: 30 s).
    pub const EXPIRED_TIMEOUT: Duration = Duration::from_secs(30);
    /// Upper bound of the reap interval (Zyre: 1 s).
    pub const REAP_INTERVAL: Duration = Duration::from_secs(1);
    /// Wait before reconnecting a broken outgoing link (libzmq's reconnect_ivl).
    pub const RECONNECT_INTERVAL: Duration = Duration::from_millis(100);
    /// An accepted connection that has not finished its ZMTP handshake by then is
    /// closed (libzmq's handshake_ivl).
    pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
    /// Time to live of the tuple a node publishes by gossip; it is published again
    /// every third of this, so that tuples of nodes that are gone expire
    /// everywhere (Zyre publishes tuples that never expire).
    pub const GOSSIP_TTL: Duration = Duration::from_secs(60);
    /// How often a gossip client pings its servers (czmq's server forgets a quiet
    /// client after 1 s) and the node looks for expired tuples.
    pub const GOSSIP_TICK: Duration = Duration::from_millis(500);
    /// How long membership must stay still before a contesting node starts an
    /// election: long enough for a JOIN or a departure to reach every member
    /// first (an ELECT passed on by a member that has not yet heard of a joiner
    /// never reaches it, and the wave never ends).
    pub const ELECTION_DELAY: Duration = Duration::from_millis(500);
    /// How long a member holds a wave that has not ended before it drops it (its
    /// challenger waits twice as long, then tries again): a member that vanished
    /// or a message lost with a broken link would otherwise hold the election for
    /// ever.
    pub const ELECTION_TIMEOUT: Duration = Duration::from_secs(5);
}

/// How an [`Engine`](super::Engine) behaves. Build it with [`Config::new`] and the
/// `with_*` methods, or set the public fields.
///
/// ```
/// use std::time::Duration;
/// use zmesh::engine::Config;
/// let c = Config::new("alice")
///     .with_header("X-ROLE", "demo")
///     .with_expired_timeout(Duration::from_secs(10));
/// assert_eq!(c.reap_interval(), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The name sent in HELLO (at most 255 bytes; longer names are cut).
    pub name: String,
    /// Headers sent in HELLO.
    pub headers: BTreeMap<String, String>,
    /// Time between beacons.
    pub beacon_interval: Duration,
    /// Quiet time before a peer is pinged and reported EVASIVE (Zyre's "silent
    /// timeout" sets the same value).
    pub evasive_timeout: Duration,
    /// Quiet time before a peer is dropped.
    pub expired_timeout: Duration,
    /// Wait before reconnecting a broken outgoing link.
    pub reconnect_interval: Duration,
    /// Time an accepted connection has to finish its ZMTP handshake before it is
    /// closed, so that connections that never speak do not hold a file handle
    /// forever.
    pub handshake_timeout: Duration,
    /// Largest accepted ZMTP message (all frames together; 4 GiB at most).
    pub max_message: usize,
    /// A peer whose queued output inside the engine (messages waiting for its
    /// handshake or for a reconnect) passes this many bytes is dropped
    /// ([`ExitReason::Overflow`](crate::ExitReason::Overflow)).
    pub max_pending: usize,
    /// Send UDP beacons (Zyre's default discovery). Off means discovery only by
    /// gossip or explicit endpoints.
    pub beacon: bool,
    /// The endpoint peers are told to connect to (`tcp://host:port`), when it is
    /// not the one the inbox is bound to: behind NAT or a container's port mapping.
    /// It goes in HELLO and gossip tuples, and its port in beacons.
    pub advertised_endpoint: Option<String>,
    /// Time to live of our gossip tuple (zero: it never expires, as Zyre's).
    pub gossip_ttl: Duration,
    /// CURVE mode (Zyre's `zyre_set_zcert`): our long-term key pair. Beacons are
    /// version 3 with the public key, HELLO carries it as `X-PUBLICKEY`, the inbox
    /// is a CURVE server and every link to a peer a CURVE client of the key the peer
    /// announced. Such a node never speaks NULL and ignores plain beacons.
    pub curve: Option<crate::engine::curve::CurveKeys>,
    /// CURVE mode: if set, the only public keys a node talks to. A connection that
    /// authenticates with another key is closed as soon as its handshake is done,
    /// and a peer announced with another key is not connected to; both counted
    /// (`Stats::not_allowed`). A peer off the list never enters.
    pub allow: Option<std::collections::BTreeSet<[u8; 32]>>,
    /// Groups whose leadership this node contests from the start (see
    /// [`Engine::set_contest_in_group`](crate::engine::Engine::set_contest_in_group)).
    pub contest: std::collections::BTreeSet<String>,
    /// How long a group's membership must stay still before this node, when it
    /// contests, starts an election in it (default 500 ms).
    pub election_delay: Duration,
    /// How long a member holds an election wave that has not ended (default 5 s;
    /// the challenger waits twice as long, then tries again).
    pub election_timeout: Duration,
    /// Verbose mode (Zyre's `zyre_set_verbose`): a line for every message sent and
    /// received, each naming this node, logged at `info` under the target
    /// `zmesh::verbose`.
    pub verbose: bool,
    /// Take ZRE-LOG publishers on the log listener (the node is a log collector;
    /// the driver binds the listener and sets the `X-ZRELOG` header).
    pub log_collector: bool,
    /// ZRE-LOG records this node publishes a second, at most, after a burst of
    /// twice as many (default [`LOG_RATE`](super::logs::LOG_RATE), 100); the rest
    /// are dropped and counted.
    pub log_rate: u64,
}

impl Config {
    /// Defaults as Zyre's, with this name.
    pub fn new(name: impl Into<String>) -> Config {
        Config {
            name: name.into(),
            headers: BTreeMap::new(),
            beacon_interval: defaults::BEACON_INTERVAL,
            evasive_timeout: defaults::EVASIVE_TIMEOUT,
            expired_timeout: defaults::EXPIRED_TIMEOUT,
            reconnect_interval: defaults::RECONNECT_INTERVAL,
            handshake_timeout: defaults::HANDSHAKE_TIMEOUT,
            max_message: crate::wire::zmtp::DEFAULT_MAX_MESSAGE,
            max_pending: 64 << 20,
            beacon: true,
            advertised_endpoint: None,
            gossip_ttl: defaults::GOSSIP_TTL,
            curve: None,
            allow: None,
            contest: Default::default(),
            election_delay: defaults::ELECTION_DELAY,
            election_timeout: defaults::ELECTION_TIMEOUT,
            verbose: false,
            log_collector: false,
            log_rate: super::logs::LOG_RATE,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<String>) -> Config {
        self.headers.insert(key.into(), value.into());
        self
    }

    /// Sets the beacon interval (zero means the default, as in Zyre).
    pub fn with_beacon_interval(mut self, d: Duration) -> Config {
        self.beacon_interval = if d.is_zero() {
            defaults::BEACON_INTERVAL
        } else {
            d
        };
        self
    }

    /// Sets the evasive timeout.
    pub fn with_evasive_timeout(mut self, d: Duration) -> Config {
        self.evasive_timeout = d;
        self
    }

    /// Sets the expired timeout.
    pub fn with_expired_timeout(mut self, d: Duration) -> Config {
        self.expired_timeout = d;
        self
    }

    /// How often peers are checked: min(evasive, expired, 1 s), as Zyre does, and
    /// never below 1 ms.
    pub fn reap_interval(&self) -> Duration {
        self.evasive_timeout
            .min(self.expired_timeout)
            .min(defaults::REAP_INTERVAL)
            .max(Duration::from_millis(10))
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new("")
    }
}
