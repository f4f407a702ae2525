//! `zmesh-tester`: real zmesh nodes on real sockets, checked by an oracle.
//!
//! ```text
//! zmesh-tester churn --slots 100 --duration 120s [--seed S] [--groups 10] [--summary json]
//! zmesh-tester netns --hosts 4 --loss 30 --duration 60s       (root, iproute2, nftables)
//! zmesh-tester node --name h0 --interface eth0 --port 5670    (one node; used by netns)
//! zmesh-tester perf remote N | perf local N M                 (Zyre's perf protocol)
//! zmesh-tester echo | sink                                    (peers for bench)
//! zmesh-tester bench latency | throughput | mesh | idle | tcp
//! ```
//! The exit code is 0 only if every check held.

mod bench;
mod churn;
mod common;
mod floor;
mod netns;
mod node;
mod perf;

use std::time::Duration;

use clap::{Parser, Subcommand};

/// The tools' duration syntax: `500ms`, `30s`, `2m`.
fn duration(s: &str) -> Result<Duration, String> {
    zmesh_toolkit::parse_duration(s)
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
        /// Gather every node's log records (ZRE-LOG) into FILE as JSON lines.
        #[arg(long, value_name = "FILE")]
        collect: Option<std::path::PathBuf>,
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
        #[arg(long, default_value_t = zmesh::DEFAULT_PORT)]
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
        /// Gather every node's log records (ZRE-LOG) into FILE as JSON lines: the
        /// last host's node is also a collector.
        #[arg(long, value_name = "FILE")]
        collect: Option<std::path::PathBuf>,
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
        #[arg(long, default_value_t = zmesh::DEFAULT_PORT)]
        port: u16,
    },
    /// One node called `sink` that counts one-way whispers (a peer for `bench throughput`).
    Sink {
        /// Interface (`lo` keeps it on this host).
        #[arg(long, default_value = "lo")]
        interface: String,
        /// Beacon port.
        #[arg(long, default_value_t = zmesh::DEFAULT_PORT)]
        port: u16,
    },
    /// Latency, throughput, mesh formation, idle cost, and the plain-TCP ceiling.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
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
        #[arg(long, default_value_t = zmesh::DEFAULT_PORT)]
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
        /// Be a ZRE-LOG collector too, writing every record to FILE (JSON lines).
        #[arg(long, value_name = "FILE")]
        collect: Option<std::path::PathBuf>,
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
        #[arg(long, default_value_t = zmesh::DEFAULT_PORT)]
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
        #[arg(long, default_value_t = zmesh::DEFAULT_PORT)]
        port: u16,
    },
}

