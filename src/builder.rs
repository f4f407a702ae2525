//! [`NodeBuilder`]: every option of a node in one expression, checked when built.

use std::time::Duration;

use crate::node::{timeout, Error, Node};
use crate::{CurveKeys, PeerId};

/// Builds and starts a [`Node`] with every option the engine and the driver take,
/// checked together when built: the first bad one is the error, and nothing
/// starts. The Zyre-style setters on [`Node`] remain for code written against Zyre.
///
/// ```
/// use std::time::Duration;
/// use zmesh::Node;
///
/// let node = Node::builder("alice")
///     .interface("lo")
///     .port(46_590)
///     .header("X-ROLE", "demo")
///     .evasive_timeout(Duration::from_secs(2))
///     .expired_timeout(Duration::from_secs(10))
///     .join("chat")
///     .build()?;
/// assert!(node.is_running());
/// assert!(node.own_groups()?.contains(&"chat".to_string()));
/// # Ok::<(), zmesh::Error>(())
/// ```
///
/// A bad option fails the build:
///
/// ```
/// use std::time::Duration;
/// let built = zmesh::Node::builder("bob")
///     .interface("lo")
///     .expired_timeout(Duration::ZERO)
///     .build();
/// assert!(matches!(built, Err(zmesh::Error::BadSetting(_))));
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until built"]
pub struct NodeBuilder {
    node: Node,
    /// The name was given (not derived from the UUID).
    named: bool,
    /// The first option that was refused.
    error: Option<Error>,
}

impl Node {
    /// A builder for a node named `name` (empty: the first 6 hex digits of its
    /// UUID); see [`NodeBuilder`].
    pub fn builder(name: &str) -> NodeBuilder {
        NodeBuilder {
            node: Node::new(name),
            named: !name.is_empty(),
            error: None,
        }
    }
}

impl NodeBuilder {
    fn check(mut self, r: Result<(), Error>) -> Self {
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
        self
    }

    /// Runs `f` on the node being built, keeping the first error.
    fn with(mut self, f: impl FnOnce(&mut Node) -> Result<(), Error>) -> Self {
        let r = f(&mut self.node);
        self.check(r)
    }

    /// The node's UUID (to restart "the same" node); default: a random one.
    pub fn uuid(mut self, id: PeerId) -> Self {
        self.node.id = id;
        if !self.named {
            self.node.config.name = id.short(6);
        }
        self
    }

    /// A header sent in HELLO (see [`Node::set_header`]).
    pub fn header(self, key: &str, value: &str) -> Self {
        self.with(|n| n.set_header(key, value))
    }

    /// The UDP beacon port (default 5670).
    pub fn port(self, port: u16) -> Self {
        self.with(|n| {
            n.set_port(port);
            Ok(())
        })
    }

    /// The interface or interfaces (see [`Node::set_interface`]).
    pub fn interface(self, interface: &str) -> Self {
        self.with(|n| {
            n.set_interface(interface);
            Ok(())
        })
    }

    /// Time between beacons (default 1 s; from 10 ms to a day).
    pub fn interval(self, interval: Duration) -> Self {
        self.with(|n| {
            n.set_interval(timeout("beacon interval", interval)?);
            Ok(())
        })
    }

    /// Quiet time before EVASIVE and a PING (default 5 s).
    pub fn evasive_timeout(self, t: Duration) -> Self {
        self.with(|n| n.set_evasive_timeout(t))
    }

    /// Quiet time before EXIT (default 30 s).
    pub fn expired_timeout(self, t: Duration) -> Self {
        self.with(|n| n.set_expired_timeout(t))
    }

    /// Wait before a broken link to a peer is connected again (default 100 ms;
    /// peers that have not entered back off from it).
    pub fn reconnect_interval(self, t: Duration) -> Self {
        self.with(|n| {
            n.config.reconnect_interval = timeout("reconnect interval", t)?;
            Ok(())
        })
    }

    /// Time an accepted connection has to say HELLO before it is closed
    /// (default 30 s).
    pub fn handshake_timeout(self, t: Duration) -> Self {
        self.with(|n| {
            n.config.handshake_timeout = timeout("handshake", t)?;
            Ok(())
        })
    }

    /// Largest message accepted from a peer (default 64 MiB; at least 1 KiB).
    pub fn max_message(self, bytes: usize) -> Self {
        self.with(|n| {
            at_least("max_message", bytes, 1024)?;
            n.set_max_message(bytes);
            Ok(())
        })
    }

    /// Output held inside the engine for one peer (waiting for its handshake or a
    /// reconnect) before the peer is dropped (default 64 MiB; at least 1 KiB).
    pub fn max_pending(self, bytes: usize) -> Self {
        self.with(|n| {
            at_least("max_pending", bytes, 1024)?;
            n.config.max_pending = bytes;
            Ok(())
        })
    }

