//! The `_async` queries (feature `async`) under tokio's single-threaded runtime:
//! the node's answers arrive through the waker while the one executor thread keeps
//! running other tasks, and a node that stops fails its questions instead of
//! leaving them pending. Loopback only, a beacon port of its own.
#![cfg(feature = "async")]

use std::time::Duration;

use zmesh::{Error, Node};

mod ticker;

const PORT: u16 = 46529;

fn node(name: &str) -> Node {
    Node::builder(name)
        .interface("lo")
        .port(PORT)
        .header("X-ROLE", name)
        .join("office")
        .build()
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn queries_answer_without_blocking_the_executor() {
    let a = node("a");
    let mut b = node("b");
    // A task that must keep running on the same thread while the queries wait.
    let ticker = ticker::Ticker::spawn();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let b_id = b.uuid();
    loop {
        let record = a.peer_async(b_id).await.unwrap();
        if record
            .as_ref()
            .is_some_and(|r| r.ready && r.groups.contains("office"))
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "b never entered a");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(a.peers_async().await.unwrap(), vec![b_id]);
    assert_eq!(a.peers_by_group_async("office").await.unwrap(), vec![b_id]);
    assert_eq!(
        a.own_groups_async().await.unwrap(),
        vec!["office".to_string()]
    );
    assert_eq!(
        a.peer_groups_async().await.unwrap(),
        vec!["office".to_string()]
    );
    assert_eq!(a.peer_name_async(b_id).await.unwrap().as_deref(), Some("b"));
    assert_eq!(
        a.peer_header_value_async(b_id, "X-ROLE")
            .await
            .unwrap()
            .as_deref(),
        Some("b")
    );
    assert_eq!(
        a.peer_address_async(b_id).await.unwrap().as_deref(),
        b.endpoint()
    );
    assert_eq!(
        a.peer_headers_async(b_id).await.unwrap().unwrap()["X-ROLE"],
        "b"
    );
    assert_eq!(a.peer_records_async().await.unwrap().len(), 1);
    assert_eq!(a.leader_async("office").await.unwrap(), None);
    assert!(a.whisper_report_async(b_id, ["psst"]).await.unwrap());
    assert!(!a
        .whisper_report_async(zmesh::PeerId([9; 16]), ["lost"])
        .await
        .unwrap());
    assert_eq!(
        a.shout_report_async("office", ["hi"]).await.unwrap(),
        vec![b_id]
    );
    assert!(matches!(
        a.shout_report_async(&"g".repeat(300), ["x"]).await,
        Err(Error::GroupTooLong)
    ));
    let stats = a.stats_async().await.unwrap();
    assert!(stats.beacons_sent > 0);

    // Questions put before a stop fail once it lands; after it they fail at once.
    let pending = b.peers_async();
    b.stop();
    // Answered before the stop, or dropped by it: ready either way, never stuck.
    let _ = tokio::time::timeout(Duration::from_secs(30), pending)
        .await
        .expect("a question to a stopping node is answered or fails");
    assert!(matches!(b.peers_async().await, Err(Error::NotRunning)));
    assert!(matches!(
        Node::new("x").stats_async().await,
        Err(Error::NotRunning)
    ));
    // The other task ran between the answers (the first question may find b
    // entered already and need no wait, so this is asked only at the end).
    assert!(ticker.ticks() > 0);
    ticker.stop();
}
