//! `zmesh-sim`: run zmesh's engine on a simulated network and check it.
//!
//! ```text
//! zmesh-sim --nodes 100 --profile wifi --seed 7 --duration 60s
//! zmesh-sim --scenario simulator/scenarios/partition-heal.txt --summary json
//! ```
//! Exit code 0 only if the oracle held (and, with `--check-determinism`, both runs
//! gave the same trace hash).

use std::io::Write;
use std::time::Duration;

use clap::Parser;
use zmesh_sim::profile::Profile;
use zmesh_sim::scenario::{parse_duration, Scenario};
use zmesh_sim::sim::{Outcome, Sim, SimConfig};

#[derive(Parser, Debug)]
#[command(about = "zmesh's real protocol engine on a simulated network, in virtual time")]
struct Args {
    /// Number of nodes (default 10, or the scenario's).
    #[arg(long)]
    nodes: Option<usize>,
    /// Link profile: lan, wifi, lossy:P (default lan, or the scenario's).
    #[arg(long)]
    profile: Option<Profile>,
    /// Seed for every random draw (default 1, or the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Virtual run time, e.g. 60s, 2m (default 60s, or the scenario's).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Scenario file (see simulator/scenarios/).
    #[arg(long)]
    scenario: Option<String>,
    /// Write the trace (events and actions, one per line) to this file.
    #[arg(long)]
    trace: Option<String>,
    /// Summary format: text or json.
    #[arg(long, default_value = "text")]
    summary: String,
    /// Draw the run as an SVG chart.
    #[arg(long)]
    plot: Option<String>,
    /// Run twice and compare the trace hashes.
    #[arg(long)]
    check_determinism: bool,
    /// Evasive timeout (default 5s).
    #[arg(long, value_parser = parse_duration)]
    evasive: Option<Duration>,
    /// Expired timeout (default 30s).
    #[arg(long, value_parser = parse_duration)]
    expired: Option<Duration>,
    /// Every node in CURVE mode (keys drawn from the seed).
    #[arg(long)]
    curve: bool,
    /// Break the engine on purpose: never PING quiet peers (to see the oracle catch it).
    #[arg(long, hide = true)]
    fault_no_ping: bool,
}

fn main() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    ask_for_huge_pages();
    env_logger::init();
    let args = Args::parse();
    let scenario = match &args.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
                eprintln!("cannot read {path}: {e}");
                std::process::exit(2)
            });
            Scenario::parse(&text).unwrap_or_else(|e| {
                eprintln!("{path}: {e}");
                std::process::exit(2)
            })
        }
        None => Scenario::default(),
    };
    let duration = args
        .duration
        .or(scenario.duration)
        .unwrap_or(Duration::from_secs(60));
    let scenario = if args.scenario.is_none() {
        Scenario::default_for(duration)
    } else {
        scenario
    };
    let mut cfg = SimConfig::new(args.nodes.or(scenario.nodes).unwrap_or(10));
    cfg.profile = args.profile.or(scenario.profile).unwrap_or(Profile::Lan);
    cfg.seed = args.seed.or(scenario.seed).unwrap_or(1);
    cfg.duration = duration;
    cfg.keep_trace = args.trace.is_some();
    cfg.progress = true;
    if let Some(d) = args.evasive {
        cfg.engine.evasive_timeout = d;
    }
    if let Some(d) = args.expired {
        cfg.engine.expired_timeout = d;
    }
    cfg.curve = args.curve;
    if args.fault_no_ping {
        cfg.faults = zmesh::engine::Faults::no_ping();
    }

    let Outcome {
        summary,
        trace,
        samples,
        marks,
    } = {
        // Freeing a 1,000-node mesh takes seconds; the process is about to exit.
        let mut sim = Sim::new(cfg.clone(), &scenario);
        let outcome = sim.run_to_end();
        std::mem::forget(sim);
        outcome
    };
    let mut ok = summary.passed();
    let mut determinism = None;
    if args.check_determinism {
        let mut again = cfg.clone();
        again.keep_trace = false;
        let second = Sim::new(again, &scenario).run().summary;
        let same = second.trace_hash == summary.trace_hash;
        determinism = Some((same, second.trace_hash.clone()));
        ok &= same;
    }
    if let Some(path) = &args.trace {
        let mut f = std::fs::File::create(path).unwrap_or_else(|e| {
            eprintln!("cannot write {path}: {e}");
            std::process::exit(2)
        });
        for line in &trace {
            let _ = writeln!(f, "{line}");
        }
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "{} nodes, {}, seed {}",
            summary.nodes, summary.profile, summary.seed
        );
        if let Err(e) = zmesh_sim::plot::draw(path, &samples, &marks, &title) {
            eprintln!("cannot draw {path}: {e}");
            ok = false;
        }
    }
    if args.summary == "json" {
        let mut j = summary.to_json();
        if let Some((same, h)) = &determinism {
            j["determinism"] = serde_json::json!({"same": same, "second_hash": h});
        }
        println!("{j}");
    } else {
        println!("{summary}");
        if let Some((same, h)) = &determinism {
            println!(
                "determinism        {} (second run {h})",
                if *same { "same trace" } else { "DIFFERENT" }
            );
        }
    }
    std::process::exit(if ok { 0 } else { 1 });
}

/// A large mesh spends much of its time waiting for the memory of a thousand
/// engines' tables, and much of that on address translation: transparent huge
/// pages cut it (1,000 nodes: about 15 % faster, the same trace), but under the
/// kernel's usual `madvise` setting only memory that malloc marks gets them. So
/// the process starts again with glibc's tunable that marks it, unless
/// `GLIBC_TUNABLES` is set already (set it, even empty, to keep the defaults).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn ask_for_huge_pages() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    // Returns only if the exec failed; then this process goes on as it is.
    let _ = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1")
        .exec();
}