#[derive(Subcommand, Debug)]
enum BenchWhat {
    /// Whisper round trips against a peer called `echo`, per payload size.
    Latency {
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
        #[arg(long, default_value_t = zmesh::DEFAULT_PORT)]
        port: u16,
        /// Use an echo peer started elsewhere (`zmesh-tester echo`, or Zyre's or
        /// Pyre's twin) instead of one in this process.
        #[arg(long)]
        external_echo: bool,
        /// Both nodes in CURVE mode.
        #[arg(long)]
        curve: bool,
    },
    /// One-way whispers to a peer called `sink`, per payload size.
    Throughput {
        /// Whispers per payload size (fewer for large payloads, see --mib).
        #[arg(long, default_value_t = 200_000)]
        count: usize,
        /// Payload sizes in bytes.
        #[arg(long, value_delimiter = ',', default_value = "16,1024,65536")]
        sizes: Vec<usize>,
        /// At most this many MiB per payload size.
        #[arg(long, default_value_t = 1024)]
        mib: usize,
        /// Interface (`lo` keeps it on this host).
        #[arg(long, default_value = "lo")]
        interface: String,
        /// Beacon port.
        #[arg(long, default_value_t = zmesh::DEFAULT_PORT)]
        port: u16,
        /// Use a sink started elsewhere (`zmesh-tester sink`, or Zyre's or Pyre's
        /// twin) instead of one in this process.
        #[arg(long)]
        external_sink: bool,
        /// Both nodes in CURVE mode.
        #[arg(long)]
        curve: bool,
        /// Payloads the sender keeps unacknowledged by the sink (Zyre's twin keeps
        /// 512); 0: none, the sender waits on its node's own backlog instead
        /// (`Node::wait_queued`), as a sender to an application without ACKs would.
        #[arg(long, default_value_t = bench::WINDOW)]
        window: u64,
    },
    /// Time for N nodes started together in this process to reach a full mesh.
    Mesh {
        /// Node counts, one run each (beacon ports PORT, PORT+1, ...).
        #[arg(long, value_delimiter = ',', default_value = "10,50,100")]
        nodes: Vec<usize>,
        /// Interface (`lo` keeps it on this host).
        #[arg(long, default_value = "lo")]
        interface: String,
        /// First beacon port.
        #[arg(long, default_value_t = zmesh::DEFAULT_PORT)]
        port: u16,
        /// Discover by gossip instead of beacons: the first node serves gossip on
        /// this port (on every address), the others are its clients.
        #[arg(long)]
        gossip: Option<u16>,
    },
    /// CPU and resident memory of N idle nodes in a full mesh in this process.
    Idle {
        /// Number of nodes.
        #[arg(long, default_value_t = 100)]
        nodes: usize,
        /// Seconds to measure, after the mesh has formed and settled.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Interface (`lo` keeps it on this host).
        #[arg(long, default_value = "lo")]
        interface: String,
        /// Beacon port.
        #[arg(long, default_value_t = zmesh::DEFAULT_PORT)]
        port: u16,
    },
    /// The same whisper bytes over one plain TCP connection on 127.0.0.1: the ceiling,
    /// and the same through the thread hand-offs a node makes (the floor of its cost).
    Tcp {
        /// Round trips per size (and ten times as many one-way messages).
        #[arg(long, default_value_t = 20_000)]
        count: usize,
        /// Payload sizes for round trips.
        #[arg(long, value_delimiter = ',', default_value = "16,1024")]
        latency_sizes: Vec<usize>,
        /// Payload sizes for one-way throughput.
        #[arg(long, value_delimiter = ',', default_value = "16,1024,65536")]
        sizes: Vec<usize>,
        /// At most this many MiB per payload size.
        #[arg(long, default_value_t = 1024)]
        mib: usize,
    },
}

/// Prints a bench result as one JSON line; the exit code.
fn report(what: &str, r: Result<serde_json::Value, String>) -> i32 {
    match r {
        Ok(v) => {
            println!("{v}");
            0
        }
        Err(e) => {
            eprintln!("{what}: {e}");
            1
        }
    }
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
            collect,
        } => {
            let mut probe = zmesh::Node::new("probe");
            let timers = probe
                .set_evasive_timeout(evasive)
                .and_then(|()| probe.set_expired_timeout(expired));
            if let Err(e) = timers {
                eprintln!("{e}");
                std::process::exit(2);
            }
            let cfg = churn::ChurnConfig {
                slots: slots.max(1),
                duration,
                seed,
                groups,
                port: port.unwrap_or(40000 + (std::process::id() % 20000) as u16),
                evasive,
                expired,
                progress: true,
                collect,
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
            collect,
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
                collect,
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
        Mode::Sink { interface, port } => match bench::sink(&interface, port) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("sink: {e}");
                1
            }
        },
        Mode::Bench { what } => match what {
            BenchWhat::Latency {
                count,
                sizes,
                interface,
                port,
                external_echo,
                curve,
            } => report("bench latency", {
                common::use_curve(curve);
                perf::latency(count.max(10), &sizes, &interface, port, !external_echo)
            }),
            BenchWhat::Throughput {
                count,
                sizes,
                mib,
                interface,
                port,
                external_sink,
                curve,
                window,
            } => report("bench throughput", {
                common::use_curve(curve);
                bench::throughput(count, &sizes, mib, &interface, port, !external_sink, window)
            }),
            BenchWhat::Mesh {
                nodes,
                interface,
                port,
                gossip,
            } => report("bench mesh", bench::mesh(&nodes, &interface, port, gossip)),
            BenchWhat::Idle {
                nodes,
                seconds,
                interface,
                port,
            } => report(
                "bench idle",
                bench::idle(nodes.max(1), seconds.max(1), &interface, port),
            ),
            BenchWhat::Tcp {
                count,
                latency_sizes,
                sizes,
                mib,
            } => report(
                "bench tcp",
                bench::tcp(count.max(10), &latency_sizes, &sizes, mib),
            ),
        },
        Mode::Node {
            name,
            interface,
            port,
            interval,
            evasive,
            expired,
            collect,
        } => node::run(&node::NodeConfig {
            collect,
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
