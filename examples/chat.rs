//! A chat shell on a zmesh node.
//!
//! ```text
//! cargo run --example chat -- --name alice --interface lo --group chat
//! cargo run --example chat -- --name bob --interface lo --group chat
//! # Without broadcast: one node serves gossip, the others connect to it.
//! cargo run --example chat -- --name hub --endpoint tcp://127.0.0.1:5800 \
//!     --gossip-bind tcp://127.0.0.1:5801 --group chat
//! cargo run --example chat -- --name carol --endpoint tcp://127.0.0.1:5802 \
//!     --gossip-connect tcp://127.0.0.1:5801 --group chat
//! ```
//!
//! `--interface '*'` beacons on every interface; `--list-interfaces` shows them.
//! `--ipv6` takes IPv6 as well (beacons to `ff02::1`), or alone where there is no
//! IPv4.
//!
//! Commands: `/join G`, `/leave G`, `/shout G TEXT`, `/whisper PEER TEXT` (a name
//! or a uuid), `/peers`, `/groups`, `/quit`; any other line is shouted to the last
//! joined group. End of input, `/quit`, Ctrl-C and SIGTERM all stop politely (peers
//! see EXIT at once). With `--json` every event is printed as one JSON object per line,
//! which is how scripts and tests drive it.

use std::collections::BTreeMap;
use std::io::BufRead;

use clap::Parser;
use crossbeam_channel::select;
use serde_json::{json, Map, Value};
use zmesh::{Event, Node, PeerId};

#[derive(Parser, Debug)]
#[command(about = "Chat over a zmesh mesh (Zyre-compatible)")]
struct Args {
    /// This node's name.
    #[arg(long, required_unless_present = "list_interfaces")]
    name: Option<String>,
    /// Groups to join at start (repeatable).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// Interface: `lo` (this host only), a name, an IPv4 address, `*` (every
    /// interface) or names separated by commas. Default: the first
    /// broadcast-capable interface, as Zyre does.
    #[arg(long)]
    interface: Option<String>,
    /// List the interfaces a node can beacon on (the default marked) and exit.
    #[arg(long)]
    list_interfaces: bool,
    /// UDP beacon port.
    #[arg(long, default_value_t = zmesh::DEFAULT_PORT)]
    port: u16,
    /// Header sent to peers, KEY=VALUE (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Print events as JSON lines.
    #[arg(long)]
    json: bool,
    /// Bind the inbox here (tcp://IP:PORT or tcp://*:PORT); beacons then go off,
    /// as in Zyre, unless --beacon.
    #[arg(long)]
    endpoint: Option<String>,
    /// The endpoint peers are told to connect to (NAT, port mapping).
    #[arg(long)]
    advertised_endpoint: Option<String>,
    /// Serve gossip on this endpoint.
    #[arg(long)]
    gossip_bind: Option<String>,
    /// Be a client of this gossip server (repeatable).
    #[arg(long = "gossip-connect")]
    gossip_connect: Vec<String>,
    /// Keep UDP beacons on while gossiping or with --endpoint.
    #[arg(long)]
    beacon: bool,
    /// Take IPv6 too: beacons to ff02::1 as well, IPv6 peers (and IPv6 alone
    /// where there is no IPv4).
    #[arg(long)]
    ipv6: bool,
    /// CURVE mode with a fresh key pair (as Zyre's zyre_set_zcert): encrypted,
    /// authenticated links; meets only other CURVE nodes.
    #[arg(long)]
    curve: bool,
    /// CURVE mode with the certificate FILE (czmq's zcert format; FILE_secret
    /// holds the secret key). Created if it does not exist.
    #[arg(long)]
    cert: Option<std::path::PathBuf>,
    /// CURVE: talk only to the keys of the public certificates in DIR.
    #[arg(long)]
    allow: Option<std::path::PathBuf>,
    /// Contest the leadership of GROUP (repeatable); LEADER events follow.
    #[arg(long = "contest")]
    contest: Vec<String>,
    /// Seconds of quiet before a peer is pinged and reported quiet (default 5).
    #[arg(long, value_name = "SECS")]
    evasive_timeout: Option<f64>,
    /// Seconds of quiet before a peer is dropped (default 30).
    #[arg(long, value_name = "SECS")]
    expired_timeout: Option<f64>,
    /// Log every message sent and received, each line naming this node (on
    /// stderr, as Zyre's verbose mode).
    #[arg(long)]
    verbose: bool,
}

