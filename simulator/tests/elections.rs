//! Elections in the simulator: the shipped election scenarios hold the oracle's
//! election rules on a few seeds (many more behind `--ignored`), and an engine that
//! keeps naming a leader that has gone is caught.

use zmesh_sim::scenario::Scenario;
use zmesh_sim::sim::{Sim, SimConfig};
use zmesh_sim::summary::Summary;

const SCENARIOS: [&str; 6] = [
    "election-stable.txt",
    "election-leader-crash.txt",
    "election-partition.txt",
    "election-wifi.txt",
    "election-churn.txt",
    "election-50.txt",
];

fn config(name: &str, seed: u64) -> (SimConfig, Scenario) {
    let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    let sc = Scenario::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut cfg = SimConfig::new(sc.nodes.unwrap());
    cfg.profile = sc.profile.unwrap();
    cfg.duration = sc.duration.unwrap();
    cfg.seed = seed;
    (cfg, sc)
}

fn run(name: &str, seed: u64) -> Summary {
    let (cfg, sc) = config(name, seed);
    Sim::new(cfg, &sc).run().summary
}

#[test]
fn election_scenarios_hold_the_oracle() {
    for name in SCENARIOS {
        for seed in 1..=3 {
            let s = run(name, seed);
            assert!(s.passed(), "{name} seed {seed}:\n{s}");
            let e = s.elections.as_ref().expect("contested groups are judged");
            assert!(
                e.settled,
                "{name} seed {seed} ends before membership settles:\n{s}"
            );
            assert!(e.leader_events > 0, "{name} seed {seed}:\n{s}");
        }
    }
}

#[test]
fn a_new_leader_follows_a_crashed_one() {
    let s = run("election-leader-crash.txt", 1);
    assert!(s.passed(), "{s}");
    // Two crashes of the leader, each followed by an election once its peers have
    // seen it EXIT (30 s): the last LEADER comes after the second crash (at 70 s).
    let e = s.elections.unwrap();
    assert!(e.last_leader_secs.unwrap() > 100.0, "{e:?}");
}

#[test]
fn oracle_catches_a_leader_kept_after_it_went() {
    let (mut cfg, sc) = config("election-leader-crash.txt", 1);
    cfg.faults = zmesh::engine::Faults::keep_gone_leader();
    let s = Sim::new(cfg, &sc).run().summary;
    assert!(!s.passed(), "the oracle missed it:\n{s}");
    assert!(s.violations.iter().any(|v| v.contains("seen EXIT")), "{s}");
}

#[test]
fn oracle_catches_an_election_of_the_wrong_node() {
    let (mut cfg, sc) = config("election-stable.txt", 1);
    cfg.faults = zmesh::engine::Faults::elect_highest();
    let s = Sim::new(cfg, &sc).run().summary;
    assert!(
        !s.passed(),
        "the oracle missed it:
{s}"
    );
    assert!(
        s.violations
            .iter()
            .any(|v| v.contains("the lowest contesting member")),
        "{s}"
    );
}

#[test]
fn elections_are_deterministic() {
    let a = run("election-wifi.txt", 7);
    let b = run("election-wifi.txt", 7);
    assert_eq!(a.trace_hash, b.trace_hash);
}

#[test]
#[ignore = "long: 600 runs; about a minute with --release"]
fn election_scenarios_hold_on_many_seeds() {
    for name in SCENARIOS {
        for seed in 1..=100 {
            let s = run(name, seed);
            assert!(s.passed(), "{name} seed {seed}:\n{s}");
        }
    }
}
