//! A neighbour floods the beacon port with new UUIDs: the node keeps answering its
//! application, makes a bounded number of peers, and stops when asked. Loopback
//! only, a beacon port of its own.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zmesh::wire::beacon::Beacon;
use zmesh::Node;

const PORT: u16 = 46504;

#[test]
fn a_beacon_flood_does_not_deafen_the_node() {
    let mut n = Node::new("flooded");
    n.set_interface("lo");
    n.set_port(PORT);
    n.start().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut i: u32 = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut uuid = [0xABu8; 16];
                uuid[..4].copy_from_slice(&i.to_be_bytes());
                // A new UUID and port every time: each would be a new peer.
                let b = Beacon::new(uuid, 1024 + (i % 60000) as u16).encode();
                let _ = s.send_to(&b, ("127.0.0.1", PORT));
                i = i.wrapping_add(1);
            }
            i
        })
    };
    // While the flood runs, the application's queries are answered and the peers
    // stay bounded.
    for _ in 0..20 {
        let peers = n.peers().unwrap();
        assert!(
            peers.len() <= zmesh::engine::MAX_UNREADY_PEERS,
            "{}",
            peers.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = n.stats().unwrap();
    stop.store(true, Ordering::Relaxed);
    let sent = flooder.join().unwrap();
    eprintln!(
        "flood: {sent} beacons sent; {} peers held, {} beacons refused",
        n.peers().unwrap().len(),
        stats.unready_refused
    );
    n.stop();
    assert!(!n.is_running());
}
