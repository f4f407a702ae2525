//! Helpers shared by the interop tests: finding the Python environment with pyzmq
//! and Pyre (made by `.ci/run`), and driving a Python helper over JSON lines.
#![allow(dead_code)]

pub mod talk;
pub mod zmtp;
pub mod zyre;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use serde_json::Value;

/// The Python interpreter with pyzmq and Pyre: `ZMESH_PYTHON`, else `.venv/bin/python`
/// in the workspace. With `ZMESH_REQUIRE_INTEROP=1` (set by `scripts/test`) a missing one fails
/// the test; elsewhere the test says it is skipped.
pub fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("ZMESH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    let ok = Command::new(&candidate)
        .args(["-c", "import zmq, pyre"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(candidate);
    }
    zmesh_toolkit::skip::skip(&format!(
        "interop tests need Python with pyzmq and zeromq-pyre at {} (run scripts/test, or set ZMESH_PYTHON)",
        candidate.display()
    ));
    None
}

/// A Python helper process speaking JSON lines.
pub struct Helper {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Value>,
    /// Lines read but not yet matched.
    pub seen: Vec<Value>,
}

impl Helper {
    pub fn spawn(python: &PathBuf, script: &str, args: &[String]) -> Helper {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/interop")
            .join(script);
        let mut child = Command::new(python)
            .arg("-u")
            .arg(path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python helper");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("helper: {line}"),
                }
            }
        });
        Helper {
            child,
            stdin,
            lines: rx,
            seen: Vec::new(),
        }
    }

    pub fn send(&mut self, v: Value) {
        writeln!(self.stdin, "{v}").expect("write to helper");
        self.stdin.flush().unwrap();
    }

    /// Moves every line already printed into `seen`, without waiting.
    pub fn poll_lines(&mut self) {
        while let Ok(v) = self.lines.try_recv() {
            assert_ne!(v["type"], "FATAL", "helper failed: {v}");
            self.seen.push(v);
        }
    }

    /// Waits (generously) for the first line matching `pred`.
    pub fn wait(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.seen.iter().position(&pred) {
            return self.seen.remove(i);
        }
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    assert_ne!(v["type"], "FATAL", "helper failed: {v}");
                    if pred(&v) {
                        return v;
                    }
                    self.seen.push(v);
                }
                Err(_) => panic!("helper never said {what}; it said {:#?}", self.seen),
            }
        }
    }
}

impl Helper {
    /// Kills the helper at once (a crash: no goodbye on the wire).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A ZRE-LOG collector on loopback with a log port of its own choosing.
pub fn collector(name: &str, port: u16) -> zmesh::Node {
    zmesh::Node::builder(name)
        .interface("lo")
        .port(port)
        .log_collector("tcp://127.0.0.1:0")
        .build()
        .unwrap()
}

/// The collector's log endpoint as a peer learns it: from its `X-ZRELOG` header
/// (a loopback node on the collector's beacon port; 30 s at most).
pub fn log_endpoint(collector: &zmesh::Node, port: u16) -> String {
    let watcher = zmesh::Node::builder("watcher")
        .interface("lo")
        .port(port)
        .build()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = watcher
            .peer_header_value(collector.uuid(), "X-ZRELOG")
            .unwrap()
        {
            return v;
        }
        assert!(Instant::now() < end, "no X-ZRELOG header");
        std::thread::sleep(Duration::from_millis(20));
    }
}
