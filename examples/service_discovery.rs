//! Service discovery with headers: services announce what they offer in their
//! HELLO headers, and a client finds them by header, with no registry.
//!
//! ```text
//! cargo run --example service_discovery            # on loopback, beacon port 5670
//! cargo run --example service_discovery -- 46000   # another beacon port
//! ```
//! Starts two printers and a scanner on loopback, and a client that waits until it
//! has found both printers by their `X-SERVICE` header, then prints where each one
//! takes jobs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use zmesh::{Event, Node};

/// Starts the services and the client on `port`; returns what the client found:
/// printer name to its `X-QUEUE` endpoint.
pub fn run(port: u16) -> Result<BTreeMap<String, String>, zmesh::Error> {
    let service = |name: &str, kind: &str, queue: &str| {
        Node::builder(name)
            .interface("lo")
            .port(port)
            .header("X-SERVICE", kind)
            .header("X-QUEUE", queue)
            .build()
    };
    let mut services = vec![
        service("laser", "printer", "tcp://127.0.0.1:9100")?,
        service("inkjet", "printer", "tcp://127.0.0.1:9101")?,
        service("flatbed", "scanner", "tcp://127.0.0.1:9200")?,
    ];
    let mut client = Node::builder("client").interface("lo").port(port).build()?;

    // Every ENTER carries the peer's headers: filter on them as peers arrive.
    let mut printers = BTreeMap::new();
    let end = Instant::now() + Duration::from_secs(30);
    while printers.len() < 2 {
        let left = end.saturating_duration_since(Instant::now());
        let Ok(event) = client.events().recv_timeout(left) else {
            break;
        };
        if let Event::Enter { name, .. } = &event {
            if event.header("X-SERVICE") == Some("printer") {
                let queue = event.header("X-QUEUE").unwrap_or_default();
                println!("found printer {name}, jobs to {queue}");
                printers.insert(name.to_string(), queue.to_string());
            }
        }
    }
    // The same question later, in one call: every known peer's record.
    for peer in client.peer_records()? {
        if peer.headers.get("X-SERVICE").map(String::as_str) == Some("scanner") {
            println!("also here: scanner {}", peer.name);
        }
    }
    client.stop();
    for s in &mut services {
        s.stop();
    }
    Ok(printers)
}

fn main() -> Result<(), zmesh::Error> {
    env_logger::init();
    let port = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(zmesh::DEFAULT_PORT);
    let found = run(port)?;
    println!("{} printers", found.len());
    Ok(())
}
