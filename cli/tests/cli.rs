//! `zmesh members`, `monitor` and `doctor` on loopback, each test on its own beacon
//! port, against nodes of the library run in the test.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use zmesh::wire::beacon::Beacon;
use zmesh::{Event, ExitReason, Node, PeerInfo};

const EXE: &str = env!("CARGO_BIN_EXE_zmesh");

fn node(name: &str, port: u16) -> Node {
    Node::builder(name)
        .interface("lo")
        .port(port)
        .header("X-ROLE", "printer")
        .join("office")
        .build()
        .unwrap()
}

/// Waits (up to a generous deadline) for an event matching `pred`.
fn wait_event(node: &Node, pred: impl Fn(&Event) -> bool) -> Event {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match node.events().recv_timeout(left) {
            Ok(e) if pred(&e) => return e,
            Ok(_) => {}
            Err(_) => panic!("no such event within 30 s"),
        }
    }
}

/// The peer the test's node saw leave left at once, politely (reason `left`), not
/// after the expired timeout.
fn left_politely(node: &Node) {
    let exit = wait_event(node, |e| matches!(e, Event::Exit { .. }));
    assert!(
        matches!(
            exit,
            Event::Exit {
                reason: ExitReason::Left,
                ..
            }
        ),
        "{exit:?}"
    );
}

/// Sends SIGTERM, as a service manager stops a program.
fn terminate(child: &std::process::Child) {
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(EXE).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_and_checked_choices() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("zmesh {}", env!("CARGO_PKG_VERSION")));
    for bad in [
        &["members", "--port", "seventy"][..],
        &["monitor", "--duration", "soon"],
        &["members", "--header", "novalue"],
        &["doctor", "--wait", "-1"],
        &["launch"],
    ] {
        let (code, _, err) = run(bad);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("error"), "{bad:?}: {err}");
    }
    // A refused option that only the library checks names itself.
    let (code, _, err) = run(&[
        "members",
        "--interface",
        "lo",
        "--port",
        "46524",
        "--evasive-timeout",
        "0",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("evasive"), "{err}");
}