/// Applies the discovery options; an error names the bad one.
fn discovery(node: &mut Node, args: &Args) -> Result<(), zmesh::Error> {
    if let Some(ep) = &args.endpoint {
        node.set_endpoint(ep)?;
    }
    if let Some(ep) = &args.advertised_endpoint {
        node.set_advertised_endpoint(ep)?;
    }
    if let Some(ep) = &args.gossip_bind {
        node.gossip_bind(ep)?;
    }
    for ep in &args.gossip_connect {
        node.gossip_connect(ep)?;
    }
    if args.beacon {
        node.set_beacon(true);
    }
    if args.ipv6 {
        node.set_ipv6(true);
    }
    if args.curve {
        node.set_curve(zmesh::new_curve_keys());
    }
    if let Some(path) = &args.cert {
        let keys = if path.exists() {
            zmesh::cert::load(path)?
        } else {
            let keys = zmesh::new_curve_keys();
            zmesh::cert::save(&keys, node.name(), path)?;
            keys
        };
        node.set_curve(keys);
    }
    if let Some(dir) = &args.allow {
        node.set_curve_allow(zmesh::cert::load_dir(dir)?);
    }
    for g in &args.contest {
        node.set_contest_in_group(g)?;
    }
    let secs = |s: f64| {
        std::time::Duration::try_from_secs_f64(s)
            .map_err(|_| zmesh::Error::BadSetting(format!("{s} is not a number of seconds")))
    };
    if let Some(s) = args.evasive_timeout {
        node.set_evasive_timeout(secs(s)?)?;
    }
    if let Some(s) = args.expired_timeout {
        node.set_expired_timeout(secs(s)?)?;
    }
    node.set_verbose(args.verbose);
    Ok(())
}

fn frame_json(f: &[u8]) -> Value {
    match std::str::from_utf8(f) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => json!({ "hex": f.iter().map(|b| format!("{b:02x}")).collect::<String>() }),
    }
}

fn event_json(e: &Event) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), e.kind().into());
    m.insert("peer".into(), e.peer().to_string().into());
    m.insert("name".into(), e.name().into());
    if let Some(g) = e.group() {
        m.insert("group".into(), g.into());
    }
    if let Some(c) = e.content() {
        m.insert("payload".into(), c.iter().map(|f| frame_json(f)).collect());
    }
    if let Event::Enter {
        headers, endpoint, ..
    } = e
    {
        m.insert("headers".into(), json!(headers));
        m.insert("endpoint".into(), endpoint.clone().into());
    }
    if let Event::Exit { reason, .. } = e {
        m.insert("reason".into(), reason.as_str().into());
    }
    Value::Object(m)
}

