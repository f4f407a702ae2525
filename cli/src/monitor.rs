//! `zmesh monitor`: print every event on the mesh as it happens.

use std::time::{Duration, Instant};

use clap::Args;
use crossbeam_channel::{select, Receiver};

use crate::options::{seconds, NodeArgs};
use crate::print;

/// `zmesh monitor`'s options.
#[derive(Args, Debug)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Events as JSON lines (docs/json.md) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many seconds (default: run until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub duration: Option<Duration>,
}

/// Streams events until a signal or the duration; the process's exit code.
pub fn run(args: &MonitorArgs, stop: &Receiver<()>) -> i32 {
    let mut node = args.node.start();
    print::started(&node, args.json);
    let events = node.events();
    // A year stands in for "no end" without overflowing the clock.
    let end = Instant::now() + args.duration.unwrap_or(Duration::from_secs(365 * 86_400));
    loop {
        select! {
            recv(events) -> e => match e {
                Ok(e) => print::event(&e, args.json),
                Err(_) => break,
            },
            recv(stop) -> _ => break,
            default(end.saturating_duration_since(Instant::now())) => break,
        }
    }
    node.stop();
    for e in events.try_iter() {
        print::event(&e, args.json);
    }
    0
}
