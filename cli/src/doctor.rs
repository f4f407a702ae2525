//! `zmesh doctor`: why does this host see no peers? It shows the interfaces and
//! the one chosen, starts a node for a few seconds, counts the beacons sent, heard
//! back and heard from others, tries each seen peer's inbox over TCP, and turns
//! what it found into hints.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use clap::Args;
use crossbeam_channel::{select, Receiver};
use zmesh::{Event, PeerInfo};

use crate::options::{seconds, NodeArgs};

/// `zmesh doctor`'s options.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// How long to listen (peers beacon once a second).
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = seconds)]
    pub wait: Duration,
}

/// What a TCP connection to an inbox found.
fn probe(endpoint: &str) -> &'static str {
    let Some(addr) = endpoint
        .strip_prefix("tcp://")
        .and_then(|a| a.parse::<SocketAddr>().ok())
    else {
        return "not a tcp://IP:PORT endpoint";
    };
    match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
        Ok(_) => "reachable",
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => "refused",
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => "no answer",
        Err(_) => "unreachable",
    }
}

/// Runs the checks; exit code 0 if at least one peer entered, else 1.
pub fn run(args: &DoctorArgs, stop: &Receiver<()>) -> i32 {
    let port = args.node.port;
    println!("zmesh {} doctor, beacon port {port}", zmesh::VERSION);
    println!("\nInterfaces (IPv4, broadcast-capable):");
    let candidates = zmesh::interfaces();
    for c in &candidates {
        let i = &c.interface;
        let mark = if c.default { "  <- the default" } else { "" };
        println!("  {}\t{}\tbroadcast {}{mark}", i.name, i.addr, i.broadcast);
    }
    if candidates.is_empty() {
        println!("  none: beacons cannot leave this host. Use --interface lo (this host only), --ipv6, or gossip.");
    }
    if let Some(i) = &args.node.interface {
        println!("  asked for: {i}");
    }

    let mut hints: Vec<String> = Vec::new();
    let mut node = match args.node.node() {
        Ok(n) => n,
        Err(e) => {
            println!("\nThe options are refused: {e}");
            return 2;
        }
    };
    if let Err(e) = node.start() {
        println!("\nThe node cannot start: {e}");
        println!("  Hint: check --interface against the list above, and that --endpoint's address is this host's.");
        return 1;
    }
    let own = node.endpoint().unwrap_or("").to_string();
    println!("\nThis node: {} ({})", node.name(), node.uuid());
    println!("  inbox {own}: {} from this host", probe(&own));

    println!("\nListening for {:.1} s...", args.wait.as_secs_f64());
    let events = node.events();
    let end = Instant::now() + args.wait;
    let mut entered = Vec::new();
    loop {
        select! {
            recv(events) -> e => match e {
                Ok(Event::Enter { name, .. }) => entered.push(name),
                Ok(_) => {}
                Err(_) => break,
            },
            recv(stop) -> _ => break,
            default(end.saturating_duration_since(Instant::now())) => break,
        }
    }
    let (stats, peers) = match (node.stats(), node.peer_records()) {
        (Ok(s), Ok(p)) => (s, p),
        (Err(e), _) | (_, Err(e)) => {
            println!("The node stopped: {e}");
            return 1;
        }
    };
    node.stop();

    println!("\nBeacons on UDP port {port}:");
    println!("  sent {}", stats.beacons_sent);
    println!("  own heard back {}", stats.own_beacons_heard);
    println!("  heard from other nodes {}", stats.beacons_heard);
    println!("  not ZRE beacons {}", stats.bad_beacons);
    println!("  of the other security mode {}", stats.wrong_security);
    if stats.beacons_sent == 0 {
        hints.push("Beacons are off (an --endpoint or gossip without --beacon): peers come only from gossip or --gossip-connect.".into());
    } else if stats.own_beacons_heard == 0 {
        hints.push(format!("Our own beacons never came back: a firewall on this host drops UDP port {port} (allow it inbound), or this interface does not deliver broadcast."));
    }
    if stats.beacons_sent > 0 && stats.beacons_heard == 0 {
        hints.push(format!(
            "No beacon from another node on UDP port {port}. Either nobody on this network runs zmesh, Zyre or Pyre on port {port} (check --port on both sides), \
             or something drops broadcast between you: a firewall (allow udp/{port} inbound on both hosts), WiFi client isolation, \
             or a router (beacons stay in one subnet; use --gossip-bind on one node and --gossip-connect on the others)."
        ));
    }
    if stats.bad_beacons > 0 {
        hints.push(format!("{} datagrams on port {port} were not ZRE beacons: another program uses this port; choose another --port on every node.", stats.bad_beacons));
    }
    if stats.wrong_security > 0 {
        hints.push("Some nodes use the other security mode (CURVE against plain): they never meet; use --curve (or --cert) on all nodes or on none.".into());
    }

    println!("\nPeers seen: {}", peers.len());
    for p in &peers {
        report_peer(p, &own, &mut hints);
    }
    println!();
    for h in &hints {
        println!("Hint: {h}");
    }
    if entered.is_empty() {
        println!("No peer entered within {:.1} s.", args.wait.as_secs_f64());
        1
    } else {
        println!(
            "OK: {} peer(s) entered: {}",
            entered.len(),
            entered.join(", ")
        );
        0
    }
}

fn report_peer(p: &PeerInfo, own: &str, hints: &mut Vec<String>) {
    if p.ready {
        println!("  {} ({}) at {}: entered", p.name, p.id, p.endpoint);
        return;
    }
    let found = probe(&p.endpoint);
    println!(
        "  {} at {}: beacon heard, no HELLO yet; its inbox is {found}",
        p.id, p.endpoint
    );
    match found {
        "reachable" => hints.push(format!(
            "{} answers TCP but sent no HELLO: it cannot reach our inbox {own} (allow that TCP port inbound here), or it speaks another protocol version.",
            p.endpoint
        )),
        "refused" => hints.push(format!(
            "Nothing listens at {}: the peer advertises an address it does not serve (behind NAT or a port mapping? set --advertised-endpoint there).",
            p.endpoint
        )),
        _ => hints.push(format!(
            "No TCP answer from {}: a firewall drops it (allow that TCP port inbound on the peer) or the address is not routable from here.",
            p.endpoint
        )),
    }
}
