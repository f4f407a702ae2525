//! `zmesh-tester`: real zmesh nodes on real sockets, checked by an oracle.
//!
//! ```text
//! zmesh-tester churn --slots 100 --duration 120s [--seed S] [--groups 10] [--summary json]
//! zmesh-tester netns --hosts 4 --loss 30 --duration 60s       (root, iproute2, nftables)
//! zmesh-tester node --name h0 --interface eth0 --port 5670    (one node; used by netns)
//! ```
//! The exit code is 0 only if every check held.

mod churn;
mod common;
mod netns;
mod node;
mod perf;

use std::time::Duration;

use clap::{Parser, Subcommand};

/// The simulator's duration syntax: `500ms`, `30s`, `2m`.
fn duration(s: &str) -> Result<Duration, String> {
    zmesh_sim::scenario::parse_duration(s)
}

#[derive(Parser, Debug)]
#[command(about = "zmesh nodes under churn and real packet loss, with an oracle")]
struct Args {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Many nodes in this process on loopback; random starts and stops.
    Churn {
        /// Slots in the pool.
        #[arg(long, default_value_t = 100)]
        slots: usize,
        /// How long slots keep toggling.
        #[arg(long, value_parser = duration, default_value = "120s")]
        duration: Duration,
        /// Seed for the tester's choices.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Number of groups.
        #[arg(long, default_value_t = 10)]
        groups: usize,
        /// Beacon port (loopback only); default: one derived from the process id.
        #[arg(long)]
        port: Option<u16>,
        /// The nodes' evasive timeout.
        #[arg(long, value_parser = duration, default_value = "5s")]
        evasive: Duration,
        /// The nodes' expired timeout.
        #[arg(long, value_parser = duration, default_value = "30s")]
        expired: Duration,
        /// Summary format: text or json.
        #[arg(long, default_value = "text")]
        summary: String,
    },
    /// Hosts in network namespaces on a bridge, with nftables loss and a partition.
    Netns {
        /// Number of hosts.
        #[arg(long, default_value_t = 4)]
        hosts: usize,
        /// Ingress loss in percent, on host 1 (as the reference measurements).
        #[arg(long, default_value_t = 30)]
        loss: u32,
        /// Apply the loss on every host's ingress (harsh: TCP stalls for 20-30 s).
        #[arg(long)]
        loss_everywhere: bool,
        /// Traffic time before and after the partition.
        #[arg(long, value_parser = duration, default_value = "60s")]
        duration: Duration,
        /// Skip the partition and heal.
        #[arg(long)]
        no_partition: bool,
        /// Beacon port.
        #[arg(long, default_value_t = 5670)]
        port: u16,
        /// The nodes' evasive timeout.
        #[arg(long, value_parser = duration, default_value = "5s")]
        evasive: Duration,
        /// The nodes' expired timeout (the partition lasts longer than this). Keep it
        /// long under loss: TCP retransmission backoff stalls streams for seconds.
        #[arg(long, value_parser = duration, default_value = "30s")]
        expired: Duration,
        /// Summary format: text or json.
        #[arg(long, default_value = "text")]
        summary: String,
        /// Write every line the nodes printed (events, messages) to this file.
        #[arg(long)]
        log: Option<std::path::PathBuf>,
    },
    /// Zyre's perf protocol: `perf remote N` or `perf local N M`.
    Perf {
        #[command(subcommand)]
        side: PerfSide,
    },
    /// One node that whispers every whisper back (a peer for `bench latency`).
    Echo {
        /// Interface (`lo` keeps it on this host).
        #[arg(long, default_value = "lo")]
        interface: String,
        /// Beacon port.
        #[arg(long, default_value_t = 5670)]
        port: u16,
    },
    /// Whisper round-trip latency against an echo peer.
    Bench {
        /// Round trips per payload size.
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Payload sizes in bytes.
        #[arg(long, value_delimiter = ',', default_value = "16,1024")]
        sizes: Vec<usize>,
        /// Interface (`lo` keeps it on this host).
        #[arg(long, default_value = "lo")]
        interface: String,
        /// Beacon port.
        #[arg(long, default_value_t = 5670)]
        port: u16,
        /// Use an echo peer started elsewhere (`zmesh-tester echo`) instead of one in
        /// this process.
        #[arg(long)]
        external_echo: bool,
    },
    /// One node that whispers its peers and reports everything as JSON lines.
    Node {
        /// Node name.
        #[arg(long)]
        name: String,
        /// Interface name or address.
        #[arg(long)]
        interface: String,
        /// Beacon port.
        #[arg(long, default_value_t = 5670)]
        port: u16,
        /// Time between whispers to each peer.
        #[arg(long, value_parser = duration, default_value = "200ms")]
        interval: Duration,
        /// Evasive timeout.
        #[arg(long, value_parser = duration, default_value = "5s")]
        evasive: Duration,
        /// Expired timeout.
        #[arg(long, value_parser = duration, default_value = "30s")]
        expired: Duration,
    },
}

