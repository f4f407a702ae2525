//! Request and reply over whispers: a server answers each request with the same
//! correlation id, so a client can have many in flight and match the answers.
//!
//! ```text
//! cargo run --example request_reply            # on loopback, beacon port 5670
//! cargo run --example request_reply -- 46000   # another beacon port
//! ```
//! A message is two frames: an id the client chose, and the text. The server
//! upper-cases the text; the client sends five requests at once and waits for the
//! five replies, in whatever order they come.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver};
use zmesh::{Event, Node, PeerId};

/// The server: answers every whisper `[id, text]` with `[id, TEXT]` until `done`
/// says stop, then hands the node back.
fn serve(server: Node, done: Receiver<()>) -> std::thread::JoinHandle<Node> {
    std::thread::spawn(move || {
        let events = server.events();
        loop {
            select! {
                recv(events) -> event => match event {
                    Ok(Event::Whisper { peer, content, .. }) if content.len() == 2 => {
                        let answer = String::from_utf8_lossy(&content[1]).to_uppercase();
                        let _ = server.whisper(peer, [content[0].to_vec(), answer.into_bytes()]);
                    }
                    Ok(_) => {}
                    Err(_) => break,
                },
                recv(done) -> _ => break,
            }
        }
        server
    })
}

/// Waits for the peer called `name` to enter; its id.
fn find(node: &Node, name: &str, end: Instant) -> Option<PeerId> {
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match node.events().recv_timeout(left).ok()? {
            Event::Enter { peer, name: n, .. } if n == name => return Some(peer),
            _ => {}
        }
    }
}

/// Runs a server and a client on `port`; returns the replies by request id.
pub fn run(port: u16) -> Result<BTreeMap<u32, String>, zmesh::Error> {
    let server = Node::builder("upper").interface("lo").port(port).build()?;
    let (done, stop_serving) = crossbeam_channel::bounded(1);
    let server_thread = serve(server, stop_serving);
    let mut client = Node::builder("client").interface("lo").port(port).build()?;

    let end = Instant::now() + Duration::from_secs(30);
    let Some(upper) = find(&client, "upper", end) else {
        return Err(zmesh::Error::NotRunning);
    };
    let words = ["alpha", "bravo", "charlie", "delta", "echo"];
    for (id, word) in (1u32..).zip(words) {
        client.whisper(upper, [id.to_be_bytes().to_vec(), word.as_bytes().to_vec()])?;
    }
    let mut replies = BTreeMap::new();
    while replies.len() < words.len() {
        let left = end.saturating_duration_since(Instant::now());
        let Ok(event) = client.events().recv_timeout(left) else {
            break;
        };
        if let Event::Whisper { content, .. } = event {
            if content.len() != 2 {
                continue;
            }
            let Ok(id) = <[u8; 4]>::try_from(&content[0]) else {
                continue;
            };
            let text = String::from_utf8_lossy(&content[1]).into_owned();
            println!("reply {}: {text}", u32::from_be_bytes(id));
            replies.insert(u32::from_be_bytes(id), text);
        }
    }
    client.stop();
    let _ = done.send(());
    let mut server = match server_thread.join() {
        Ok(s) => s,
        Err(_) => return Err(zmesh::Error::NotRunning),
    };
    server.stop();
    Ok(replies)
}

fn main() -> Result<(), zmesh::Error> {
    env_logger::init();
    let port = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(zmesh::DEFAULT_PORT);
    run(port)?;
    Ok(())
}
