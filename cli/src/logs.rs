//! `zmesh logs`: a ZRE-LOG collector. It joins the mesh announcing its log
//! endpoint (the `X-ZRELOG` header); every node that sees it publishes its protocol
//! events and its application's records there, and this prints them, or writes
//! them as JSON lines (docs/json.md) to a file.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use crossbeam_channel::{select, Receiver};
use zmesh::Event;

use crate::options::{seconds, NodeArgs};
use crate::print;

/// `zmesh logs`' options.
#[derive(Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Where publishers connect (tcp://IP:PORT or tcp://*:PORT; port 0 for any).
    #[arg(long, default_value = "tcp://*:0")]
    pub bind: String,
    /// Records as JSON lines (LOG events of docs/json.md) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Append the JSON lines to FILE (what is printed stays text unless --json).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Stop after this many seconds (default: run until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub duration: Option<Duration>,
}

/// Collects until a signal or the duration; the process's exit code.
pub fn run(args: &LogsArgs, stop: &Receiver<()>) -> i32 {
    let mut file = match &args.output {
        Some(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(f) => Some(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("zmesh: {}: {e}", path.display());
                return 1;
            }
        },
        None => None,
    };
    let mut node = match args.node.node() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("zmesh: {e}");
            return 2;
        }
    };
    if let Err(e) = node.set_log_collector(&args.bind) {
        eprintln!("zmesh: --bind: {e}");
        return 2;
    }
    if let Err(e) = node.start() {
        eprintln!("zmesh: cannot start: {e}");
        return 1;
    }
    print::started(&node, args.json);
    let events = node.events();
    let end = Instant::now() + args.duration.unwrap_or(Duration::from_secs(365 * 86_400));
    loop {
        select! {
            recv(events) -> e => match e {
                Ok(e @ Event::Log { .. }) => {
                    print::event(&e, args.json);
                    if let Some(f) = file.as_mut() {
                        if let Ok(line) = serde_json::to_string(&e) {
                            let _ = writeln!(f, "{line}");
                            let _ = f.flush();
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            },
            recv(stop) -> _ => break,
            default(end.saturating_duration_since(Instant::now())) => break,
        }
    }
    node.stop();
    0
}
