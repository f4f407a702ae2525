//! `zmesh-tester node` prints docs/json.md's objects: its events parse as
//! `zmesh::Event` and print back the same (less the `t` and `id` it adds), and its
//! STARTED record has the fields `zmesh chat` and `zmesh monitor` print.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_zmesh-tester");

fn start(name: &str) -> (Child, crossbeam_channel::Receiver<String>) {
    let mut child = Command::new(EXE)
        .args([
            "node",
            "--name",
            name,
            "--interface",
            "lo",
            "--port",
            "46528",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn check(line: &str) -> Value {
    let v: Value = serde_json::from_str(line).expect("JSON");
    assert!(v["t"].is_f64(), "{line}");
    let mut rest = v.clone();
    rest.as_object_mut().unwrap().remove("t");
    match v["type"].as_str().unwrap() {
        "STARTED" => {
            let _: zmesh::PeerId = serde_json::from_value(v["peer"].clone()).unwrap();
            assert!(v["name"].is_string() && v["endpoint"].is_string(), "{line}");
        }
        "SENT" => {
            let _: zmesh::PeerId = serde_json::from_value(v["to"].clone()).unwrap();
            assert!(v["id"].is_u64(), "{line}");
        }
        _ => {
            if v["type"] == "WHISPER" {
                assert!(v["id"].is_u64(), "{line}");
                rest.as_object_mut().unwrap().remove("id");
            }
            let e: zmesh::Event = serde_json::from_value(rest.clone()).expect(line);
            assert_eq!(serde_json::to_value(&e).unwrap(), rest);
        }
    }
    v
}

#[test]
fn node_lines_follow_the_documented_schema() {
    let (mut a, a_lines) = start("a");
    let (mut b, b_lines) = start("b");
    let mut seen = std::collections::BTreeSet::new();
    let end = Instant::now() + Duration::from_secs(30);
    // Each side enters the other and hears its whispers.
    while seen.len() < 4 {
        assert!(Instant::now() < end, "only {seen:?} within 30 s");
        for (who, lines) in [("a", &a_lines), ("b", &b_lines)] {
            while let Ok(l) = lines.try_recv() {
                let v = check(&l);
                if v["type"] == "ENTER" || v["type"] == "WHISPER" {
                    seen.insert(format!("{who} {}", v["type"]));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // The end of input stops each politely: STOP last, the other sees EXIT "left".
    drop(a.stdin.take());
    assert!(a.wait().unwrap().success());
    let mut last = None;
    for l in a_lines.iter() {
        last = Some(check(&l));
    }
    assert_eq!(last.unwrap()["type"], "STOP");
    let exit = loop {
        let l = b_lines
            .recv_timeout(end.saturating_duration_since(Instant::now()))
            .expect("b's EXIT for a within 30 s");
        let v = check(&l);
        if v["type"] == "EXIT" {
            break v;
        }
    };
    assert_eq!(exit["reason"], "left");
    drop(b.stdin.take());
    assert!(b.wait().unwrap().success());
}
