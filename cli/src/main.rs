//! `zmesh`: chat on a Zyre-compatible mesh, list its members, watch its events,
//! and diagnose why a host sees no peers.
//!
//! ```text
//! zmesh chat --name alice --interface lo --group chat
//! zmesh members --interface lo            # who is on the mesh?
//! zmesh monitor --interface lo --json     # every event, one JSON line each
//! zmesh doctor                            # why do I see nobody?
//! zmesh logs --interface lo --json        # every node's log records
//! ```
//!
//! Every command stops politely on Ctrl-C and SIGTERM: a leaving beacon and GOODBYE,
//! so that peers see EXIT (reason `left`) at once.

#![forbid(unsafe_code)]

mod chat;
mod doctor;
mod logs;
mod members;
mod monitor;
mod options;
mod print;

use clap::{Parser, Subcommand};
use crossbeam_channel::Receiver;

#[derive(Parser, Debug)]
#[command(
    name = "zmesh",
    version,
    about = "A peer-to-peer mesh, wire-compatible with Zyre and Pyre"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// A chat shell: lines shout to the last joined group, /commands do the rest.
    Chat(chat::ChatArgs),
    /// Join the mesh for a moment and list its members.
    Members(members::MembersArgs),
    /// Print every event on the mesh as it happens.
    Monitor(monitor::MonitorArgs),
    /// Explain why this host sees no peers: interfaces, beacons, inboxes.
    Doctor(doctor::DoctorArgs),
    /// Collect every node's log records (ZRE-LOG) and print or save them.
    Logs(logs::LogsArgs),
}

/// Ctrl-C and SIGTERM, as one message each on a channel.
fn signals() -> Receiver<()> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = tx.try_send(());
    }) {
        eprintln!("zmesh: no Ctrl-C handler: {e}");
    }
    rx
}

fn main() {
    let cli = Cli::parse();
    let mut log = env_logger::Builder::from_default_env();
    let verbose = match &cli.command {
        Command::Chat(a) => a.node.verbose,
        Command::Members(a) => a.node.verbose,
        Command::Monitor(a) => a.node.verbose,
        Command::Doctor(a) => a.node.verbose,
        Command::Logs(a) => a.node.verbose,
    };
    if verbose {
        log.filter_module("zmesh::verbose", log::LevelFilter::Info);
    }
    log.init();
    let stop = signals();
    let code = match cli.command {
        Command::Chat(a) => chat::run(&a, &stop),
        Command::Members(a) => members::run(&a, &stop),
        Command::Monitor(a) => monitor::run(&a, &stop),
        Command::Doctor(a) => doctor::run(&a, &stop),
        Command::Logs(a) => logs::run(&a, &stop),
    };
    std::process::exit(code);
}