#[derive(Subcommand, Debug)]
enum PerfSide {
    /// N nodes that answer the local side (end of input stops them).
    Remote {
        /// Number of nodes.
        count: usize,
        /// Interface (`lo` keeps it on this host).
        #[arg(long, default_value = "lo")]
        interface: String,
        /// Beacon port.
        #[arg(long, default_value_t = 5670)]
        port: u16,
    },
    /// One node that measures whisper and shout rates against N remotes.
    Local {
        /// Number of remote nodes to wait for.
        count: usize,
        /// Number of whispers (and M/N shouts).
        messages: usize,
        /// Interface (`lo` keeps it on this host).
        #[arg(long, default_value = "lo")]
        interface: String,
        /// Beacon port.
        #[arg(long, default_value_t = 5670)]
        port: u16,
    },
}

fn print(summary: &serde_json::Value, format: &str) {
    if format == "json" {
        println!("{summary}");
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(summary).unwrap_or_default()
        );
    }
}

fn main() {
    env_logger::init();
    let args = Args::parse();
    let code = match args.mode {
        Mode::Churn {
            slots,
            duration,
            seed,
            groups,
            port,
            evasive,
            expired,
            summary,
        } => {
            let cfg = churn::ChurnConfig {
                slots: slots.max(1),
                duration,
                seed,
                groups,
                port: port.unwrap_or(40000 + (std::process::id() % 20000) as u16),
                evasive,
                expired,
                progress: true,
            };
            let s = churn::run(&cfg);
            print(&s.json, &summary);
            i32::from(!s.violations.is_empty())
        }
        Mode::Netns {
            hosts,
            loss,
            loss_everywhere,
            duration,
            no_partition,
            port,
            evasive,
            expired,
            summary,
            log,
        } => {
            let cfg = netns::NetnsConfig {
                hosts: hosts.clamp(2, 200),
                loss: loss.min(99),
                loss_everywhere,
                duration,
                partition: !no_partition,
                port,
                evasive,
                expired,
                exe: std::env::current_exe().expect("own path"),
                log,
            };
            match netns::run(&cfg) {
                Ok(s) => {
                    print(&s, &summary);
                    i32::from(s["verdict"] != "pass")
                }
                Err(e) => {
                    eprintln!("netns: {e}");
                    2
                }
            }
        }
        Mode::Perf {
            side:
                PerfSide::Remote {
                    count,
                    interface,
                    port,
                },
        } => match perf::remote(count.max(1), &interface, port) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("perf remote: {e}");
                1
            }
        },
        Mode::Perf {
            side:
                PerfSide::Local {
                    count,
                    messages,
                    interface,
                    port,
                },
        } => match perf::local(count.max(1), messages.max(1), &interface, port) {
            Ok(v) => {
                println!("{v}");
                0
            }
            Err(e) => {
                eprintln!("perf local: {e}");
                1
            }
        },
        Mode::Echo { interface, port } => match perf::echo(&interface, port) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("echo: {e}");
                1
            }
        },
        Mode::Bench {
            count,
            sizes,
            interface,
            port,
            external_echo,
        } => match perf::latency(count.max(10), &sizes, &interface, port, !external_echo) {
            Ok(v) => {
                println!("{v}");
                0
            }
            Err(e) => {
                eprintln!("bench: {e}");
                1
            }
        },
        Mode::Node {
            name,
            interface,
            port,
            interval,
            evasive,
            expired,
        } => node::run(&node::NodeConfig {
            name,
            interface,
            port,
            interval,
            evasive,
            expired,
        }),
    };
    std::process::exit(code);
}
