//! The node options every command takes, and the node they make.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use zmesh::{Error, Node};

/// How the command's node joins the mesh.
#[derive(Args, Debug, Clone)]
pub struct NodeArgs {
    /// This node's name (default: the first 6 hex digits of its UUID, as Zyre).
    #[arg(long, default_value = "")]
    pub name: String,
    /// Interface: `lo` (this host only), a name, an IPv4 address, `*` (every
    /// interface) or names separated by commas. Default: the first
    /// broadcast-capable interface, as Zyre does.
    #[arg(long)]
    pub interface: Option<String>,
    /// UDP beacon port.
    #[arg(long, default_value_t = zmesh::DEFAULT_PORT)]
    pub port: u16,
    /// Header sent to peers, KEY=VALUE (repeatable).
    #[arg(long = "header", value_parser = key_value)]
    pub headers: Vec<(String, String)>,
    /// Bind the inbox here (tcp://IP:PORT or tcp://*:PORT); beacons then go off,
    /// as in Zyre, unless --beacon.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// The endpoint peers are told to connect to (NAT, port mapping).
    #[arg(long)]
    pub advertised_endpoint: Option<String>,
    /// Serve gossip on this endpoint.
    #[arg(long)]
    pub gossip_bind: Option<String>,
    /// Be a client of this gossip server (repeatable).
    #[arg(long = "gossip-connect")]
    pub gossip_connect: Vec<String>,
    /// Keep UDP beacons on while gossiping or with --endpoint.
    #[arg(long)]
    pub beacon: bool,
    /// Take IPv6 too: beacons to ff02::1 as well, IPv6 peers (and IPv6 alone
    /// where there is no IPv4).
    #[arg(long)]
    pub ipv6: bool,
    /// CURVE mode with a fresh key pair (as Zyre's zyre_set_zcert): encrypted,
    /// authenticated links; meets only other CURVE nodes.
    #[arg(long)]
    pub curve: bool,
    /// CURVE mode with the certificate FILE (czmq's zcert format; FILE_secret
    /// holds the secret key). Created if it does not exist.
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// CURVE: talk only to the keys of the public certificates in DIR.
    #[arg(long)]
    pub allow: Option<PathBuf>,
    /// Groups to join at start (repeatable).
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// Contest the leadership of GROUP (repeatable); LEADER events follow.
    #[arg(long = "contest")]
    pub contest: Vec<String>,
    /// Seconds of quiet before a peer is pinged and reported quiet (default 5).
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub evasive_timeout: Option<Duration>,
    /// Seconds of quiet before a peer is dropped (default 30).
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub expired_timeout: Option<Duration>,
    /// Log every message sent and received, each line naming this node (on
    /// stderr, as Zyre's verbose mode).
    #[arg(long)]
    pub verbose: bool,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("KEY=VALUE, not {s:?}"))
}

/// Seconds as a non-negative number (fractions allowed).
pub fn seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s} is not a number of seconds"))
}

impl NodeArgs {
    /// The node these options describe, not yet started; the error names the
    /// option that was refused.
    pub fn node(&self) -> Result<Node, Error> {
        let mut b = Node::builder(&self.name)
            .port(self.port)
            .verbose(self.verbose);
        // Left unset unless asked: their defaults depend on other settings and
        // on the environment (ZSYS_IPV6), as in Zyre.
        if self.beacon {
            b = b.beacon(true);
        }
        if self.ipv6 {
            b = b.ipv6(true);
        }
        if let Some(i) = &self.interface {
            b = b.interface(i);
        }
        for (k, v) in &self.headers {
            b = b.header(k, v);
        }
        if let Some(ep) = &self.endpoint {
            b = b.endpoint(ep);
        }
        if let Some(ep) = &self.advertised_endpoint {
            b = b.advertised_endpoint(ep);
        }
        if let Some(ep) = &self.gossip_bind {
            b = b.gossip_bind(ep);
        }
        for ep in &self.gossip_connect {
            b = b.gossip_connect(ep);
        }
        for g in &self.groups {
            b = b.join(g);
        }
        for g in &self.contest {
            b = b.contest(g);
        }
        if let Some(t) = self.evasive_timeout {
            b = b.evasive_timeout(t);
        }
        if let Some(t) = self.expired_timeout {
            b = b.expired_timeout(t);
        }
        if self.curve {
            b = b.curve(zmesh::new_curve_keys());
        }
        let mut node = b.configure()?;
        if let Some(path) = &self.cert {
            let keys = if path.exists() {
                zmesh::cert::load(path)?
            } else {
                let keys = zmesh::new_curve_keys();
                zmesh::cert::save(&keys, node.name(), path)?;
                keys
            };
            node.set_curve(keys);
        }
        if let Some(dir) = &self.allow {
            node.set_curve_allow(zmesh::cert::load_dir(dir)?);
        }
        Ok(node)
    }

    /// The started node, or the process ends with the reason (2: a refused
    /// option, 1: it could not start).
    pub fn start(&self) -> Node {
        let mut node = match self.node() {
            Ok(n) => n,
            Err(e) => {
                eprintln!("zmesh: {e}");
                std::process::exit(2);
            }
        };
        if let Err(e) = node.start() {
            eprintln!("zmesh: cannot start: {e}");
            std::process::exit(1);
        }
        node
    }
}