    /// Unsent output on one link before its peer is dropped (default 64 MiB; at
    /// least 64 KiB).
    pub fn max_link_output(self, bytes: usize) -> Self {
        self.with(|n| {
            at_least("max_link_output", bytes, 64 << 10)?;
            n.options.max_link_output = bytes;
            Ok(())
        })
    }

    /// Unsent output on all links together (default 1 GiB; at least 64 KiB).
    pub fn max_total_output(self, bytes: usize) -> Self {
        self.with(|n| {
            at_least("max_total_output", bytes, 64 << 10)?;
            n.options.max_total_output = bytes;
            Ok(())
        })
    }

    /// Events waiting for the application before the node stops reading the
    /// network (default 100,000; at least 1).
    pub fn event_high_water(self, events: usize) -> Self {
        self.with(|n| {
            at_least("event_high_water", events, 1)?;
            n.options.event_high_water = events;
            Ok(())
        })
    }

    /// Binds the inbox to this endpoint (see [`Node::set_endpoint`]).
    pub fn endpoint(self, endpoint: &str) -> Self {
        self.with(|n| n.set_endpoint(endpoint))
    }

    /// The endpoint told to peers (see [`Node::set_advertised_endpoint`]).
    pub fn advertised_endpoint(self, endpoint: &str) -> Self {
        self.with(|n| n.set_advertised_endpoint(endpoint))
    }

    /// Collects ZRE-LOG records on this endpoint (see [`Node::set_log_collector`]).
    pub fn log_collector(self, endpoint: &str) -> Self {
        self.with(|n| n.set_log_collector(endpoint))
    }

    /// ZRE-LOG records published a second, at most (default 100; at least 1).
    pub fn log_rate(self, records: u64) -> Self {
        self.with(|n| {
            at_least("the log rate", records as usize, 1)?;
            n.config.log_rate = records;
            Ok(())
        })
    }

    /// Beacons on or off (see [`Node::set_beacon`]).
    pub fn beacon(self, on: bool) -> Self {
        self.with(|n| {
            n.set_beacon(on);
            Ok(())
        })
    }

    /// Serves gossip at this endpoint (see [`Node::gossip_bind`]).
    pub fn gossip_bind(self, endpoint: &str) -> Self {
        self.with(|n| n.gossip_bind(endpoint))
    }

    /// Gossips with the server at this endpoint (repeatable).
    pub fn gossip_connect(self, endpoint: &str) -> Self {
        self.with(|n| n.gossip_connect(endpoint))
    }

    /// Joins a group from the start (repeatable).
    pub fn join(self, group: &str) -> Self {
        self.with(|n| n.join(group))
    }

    /// Contests the leadership of a group (repeatable; see
    /// [`Node::set_contest_in_group`]).
    pub fn contest(self, group: &str) -> Self {
        self.with(|n| n.set_contest_in_group(group))
    }

    /// CURVE security with these keys (see [`Node::set_curve`]).
    pub fn curve(self, keys: CurveKeys) -> Self {
        self.with(|n| {
            n.set_curve(keys);
            Ok(())
        })
    }

    /// Only these public keys may connect (see [`Node::set_curve_allow`]).
    pub fn curve_allow(self, keys: impl IntoIterator<Item = [u8; 32]>) -> Self {
        let keys: Vec<[u8; 32]> = keys.into_iter().collect();
        self.with(|n| {
            n.set_curve_allow(keys);
            Ok(())
        })
    }

    /// IPv6 on or off (see [`Node::set_ipv6`]).
    pub fn ipv6(self, on: bool) -> Self {
        self.with(|n| {
            n.set_ipv6(on);
            Ok(())
        })
    }

    /// Per-node verbose tracing (see [`Node::set_verbose`]).
    pub fn verbose(self, on: bool) -> Self {
        self.with(|n| {
            n.set_verbose(on);
            Ok(())
        })
    }

    /// The node, not started (to start it later, or to set what only the setters
    /// take); the first refused option is the error.
    pub fn configure(self) -> Result<Node, Error> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.node),
        }
    }

    /// The node, started; the first refused option, or what failed at start, is
    /// the error.
    pub fn build(self) -> Result<Node, Error> {
        let mut node = self.configure()?;
        node.start()?;
        Ok(node)
    }
}

fn at_least(what: &str, n: usize, min: usize) -> Result<(), Error> {
    if n < min {
        return Err(Error::BadSetting(format!(
            "{what} is at least {min}, not {n}"
        )));
    }
    Ok(())
}
