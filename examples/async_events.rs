//! A node's events and queries in async code (feature `async`), here under tokio:
//! the stream and the replies are runtime-agnostic, so any executor does.
//!
//! ```text
//! cargo run --example async_events --features async -- --interface lo
//! ```
//! Prints the events of a node on the given interface (default: Zyre's choice) for
//! ten seconds, then stops it politely.

use std::future::poll_fn;
use std::time::Duration;

use futures_core::Stream;
use zmesh::{Event, Node};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), zmesh::Error> {
    env_logger::init();
    let args: Vec<String> = std::env::args().collect();
    let mut builder = Node::builder("async").join("chat");
    if let Some(i) = args.iter().position(|a| a == "--interface") {
        builder = builder.interface(args.get(i + 1).map(String::as_str).unwrap_or("lo"));
    }
    let mut node = builder.build()?;
    let mut events = node.event_stream();
    let deadline = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            e = poll_fn(|cx| std::pin::Pin::new(&mut events).poll_next(cx)) => match e {
                Some(Event::Enter { name, peer, .. }) => {
                    // Queries have async forms too: they do not block the executor.
                    let groups = node.peer_async(peer).await?.map(|p| p.groups).unwrap_or_default();
                    println!("{name} entered, in groups {groups:?}");
                    node.whispers(peer, "hello from async")?;
                }
                Some(e) => println!("{} from {}", e.kind(), e.name()),
                None => break,
            },
            _ = &mut deadline => break,
        }
    }
    node.stop();
    Ok(())
}
