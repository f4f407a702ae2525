//! The rest of Zyre's API: renaming before start, the version, a per-node verbose
//! trace that names the node, a printable node, one call for a peer's record, and
//! a single header from an ENTER event. Loopback only, a beacon port of its own.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use zmesh::{Event, Node};

const PORT: u16 = 46501;
const DEADLINE: Duration = Duration::from_secs(20);

/// Keeps every log line, to read the verbose trace back.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        if r.target() == "zmesh::verbose" {
            self.0.lock().unwrap().push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

static LOG: Capture = Capture(Mutex::new(Vec::new()));

fn node(name: &str) -> Node {
    let mut n = Node::new(name);
    n.set_interface("lo");
    n.set_port(PORT);
    n.set_interval(Duration::from_millis(100));
    n
}

fn until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn zyre_api_rest() {
    log::set_logger(&LOG).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let (major, minor, patch) = zmesh::version();
    assert_eq!(
        format!("{major}.{minor}.{patch}"),
        zmesh::VERSION,
        "version() and VERSION agree"
    );
    assert_eq!(zmesh::VERSION, env!("CARGO_PKG_VERSION"));

    let mut a = node("first");
    a.set_name("alice").unwrap();
    assert_eq!(a.name(), "alice");
    a.set_verbose(true);
    a.set_header("X-ROLE", "hub").unwrap();
    let mut b = node("bob");
    a.start().unwrap();
    b.start().unwrap();
    assert!(matches!(
        a.set_name("late"),
        Err(zmesh::Error::AlreadyStarted)
    ));
    assert_eq!(a.name(), "alice");
    a.join("ops").unwrap();

    // Bob sees alice enter, with her header by name.
    let enter = loop {
        let e = b.events().recv_timeout(DEADLINE).expect("ENTER");
        if e.kind() == "ENTER" {
            break e;
        }
    };
    assert_eq!(enter.header("X-ROLE"), Some("hub"));
    assert_eq!(enter.header("X-NONE"), None);

    // One call for alice's whole record.
    until("alice's record shows her group", || {
        b.peer(a.uuid())
            .unwrap()
            .is_some_and(|p| p.groups.contains("ops"))
    });
    let rec = b.peer(a.uuid()).unwrap().unwrap();
    assert_eq!(rec.name, "alice");
    assert_eq!(Some(rec.endpoint.as_str()), a.endpoint());
    assert_eq!(rec.headers.get("X-ROLE").map(String::as_str), Some("hub"));
    assert!(rec.ready);
    assert_eq!(b.peer(zmesh::PeerId([9; 16])).unwrap(), None);
    // The same record from the list (its figures move with time: compared apart).
    let all = b.peer_records().unwrap();
    assert_eq!(all.len(), 1);
    let (mut one, mut listed) = (rec.clone(), all[0].clone());
    assert!(
        listed.figures.since_heard >= one.figures.since_heard
            || listed.figures.messages_in > one.figures.messages_in
    );
    assert!(one.figures.messages_in >= 1 && one.figures.bytes_in > 0);
    one.figures = Default::default();
    listed.figures = Default::default();
    assert_eq!(listed, one);

    // Alice's state, printed as zyre_print does.
    let shown = a.to_string();
    for part in [
        "alice",
        &a.uuid().to_string(),
        "ops",
        "bob",
        a.endpoint().unwrap(),
    ] {
        assert!(shown.contains(part), "{part:?} missing from:\n{shown}");
    }

    // The verbose trace names the node on every line: alice's, not bob's.
    b.whispers(a.uuid(), "hi").unwrap();
    until("alice's verbose lines", || {
        let lines = LOG.0.lock().unwrap();
        lines
            .iter()
            .any(|l| l.starts_with("(alice) recv WHISPER from peer=bob"))
            && lines
                .iter()
                .any(|l| l.starts_with("(alice) send HELLO to peer="))
    });
    let lines = LOG.0.lock().unwrap().clone();
    assert!(
        lines.iter().all(|l| l.starts_with("(alice) ")),
        "{lines:#?}"
    );
    a.set_verbose(false);
    let before = LOG.0.lock().unwrap().len();
    b.whispers(a.uuid(), "quiet").unwrap();
    let mut got = Vec::new();
    while !got.contains(&b"quiet".to_vec()) {
        if let Event::Whisper { content, .. } = a.events().recv_timeout(DEADLINE).expect("WHISPER")
        {
            got.extend(content.to_vec());
        }
    }
    assert_eq!(got, vec![b"hi".to_vec(), b"quiet".to_vec()]);
    a.stop();
    b.stop();
    assert_eq!(
        LOG.0.lock().unwrap().len(),
        before,
        "verbose off: no more lines"
    );
}

/// Setters refuse what would break the node later: a header key over 255 bytes
/// (every HELLO would fail to encode and no peer would see the node), timeouts of
/// zero (a PING to every peer every millisecond) or beyond a day (the clock
/// overflows).
#[test]
fn setters_validate() {
    let mut n = Node::new("strict");
    let long = "K".repeat(256);
    assert!(matches!(
        n.set_header(&long, "v"),
        Err(zmesh::Error::BadSetting(_))
    ));
    n.set_header(&"K".repeat(255), "v").unwrap();
    for bad in [Duration::ZERO, Duration::from_secs(86_401), Duration::MAX] {
        assert!(n.set_evasive_timeout(bad).is_err(), "{bad:?}");
        assert!(n.set_expired_timeout(bad).is_err(), "{bad:?}");
        assert!(n.set_silent_timeout(bad).is_err(), "{bad:?}");
    }
    n.set_evasive_timeout(Duration::from_millis(10)).unwrap();
    n.set_expired_timeout(Duration::from_secs(86_400)).unwrap();
}
