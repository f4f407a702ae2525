//! Elections in virtual time: the lowest contesting UUID leads; members that do
//! not contest still carry the waves; a leader that goes is replaced.

use super::*;

/// Node i's UUID is [i + 1; 16], so node 0 has the lowest.
fn net_of(n: usize) -> Net {
    let mut net = Net::new(n, named);
    for i in 0..n {
        net.nodes[i] = Engine::new(named(i), PeerId([i as u8 + 1; 16]));
    }
    net
}

fn leaders(net: &Net, i: usize, group: &str) -> Vec<PeerId> {
    net.events[i]
        .iter()
        .filter_map(|e| match e {
            Event::Leader { peer, group: g, .. } if g == group => Some(*peer),
            _ => None,
        })
        .collect()
}

#[test]
fn the_lowest_contesting_uuid_leads_and_others_carry_the_wave() {
    let mut net = net_of(4);
    // Nodes 1 and 2 contest; 0 (the lowest UUID) and 3 do not.
    for i in 0..4 {
        let _ = net.nodes[i].join("g");
        if i == 1 || i == 2 {
            net.nodes[i].set_contest_in_group("g");
        }
        net.start(i);
    }
    net.run_for(Duration::from_secs(3));
    let winner = net.id(1);
    for i in 0..4 {
        assert_eq!(
            net.nodes[i].leader("g"),
            Some(winner),
            "node {i}: {:?}",
            net.kinds(i)
        );
        assert_eq!(leaders(&net, i, "g").last(), Some(&winner));
    }
    // The winner's event names itself.
    let own = net.events[1]
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Leader { name, .. } => Some(name.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(own, "b");
}

#[test]
fn a_leader_that_crashes_is_replaced_by_the_next() {
    let mut net = net_of(3);
    for i in 0..3 {
        let _ = net.nodes[i].join("g");
        net.nodes[i].set_contest_in_group("g");
        net.start(i);
    }
    net.run_for(Duration::from_secs(3));
    let first = net.id(0);
    assert!((0..3).all(|i| net.nodes[i].leader("g") == Some(first)));
    net.crash(0);
    // Expiry (30 s) then a new wave.
    net.run_for(Duration::from_secs(40));
    let next = net.id(1);
    for i in 1..3 {
        assert_eq!(
            net.nodes[i].leader("g"),
            Some(next),
            "node {i}: {:?}",
            net.kinds(i)
        );
    }
}

#[test]
fn alone_in_a_group_a_contester_leads_it() {
    let mut net = net_of(1);
    let _ = net.nodes[0].join("solo");
    net.nodes[0].set_contest_in_group("solo");
    net.start(0);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.nodes[0].leader("solo"), Some(net.id(0)));
}

#[test]
fn a_group_nobody_contests_has_no_leader() {
    let mut net = net_of(3);
    for i in 0..3 {
        let _ = net.nodes[i].join("g");
        net.start(i);
    }
    net.run_for(Duration::from_secs(3));
    assert!((0..3).all(|i| net.nodes[i].leader("g").is_none()));
}

fn all_contest(n: usize) -> Net {
    let mut net = net_of(n);
    for i in 0..n {
        let _ = net.nodes[i].join("g");
        net.nodes[i].set_contest_in_group("g");
        net.start(i);
    }
    net.run_for(Duration::from_secs(3));
    net
}

#[test]
fn a_leader_that_leaves_the_group_is_replaced() {
    let mut net = all_contest(3);
    assert!((0..3).all(|i| net.nodes[i].leader("g") == Some(net.id(0))));
    net.nodes[0].leave("g");
    net.drain();
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.nodes[0].leader("g"), None);
    for i in 1..3 {
        assert_eq!(
            net.nodes[i].leader("g"),
            Some(net.id(1)),
            "node {i}: {:?}",
            net.kinds(i)
        );
    }
}

#[test]
fn a_leader_that_restarts_leads_again() {
    let mut net = all_contest(3);
    net.crash(0);
    let mut cfg = named(0);
    cfg.contest.insert("g".into());
    net.nodes[0] = Engine::new(cfg, PeerId([1; 16]));
    let _ = net.nodes[0].join("g");
    net.start(0);
    net.run_for(Duration::from_secs(5));
    for i in 0..3 {
        assert_eq!(
            net.nodes[i].leader("g"),
            Some(net.id(0)),
            "node {i}: {:?}",
            net.kinds(i)
        );
    }
    // The others saw the restart, and a second election.
    assert!(leaders(&net, 1, "g").len() >= 2, "{:?}", net.kinds(1));
}

#[test]
fn a_member_that_goes_mid_wave_is_not_waited_for() {
    // Only node 0 contests; node 3 crashes just as membership changes, so the
    // wave that follows reaches a member that never answers.
    let mut net = net_of(4);
    for i in 0..4 {
        let _ = net.nodes[i].join("g");
        if i == 0 {
            net.nodes[i].set_contest_in_group("g");
        }
        net.start(i);
    }
    net.run_for(Duration::from_secs(3));
    assert!((0..4).all(|i| net.nodes[i].leader("g") == Some(net.id(0))));
    let before: Vec<usize> = (0..3).map(|i| leaders(&net, i, "g").len()).collect();
    net.crash(3);
    net.nodes[2].leave("g");
    let _ = net.nodes[2].join("g");
    net.drain();
    // The wave waits for node 3 until it expires (30 s), then completes.
    net.run_for(Duration::from_secs(10));
    assert_eq!(
        leaders(&net, 1, "g").len(),
        before[1],
        "still waiting: {:?}",
        net.kinds(1)
    );
    net.run_for(Duration::from_secs(30));
    for (i, &had) in before.iter().enumerate() {
        assert!(
            leaders(&net, i, "g").len() > had,
            "node {i}: {:?}",
            net.kinds(i)
        );
        assert_eq!(net.nodes[i].leader("g"), Some(net.id(0)));
    }
}
