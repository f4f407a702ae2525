//! The chat example in `--json` mode, driven through stdin, on loopback.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use serde_json::Value;

/// `cargo test` builds the examples next to the test binaries' folder.
fn chat_exe() -> PathBuf {
    let mut p = std::env::current_exe().unwrap();
    p.pop();
    if p.ends_with("deps") {
        p.pop();
    }
    p.join("examples").join("chat")
}

struct Chat {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    seen: Vec<Value>,
}

impl Chat {
    fn start(args: &[&str]) -> Chat {
        let mut child = Command::new(chat_exe())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("chat example built by cargo test");
        let stdin = child.stdin.take();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).expect("every line is JSON");
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Chat {
            child,
            stdin,
            lines: rx,
            seen: Vec::new(),
        }
    }

    fn say(&mut self, line: &str) {
        let s = self.stdin.as_mut().unwrap();
        writeln!(s, "{line}").unwrap();
        s.flush().unwrap();
    }

    fn wait(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.seen.iter().position(&pred) {
            return self.seen.remove(i);
        }
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            match self
                .lines
                .recv_timeout(end.saturating_duration_since(Instant::now()))
            {
                Ok(v) if pred(&v) => return v,
                Ok(v) => self.seen.push(v),
                Err(_) => panic!("chat never printed it; printed {:#?}", self.seen),
            }
        }
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_chat_shells_talk_in_json() {
    let port = "46401";
    let mut a = Chat::start(&[
        "--name",
        "alice",
        "--interface",
        "lo",
        "--port",
        port,
        "--group",
        "room",
        "--json",
        "--header",
        "X-K=v",
    ]);
    let a_id = a.wait(|v| v["type"] == "STARTED")["peer"]
        .as_str()
        .unwrap()
        .to_string();
    let mut b = Chat::start(&[
        "--name",
        "bob",
        "--interface",
        "lo",
        "--port",
        port,
        "--json",
    ]);
    let enter = b.wait(|v| v["type"] == "ENTER");
    assert_eq!(enter["name"], "alice");
    assert_eq!(enter["peer"], a_id.as_str());
    assert_eq!(enter["headers"]["X-K"], "v");
    assert!(enter["endpoint"]
        .as_str()
        .unwrap()
        .starts_with("tcp://127.0.0.1:"));
    b.wait(|v| v["type"] == "JOIN" && v["group"] == "room");
    a.wait(|v| v["type"] == "ENTER" && v["name"] == "bob");

    b.say("/join room");
    a.wait(|v| v["type"] == "JOIN" && v["name"] == "bob");
    a.say("hello room");
    let s = b.wait(|v| v["type"] == "SHOUT");
    assert_eq!(s["group"], "room");
    assert_eq!(s["payload"], serde_json::json!(["hello room"]));
    b.say("/whisper alice psst");
    let w = a.wait(|v| v["type"] == "WHISPER");
    assert_eq!(w["name"], "bob");
    assert_eq!(w["payload"], serde_json::json!(["psst"]));

    // End of input stops politely: alice sees bob's EXIT, bob prints STOP and exits 0.
    drop(b.stdin.take());
    b.wait(|v| v["type"] == "STOP");
    assert!(b.child.wait().unwrap().success());
    a.wait(|v| v["type"] == "EXIT" && v["name"] == "bob");
    a.say("/quit");
    a.wait(|v| v["type"] == "STOP");
    assert!(a.child.wait().unwrap().success());
}