fn text(content: &[Vec<u8>]) -> String {
    content
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn print_event(e: &Event) {
    match e {
        Event::Enter { name, endpoint, .. } => println!("* {name} entered ({endpoint})"),
        Event::Exit { name, reason, .. } => println!("* {name} left ({})", reason.as_str()),
        Event::Join { name, group, .. } => println!("* {name} joined {group}"),
        Event::Leave { name, group, .. } => println!("* {name} left {group}"),
        Event::Shout {
            name,
            group,
            content,
            ..
        } => println!("[{group}] {name}: {}", text(content)),
        Event::Whisper { name, content, .. } => println!("(whisper) {name}: {}", text(content)),
        Event::Evasive { name, .. } => println!("* {name} is quiet"),
        Event::Silent { name, .. } => println!("* {name} is silent"),
        Event::Leader { name, group, .. } => println!("* {name} leads {group}"),
        Event::Stop { .. } => println!("* stopped"),
        _ => {}
    }
}

fn main() {
    let args = Args::parse();
    let mut log = env_logger::Builder::from_default_env();
    if args.verbose {
        log.filter_module("zmesh::verbose", log::LevelFilter::Info);
    }
    log.init();
    if args.list_interfaces {
        for c in zmesh::interfaces() {
            let i = &c.interface;
            let mark = if c.default { "  (default)" } else { "" };
            println!("{}\t{}\tbroadcast {}{mark}", i.name, i.addr, i.broadcast);
        }
        if args.ipv6 {
            for i in zmesh::net::iface::select_v6(Some("*")).unwrap_or_default() {
                println!("{}\t{}\tIPv6 multicast (index {})", i.name, i.addr, i.index);
            }
        }
        return;
    }
    let mut node = Node::new(args.name.as_deref().unwrap_or_default());
    if let Some(i) = &args.interface {
        node.set_interface(i);
    }
    node.set_port(args.port);
    for h in &args.headers {
        match h.split_once('=') {
            Some((k, v)) => {
                if let Err(e) = node.set_header(k, v) {
                    eprintln!("--header: {e}");
                    std::process::exit(2);
                }
            }
            None => {
                eprintln!("--header wants KEY=VALUE, got {h:?}");
                std::process::exit(2);
            }
        }
    }
    if let Err(e) = discovery(&mut node, &args) {
        eprintln!("{e}");
        std::process::exit(2);
    }
    if let Err(e) = node.start() {
        eprintln!("cannot start: {e}");
        std::process::exit(1);
    }
    let mut last_group = None;
    for g in &args.groups {
        if let Err(e) = node.join(g) {
            eprintln!("cannot join {g:?}: {e}");
        }
        last_group = Some(g.clone());
    }
    if args.json {
        println!(
            "{}",
            json!({"type": "STARTED", "peer": node.uuid().to_string(), "name": node.name(), "endpoint": node.endpoint()})
        );
    } else {
        println!(
            "* {} ({}) on {}",
            node.name(),
            node.uuid(),
            node.endpoint().unwrap_or("")
        );
    }

    let (line_tx, lines) = crossbeam_channel::unbounded::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    // Ctrl-C and SIGTERM stop politely (a leaving beacon, so that peers print EXIT
    // at once rather than after the expired timeout).
    let (stop_tx, stop) = crossbeam_channel::bounded::<()>(1);
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = stop_tx.try_send(());
    }) {
        eprintln!("no Ctrl-C handler: {e}");
    }
    let events = node.events();
    let mut names: BTreeMap<String, PeerId> = BTreeMap::new();
    let show = |e: &Event| {
        if args.json {
            println!("{}", event_json(e));
        } else {
            print_event(e);
        }
    };
    loop {
        select! {
            recv(events) -> e => {
                let Ok(e) = e else { break };
                match &e {
                    Event::Enter { peer, name, .. } => { names.insert(name.clone(), *peer); }
                    Event::Exit { peer, .. } => names.retain(|_, p| p != peer),
                    _ => {}
                }
                show(&e);
            }
            recv(stop) -> _ => break,
            recv(lines) -> line => {
                let Ok(line) = line else { break };
                if !command(&node, &line, &mut last_group, &names, args.json) {
                    break;
                }
            }
        }
    }
    node.stop();
    for e in events.try_iter() {
        show(&e);
    }
}

/// Runs one input line; false to quit.
fn command(
    node: &Node,
    line: &str,
    last_group: &mut Option<String>,
    names: &BTreeMap<String, PeerId>,
    json_mode: bool,
) -> bool {
    let line = line.trim();
    if line.is_empty() {
        return true;
    }
    let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
    let result = match cmd {
        "/quit" => return false,
        "/join" => {
            *last_group = Some(rest.to_string());
            node.join(rest)
        }
        "/leave" => node.leave(rest),
        "/shout" => {
            let (g, t) = rest.split_once(' ').unwrap_or((rest, ""));
            node.shouts(g, t)
        }
        "/whisper" => {
            let (p, t) = rest.split_once(' ').unwrap_or((rest, ""));
            match names.get(p).copied().or_else(|| p.parse().ok()) {
                Some(peer) => node.whispers(peer, t),
                None => {
                    eprintln!("no peer called {p:?}");
                    Ok(())
                }
            }
        }
        "/peers" => node.peers().map(|peers| {
            let list: Vec<String> = peers
                .iter()
                .map(|p| {
                    let name = names
                        .iter()
                        .find(|(_, id)| *id == p)
                        .map(|(n, _)| n.as_str());
                    format!("{p} {}", name.unwrap_or("?"))
                })
                .collect();
            if json_mode {
                println!("{}", json!({"type": "PEERS", "payload": list}));
            } else {
                list.iter().for_each(|l| println!("  {l}"));
            }
        }),
        "/groups" => node.own_groups().and_then(|own| {
            let theirs = node.peer_groups()?;
            if json_mode {
                // Our own groups; the peers' groups show in the JOIN events.
                let _ = theirs;
                println!("{}", json!({"type": "GROUPS", "payload": own}));
            } else {
                println!("  mine: {}", own.join(", "));
                println!("  peers': {}", theirs.join(", "));
            }
            Ok(())
        }),
        _ if cmd.starts_with('/') => {
            eprintln!("unknown command {cmd}");
            Ok(())
        }
        _ => match last_group {
            Some(g) => node.shouts(g, line),
            None => {
                eprintln!("join a group first (/join G)");
                Ok(())
            }
        },
    };
    if let Err(e) = result {
        eprintln!("{e}");
    }
    true
}
