//! A node that runs out of file handles while a peer connects still accepts that
//! connection once handles are free again. The listener is edge-triggered, so a
//! failed accept must be retried by the node itself: otherwise the connection waits
//! in the backlog until another one arrives, and the peer never enters.
//!
//! The limited node runs in a child process (this test binary again, under
//! `ulimit -n`), so that exhausting its handles harms nothing else. Loopback only.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zmesh::{Event, Node};

const PORT: u16 = 46110;
const DEADLINE: Duration = Duration::from_secs(20);
const INNER: &str = "ZMESH_FD_LIMIT_INNER";

fn node(name: &str) -> Node {
    let mut n = Node::new(name);
    n.set_interface("lo");
    n.set_port(PORT);
    n.set_interval(Duration::from_millis(100));
    n
}

fn wait_enter(node: &Node, name: &str) -> bool {
    let end = Instant::now() + DEADLINE;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match node.events().recv_timeout(left) {
            Ok(Event::Enter { name: n, .. }) if n == name => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// The child: start a node, use up every file handle, hold them while the peer
/// connects, give them back, and expect the peer to enter.
fn inner() {
    let mut limited = node("limited");
    limited.start().expect("start");
    let mut held = Vec::new();
    while held.len() < 100_000 {
        match std::fs::File::open("/dev/null") {
            Ok(f) => held.push(f),
            Err(_) => break,
        }
    }
    println!("EXHAUSTED {}", held.len());
    // Long enough for the peer (beacons every 100 ms) to find us and connect.
    std::thread::sleep(Duration::from_secs(2));
    drop(held);
    println!("RELEASED");
    let entered = wait_enter(&limited, "outside");
    println!("{}", if entered { "ENTERED" } else { "NO ENTER" });
    // Stay in the mesh until the parent has seen us too (it closes our stdin).
    let _ = std::io::stdin().read_line(&mut String::new());
    limited.stop();
    assert!(entered, "the peer never entered after handles were freed");
}

#[test]
fn accept_recovers_after_running_out_of_file_handles() {
    if std::env::var_os(INNER).is_some() {
        inner();
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" --exact accept_recovers_after_running_out_of_file_handles --nocapture --test-threads 1")
        .arg(&exe)
        .env(INNER, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the limited node");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut exhausted = false;
    for line in lines.by_ref() {
        let line = line.expect("read");
        if line.contains("EXHAUSTED") {
            exhausted = true;
            break;
        }
    }
    assert!(exhausted, "the child did not get to exhaust its handles");
    let mut outside = node("outside");
    outside.start().expect("start");
    let mut rest = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("read");
        let done = line.contains("ENTER");
        rest.push(line);
        if done {
            break;
        }
    }
    let saw_limited = wait_enter(&outside, "limited");
    drop(child.stdin.take());
    rest.extend(lines.map_while(Result::ok));
    let status = child.wait().expect("wait");
    outside.stop();
    assert!(
        status.success() && rest.iter().any(|l| l.contains("ENTERED")),
        "the limited node did not see its peer enter: {rest:?}"
    );
    assert!(saw_limited, "the outside node did not see the limited one");
}
