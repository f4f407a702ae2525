//! `zmesh chat`: a chat shell on a node.
//!
//! Commands: `/join G`, `/leave G`, `/shout G TEXT`, `/whisper PEER TEXT` (a name
//! or a uuid), `/peers`, `/groups`, `/quit`; any other line is shouted to the last
//! joined group. End of input, `/quit`, Ctrl-C and SIGTERM all stop politely (peers
//! see EXIT at once). With `--json` every event is printed as one JSON object per
//! line (docs/json.md), which is how scripts and tests drive it.

use std::collections::BTreeMap;
use std::io::BufRead;

use clap::Args;
use crossbeam_channel::{select, Receiver};
use zmesh::{Event, Node, PeerId};

use crate::options::NodeArgs;
use crate::print;

/// `zmesh chat`'s options.
#[derive(Args, Debug)]
pub struct ChatArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Print events as JSON lines (docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// List the interfaces a node can beacon on (the default marked) and exit.
    #[arg(long)]
    pub list_interfaces: bool,
}

/// Runs the shell until input ends, `/quit`, or a signal; the process's exit code.
pub fn run(args: &ChatArgs, stop: &Receiver<()>) -> i32 {
    if args.list_interfaces {
        list_interfaces(args.node.ipv6);
        return 0;
    }
    let node = args.node.start();
    let mut last_group = args.node.groups.last().cloned();
    print::started(&node, args.json);

    let (line_tx, lines) = crossbeam_channel::unbounded::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let events = node.events();
    let mut names: BTreeMap<String, PeerId> = BTreeMap::new();
    loop {
        select! {
            recv(events) -> e => {
                let Ok(e) = e else { break };
                match &e {
                    Event::Enter { peer, name, .. } => { names.insert(name.to_string(), *peer); }
                    Event::Exit { peer, .. } => names.retain(|_, p| p != peer),
                    _ => {}
                }
                print::event(&e, args.json);
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
    let mut node = node;
    node.stop();
    for e in events.try_iter() {
        print::event(&e, args.json);
    }
    0
}

/// What `--list-interfaces` prints: one interface a line, the default marked.
pub fn list_interfaces(ipv6: bool) {
    for c in zmesh::interfaces() {
        let i = &c.interface;
        let mark = if c.default { "  (default)" } else { "" };
        println!("{}\t{}\tbroadcast {}{mark}", i.name, i.addr, i.broadcast);
    }
    if ipv6 {
        for i in zmesh::net::iface::select_v6(Some("*")).unwrap_or_default() {
            println!("{}\t{}\tIPv6 multicast (index {})", i.name, i.addr, i.index);
        }
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
        "/peers" => node.peer_records().map(|peers| {
            if json_mode {
                print::line(&print::Record::Peers { peers: &peers });
            } else {
                print!("{}", print::table(&peers));
            }
        }),
        "/groups" => node.own_groups().and_then(|own| {
            let theirs = node.peer_groups()?;
            if json_mode {
                print::line(&print::Record::Groups {
                    groups: &own,
                    peer_groups: &theirs,
                });
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
