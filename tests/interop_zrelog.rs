//! ZRE-LOG against real libzmq (pyzmq), on 127.0.0.1 only: a libzmq SUB announced
//! as a collector receives well-formed LOG messages from a zmesh node's publisher
//! (decoded on the Python side by the guide's layout), and a libzmq PUB's records
//! reach a zmesh collector. Each test has a beacon port of its own.

mod common;

use std::time::{Duration, Instant};

use common::Helper;
use serde_json::json;
use zmesh::wire::zrelog::{self, Level, LogEvent, LogRecord};
use zmesh::{Event, Node};

#[test]
fn a_libzmq_sub_receives_a_zmesh_nodes_logs() {
    let Some(python) = common::python() else {
        return;
    };
    let port = 46537;
    let mut py = Helper::spawn(&python, "zrelog_peer.py", &["sub".into()]);
    let sub_port = py.wait("BOUND", |v| v["type"] == "BOUND")["port"]
        .as_u64()
        .unwrap();
    // A node announces the libzmq SUB as its collector; the other publishes to it.
    let _announcer = Node::builder("announcer")
        .interface("lo")
        .port(port)
        .header("X-ZRELOG", &format!("tcp://127.0.0.1:{sub_port}"))
        .build()
        .unwrap();
    let publisher = Node::builder("publisher")
        .interface("lo")
        .port(port)
        .build()
        .unwrap();
    // The ENTER that made the link was held until the subscription came.
    let enter = py.wait("an ENTER record", |v| v["type"] == "LOG" && v["event"] == 3);
    assert_eq!(enter["level"], 3);
    assert_eq!(enter["frames"], 1);
    let own = zrelog::hash(publisher.endpoint().unwrap());
    assert_eq!(enter["node"], own);
    assert!(enter["data"]
        .as_str()
        .unwrap()
        .starts_with("publisher: announcer entered from tcp://127.0.0.1:"));
    assert!(enter["time"].as_u64().unwrap() > 1_700_000_000);
    publisher.log(Level::Error, "out of paper").unwrap();
    let app = py.wait("the application's record", |v| {
        v["type"] == "LOG" && v["event"] == 0
    });
    assert_eq!(app["level"], 1);
    assert_eq!(app["data"], "publisher: out of paper");
    py.poll_lines();
    assert!(!py.seen.iter().any(|v| v["type"] == "BAD"), "{:?}", py.seen);
}

#[test]
fn a_libzmq_pubs_records_reach_a_zmesh_collector() {
    let Some(python) = common::python() else {
        return;
    };
    let port = 46538;
    let collector = common::collector("collector", port);
    let ep = collector.peer_headers(collector.uuid()).unwrap();
    assert!(ep.is_none(), "a node is not its own peer");
    // The collector's log endpoint, as its peers learn it: from its header.
    let log_ep = common::log_endpoint(&collector, port);
    let end = Instant::now() + Duration::from_secs(30);
    let log_port: u16 = log_ep.rsplit(':').next().unwrap().parse().unwrap();
    let mut py = Helper::spawn(
        &python,
        "zrelog_peer.py",
        &["pub".into(), log_port.to_string()],
    );
    let record = LogRecord {
        level: Level::Warning,
        event: LogEvent::Exit,
        node: 0x1234,
        peer: 0x5678,
        time: 1_800_000_000,
        data: "from libzmq".into(),
    };
    py.send(json!({"cmd": "send", "hex": common::hex(&record.encode())}));
    let got = loop {
        let left = end.saturating_duration_since(Instant::now());
        match collector.events().recv_timeout(left) {
            Ok(Event::Log {
                record: r,
                source,
                peer,
                ..
            }) if r.data == "from libzmq" => {
                assert!(source.starts_with("127.0.0.1:"), "{source}");
                // Not a mesh peer: the zero id.
                assert_eq!(peer, zmesh::PeerId::default());
                break r;
            }
            Ok(_) => {}
            Err(_) => panic!("no record from the libzmq PUB within 30 s"),
        }
    };
    assert_eq!(got, record);
    py.send(json!({"cmd": "stop"}));
}
