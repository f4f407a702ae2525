//! `zmesh members`: join the mesh for a moment and list who is on it.

use std::time::{Duration, Instant};

use clap::Args;
use crossbeam_channel::{select, Receiver};
use zmesh::Event;

use crate::options::{seconds, NodeArgs};
use crate::print;

/// `zmesh members`' options.
#[derive(Args, Debug)]
pub struct MembersArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// How long to listen before listing (peers beacon once a second).
    #[arg(long, value_name = "SECS", default_value = "3", value_parser = seconds)]
    pub wait: Duration,
    /// List as soon as this many peers have entered, without waiting the rest.
    #[arg(long, value_name = "N")]
    pub expect: Option<usize>,
    /// Peer records as JSON lines (docs/json.md) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also list peers that were seen but have not said HELLO (yet).
    #[arg(long)]
    pub all: bool,
}

/// Lists the members; exit code 0, or 1 if the node could not be asked.
pub fn run(args: &MembersArgs, stop: &Receiver<()>) -> i32 {
    let mut node = args.node.start();
    let events = node.events();
    let end = Instant::now() + args.wait;
    let mut entered = 0usize;
    loop {
        if args.expect.is_some_and(|n| entered >= n) {
            break;
        }
        select! {
            recv(events) -> e => match e {
                Ok(Event::Enter { .. }) => entered += 1,
                Ok(Event::Exit { .. }) => entered = entered.saturating_sub(1),
                Ok(_) => {}
                Err(_) => break,
            },
            recv(stop) -> _ => break,
            default(end.saturating_duration_since(Instant::now())) => break,
        }
    }
    let records = node.peer_records();
    node.stop();
    let mut peers = match records {
        Ok(p) => p,
        Err(e) => {
            eprintln!("zmesh: {e}");
            return 1;
        }
    };
    peers.retain(|p| args.all || p.ready);
    if args.json {
        for p in &peers {
            print::line(p);
        }
    } else {
        print!("{}", print::table(&peers));
        eprintln!("{} peer(s) on port {}", peers.len(), args.node.port);
    }
    0
}