#[test]
fn members_lists_a_peer_with_its_headers_and_groups_and_leaves_politely() {
    let port = 46520;
    let printer = node("printer", port);
    let p = port.to_string();
    let (code, out, err) = run(&[
        "members",
        "--interface",
        "lo",
        "--port",
        &p,
        "--expect",
        "1",
        "--wait",
        "30",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let records: Vec<PeerInfo> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(records.len(), 1, "{out}");
    let r = &records[0];
    assert_eq!(r.name, "printer");
    assert_eq!(r.id, printer.uuid());
    assert_eq!(r.headers.get("X-ROLE").map(String::as_str), Some("printer"));
    assert!(r.groups.contains("office"), "{out}");
    assert_eq!(Some(r.endpoint.as_str()), printer.endpoint());
    // Its HELLO at least came in, and ours went out.
    assert!(
        r.figures.messages_in >= 1 && r.figures.messages_out >= 1,
        "{out}"
    );
    // It left at once, politely, not after the expired timeout.
    left_politely(&printer);

    // The table for people: a header line and the peer. Quiet for a second, the
    // printer is PINGed, and its PING-OK gives the round trip.
    let (code, out, err) = run(&[
        "members",
        "--interface",
        "lo",
        "--port",
        &p,
        "--wait",
        "3",
        "--evasive-timeout",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("HEADERS"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("printer") && lines[1].contains("X-ROLE=printer"),
        "{out}"
    );
    assert!(
        lines[1].contains("ms "),
        "a round trip in the RTT column: {out}"
    );
    assert!(err.contains("1 peer(s)"), "{err}");
}

#[test]
fn monitor_streams_events_and_stops_politely_on_sigterm() {
    let port = 46521;
    let p = port.to_string();
    let mut child = Command::new(EXE)
        .args([
            "monitor",
            "--interface",
            "lo",
            "--port",
            &p,
            "--group",
            "office",
            "--json",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = crossbeam_channel::unbounded::<Value>();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let v: Value = serde_json::from_str(&line).expect("JSON lines");
            if v["type"] != "STARTED" {
                // Every other line is an event of docs/json.md.
                let _: Event =
                    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            }
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    let wait = |pred: &dyn Fn(&Value) -> bool| -> Value {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let v = lines
                .recv_timeout(end.saturating_duration_since(Instant::now()))
                .expect("the line within 30 s");
            if pred(&v) {
                return v;
            }
        }
    };
    let started = wait(&|v| v["type"] == "STARTED");
    let printer = node("printer", port);
    let enter = wait(&|v| v["type"] == "ENTER");
    assert_eq!(enter["name"], "printer");
    assert_eq!(enter["headers"]["X-ROLE"], "printer");
    wait(&|v| v["type"] == "JOIN" && v["group"] == "office");
    // Once the printer knows the monitor is in the group, a shout reaches it.
    let monitor_id: zmesh::PeerId = started["peer"].as_str().unwrap().parse().unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while !printer
        .peers_by_group("office")
        .unwrap()
        .contains(&monitor_id)
    {
        assert!(
            Instant::now() < end,
            "the printer never saw the monitor join"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    printer.shouts("office", "paper jam").unwrap();
    let shout = wait(&|v| v["type"] == "SHOUT");
    assert_eq!(shout["content"], serde_json::json!(["paper jam"]));

    terminate(&child);
    wait(&|v| v["type"] == "STOP");
    assert!(child.wait().unwrap().success());
    left_politely(&printer);
}

#[test]
fn doctor_reports_a_peer_that_entered() {
    let port = 46522;
    let _printer = node("printer", port);
    let (code, out, _) = run(&[
        "doctor",
        "--interface",
        "lo",
        "--port",
        &port.to_string(),
        "--wait",
        "8",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("printer (") && out.contains(": entered"),
        "{out}"
    );
    assert!(out.contains("OK: 1 peer(s) entered: printer"), "{out}");
    assert!(!out.contains("Hint:"), "{out}");
}

/// A node whose beacon names an inbox where nothing listens, and a stray program
/// on the port: the doctor says both, and exits 1 for no peer.
#[test]
fn doctor_explains_a_peer_it_cannot_reach_and_a_stray_sender() {
    let port = 46523;
    // A port nothing listens on: bound, then freed.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let beacon = Beacon::new([0x5A; 16], dead).encode();
            while !stop.load(Ordering::Relaxed) {
                let _ = s.send_to(&beacon, ("127.0.0.1", port));
                let _ = s.send_to(b"not a beacon", ("127.0.0.1", port));
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let (code, out, _) = run(&[
        "doctor",
        "--interface",
        "lo",
        "--port",
        &port.to_string(),
        "--wait",
        "3",
    ]);
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    assert_eq!(code, 1, "{out}");
    let ghost = format!(
        "{} at tcp://127.0.0.1:{dead}: beacon heard, no HELLO yet; its inbox is refused",
        "5A".repeat(16)
    );
    assert!(out.contains(&ghost), "{out}");
    assert!(out.contains("Hint: Nothing listens at"), "{out}");
    assert!(out.contains("were not ZRE beacons"), "{out}");
    assert!(out.contains("No peer entered"), "{out}");
}

#[test]
fn doctor_alone_says_no_beacon_came() {
    let (code, out, _) = run(&[
        "doctor",
        "--interface",
        "lo",
        "--port",
        "46525",
        "--wait",
        "2",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("heard from other nodes 0"), "{out}");
    assert!(
        out.contains("Hint: No beacon from another node on UDP port 46525"),
        "{out}"
    );
}

#[test]
fn logs_collects_the_records_of_a_node_and_writes_them_to_a_file() {
    let port = 46539;
    let file = std::env::temp_dir().join(format!("zmesh-logs-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let mut child = Command::new(EXE)
        .args([
            "logs",
            "--interface",
            "lo",
            "--port",
            &port.to_string(),
            "--json",
            "--output",
        ])
        .arg(&file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, lines) = crossbeam_channel::unbounded::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx
                .send(serde_json::from_str(&line).expect("JSON lines"))
                .is_err()
            {
                break;
            }
        }
    });
    let printer = node("printer", port);
    let end = Instant::now() + Duration::from_secs(30);
    let record = loop {
        printer
            .log(zmesh::wire::zrelog::Level::Error, "paper jam")
            .unwrap();
        match lines.recv_timeout(Duration::from_millis(500)) {
            Ok(v) if v["type"] == "LOG" && v["record"]["event"] == "APP" => break v,
            Ok(_) | Err(_) => assert!(Instant::now() < end, "no LOG line within 30 s"),
        }
    };
    assert_eq!(record["name"], "printer");
    assert_eq!(record["peer"], printer.uuid().to_string());
    assert_eq!(record["record"]["level"], "error");
    assert_eq!(record["record"]["data"], "printer: paper jam");
    terminate(&child);
    assert!(child.wait().unwrap().success());
    // The same objects in the file, each an event of docs/json.md.
    let saved = std::fs::read_to_string(&file).unwrap();
    let events: Vec<Event> = saved
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Log { record, .. } if record.data == "printer: paper jam")));
    let _ = std::fs::remove_file(&file);
}

/// GET /metrics on `addr`: the body of a 200 answer.
fn http_get_metrics(addr: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let ok = head.split(' ').nth(1) == Some("200") && head.contains("openmetrics-text");
    ok.then(|| body.to_string())
}

#[test]
fn monitor_serves_metrics_for_prometheus() {
    let port = 46544;
    let http = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let addr = http.to_string();
    let mut child = Reaped(
        Command::new(EXE)
            .args(["monitor", "--interface", "lo", "--port", &port.to_string()])
            .args(["--name", "watch", "--metrics", &addr])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let printer = node("printer", port);
    let end = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    let body = loop {
        if let Some(body) = http_get_metrics(&addr) {
            if body.contains("zmesh_peers{node=\"watch\"} 1") {
                break body;
            }
            last = Some(body);
        }
        assert!(
            Instant::now() < end,
            "no metrics with the printer within 30 s: {last:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let series = format!(
        "zmesh_peer_messages_in_total{{node=\"watch\",peer=\"{}\",name=\"printer\"}}",
        printer.uuid()
    );
    assert!(body.contains(&series), "{body}");
    assert!(body.ends_with("# EOF\n"), "{body}");
    terminate(&child.0);
    assert!(child.0.wait().unwrap().success());
}

/// A child process that is killed if the test fails before it ends.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
