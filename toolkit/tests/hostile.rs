//! Random neighbours against one engine: every step within its bounds (see
//! `zmesh_toolkit::hostile`).

use proptest::prelude::*;
use zmesh_toolkit::hostile;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_sessions_stay_within_bounds(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        hostile::run(&data);
    }
}

/// A session that does what the bounds are about, spelled out: connections under
/// known identities, HELLOs, a time jump past every timeout.
#[test]
fn a_scripted_session_enters_peers_and_expires_them() {
    let mut s = Vec::new();
    for i in 0..6u8 {
        // A connection from address i under identity i, then a HELLO (kind 0).
        // (op 1: address, identity; op 2: link, kind 0, one group "g", no
        // headers, port 10000, address, status, name "n")
        s.extend_from_slice(&[1, i, i]);
        s.extend_from_slice(&[2, i, 0, 1, 1, b'g', 0, 0x10, 0x27, i, 0, 1, b'n']);
    }
    // 31 s later everybody has expired.
    s.extend_from_slice(&[7, 0x80]);
    let r = hostile::run(&s);
    assert_eq!(r.entered, 6, "{r:?}");
    assert!(r.events > r.entered, "{r:?}");
}

/// Random sessions reach the parts that matter: peers enter, and events flow.
#[test]
fn random_sessions_reach_entered_peers() {
    let mut rng = zmesh_toolkit::rng::Stream::new(7, 0);
    let mut entered = 0;
    for _ in 0..200 {
        let data: Vec<u8> = (0..2048).map(|_| rng.next_u64() as u8).collect();
        let r = hostile::run(&data);
        entered += usize::from(r.entered > 0);
    }
    eprintln!("{entered} of 200 random sessions entered a peer");
    assert!(entered >= 20, "{entered}");
}
