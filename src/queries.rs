//! What an application asks a running node: each question is a closure run on the
//! engine in the node's thread, answered once. The blocking forms wait on a
//! channel; with the `async` feature each has an `_async` twin that returns a
//! [`Reply`], a future any executor can await without blocking its thread.

use std::collections::BTreeMap;

use crate::engine::{Engine, PeerInfo, Stats};
use crate::event::PeerId;
use crate::frames::Frames;
use crate::net::actor::Command;
use crate::node::{Error, Node};
use crate::wire::check_string;

impl Node {
    pub(crate) fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.send(Command::Query(Box::new(move |e| {
            let _ = tx.send(f(e));
        })))?;
        rx.recv().map_err(|_| Error::NotRunning)
    }

    #[cfg(feature = "async")]
    fn query_async<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine) -> T + Send + 'static,
    ) -> Reply<T> {
        let (answer, reply) = reply::pair();
        match self.send(Command::Query(Box::new(move |e| answer.send(f(e))))) {
            Ok(()) => reply,
            Err(e) => Reply::failed(e),
        }
    }
}

/// Each question once, as a blocking method and (feature `async`) an `_async` twin.
/// Arguments are taken as the caller gives them and owned before they cross to the
/// node's thread.
macro_rules! questions {
    ($(
        $(#[$doc:meta])*
        fn $name:ident / $name_async:ident ($($arg:ident: $ty:ty),*) -> $out:ty = |$e:ident| $body:expr;
    )*) => {
        impl Node {
            $(
                $(#[$doc])*
                pub fn $name(&self $(, $arg: $ty)*) -> Result<$out, Error> {
                    $(let $arg = $arg.to_owned();)*
                    self.query(move |$e| $body)
                }

                #[doc = concat!("[`Node::", stringify!($name), "`] as a future that does not block the executor (feature `async`).")]
                #[cfg(feature = "async")]
                pub fn $name_async(&self $(, $arg: $ty)*) -> Reply<$out> {
                    $(let $arg = $arg.to_owned();)*
                    self.query_async(move |$e| $body)
                }
            )*
        }
    };
}

questions! {
    /// Every known peer (including ones whose HELLO has not arrived yet, as Zyre).
    fn peers / peers_async() -> Vec<PeerId> = |e| e.peers().map(|p| p.id).collect();

    /// Peers in a group.
    fn peers_by_group / peers_by_group_async(group: &str) -> Vec<PeerId> =
        |e| e.peers_by_group(&group);

    /// The groups we are in.
    fn own_groups / own_groups_async() -> Vec<String> =
        |e| e.own_groups().map(String::from).collect();

    /// The groups our peers are in.
    fn peer_groups / peer_groups_async() -> Vec<String> =
        |e| e.peer_groups().map(String::from).collect();

    /// A peer's endpoint, if known.
    fn peer_address / peer_address_async(peer: PeerId) -> Option<String> =
        |e| e.peer(peer).map(|p| p.endpoint);

    /// A peer's name, if known.
    fn peer_name / peer_name_async(peer: PeerId) -> Option<String> =
        |e| e.peer(peer).map(|p| p.name);

    /// A peer's header value, if the peer and the header are known.
    fn peer_header_value / peer_header_value_async(peer: PeerId, key: &str) -> Option<String> =
        |e| e.peer(peer).and_then(|p| p.headers.get(&key).cloned());

    /// All of a peer's headers.
    fn peer_headers / peer_headers_async(peer: PeerId) -> Option<BTreeMap<String, String>> =
        |e| e.peer(peer).map(|p| p.headers);

    /// A peer's whole record in one call: name, endpoint, headers, groups, and
    /// whether it has entered; `None` for a peer we do not know.
    fn peer / peer_async(peer: PeerId) -> Option<PeerInfo> = |e| e.peer(peer);

    /// Every known peer's record, in id order.
    fn peer_records / peer_records_async() -> Vec<PeerInfo> = |e| e.peers().collect();

    /// The engine's counters: dropped input, protocol trouble, beacons.
    fn stats / stats_async() -> Stats = |e| e.stats().clone();

    /// The leader of `group` after its last election, if one finished (our own id
    /// if we lead it).
    fn leader / leader_async(group: &str) -> Option<PeerId> = |e| e.leader(&group);
}

/// The engine side of the report forms: send, and say what happened.
fn whisper_reported(peer: PeerId, frames: Frames) -> impl FnOnce(&mut Engine) -> bool {
    move |e| e.whisper(peer, &frames)
}

fn shout_reported(group: String, frames: Frames) -> impl FnOnce(&mut Engine) -> Vec<PeerId> {
    move |e| {
        let to = e.peers_by_group(&group);
        // The group's length was checked by the caller.
        let _ = e.shout(&group, &frames);
        to
    }
}

impl Node {
    /// Like [`Node::whisper`], but waits for the node to take the message and says
    /// whether it went out: false if the peer is unknown (then it was dropped, as in
    /// Zyre). For tools that account for every message.
    pub fn whisper_report(&self, peer: PeerId, frames: impl Into<Frames>) -> Result<bool, Error> {
        self.query(whisper_reported(peer, frames.into()))
    }

    /// Like [`Node::shout`], but waits for the node to take the message and returns
    /// the peers it went to (those known to be in the group at that moment).
    pub fn shout_report(
        &self,
        group: &str,
        frames: impl Into<Frames>,
    ) -> Result<Vec<PeerId>, Error> {
        check_string(group).map_err(|_| Error::GroupTooLong)?;
        self.query(shout_reported(group.into(), frames.into()))
    }

    /// [`Node::whisper_report`] as a future (feature `async`).
    #[cfg(feature = "async")]
    pub fn whisper_report_async(&self, peer: PeerId, frames: impl Into<Frames>) -> Reply<bool> {
        self.query_async(whisper_reported(peer, frames.into()))
    }

    /// [`Node::shout_report`] as a future (feature `async`).
    #[cfg(feature = "async")]
    pub fn shout_report_async(&self, group: &str, frames: impl Into<Frames>) -> Reply<Vec<PeerId>> {
        if check_string(group).is_err() {
            return Reply::failed(Error::GroupTooLong);
        }
        self.query_async(shout_reported(group.into(), frames.into()))
    }
}

#[cfg(feature = "async")]
pub use reply::Reply;

#[cfg(feature = "async")]
mod reply {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};

    use crate::node::Error;

    #[derive(Default)]
    struct Slot<T> {
        value: Option<T>,
        waker: Option<Waker>,
        /// The node's thread dropped the question unanswered (it stopped).
        dropped: bool,
    }

    /// The answer to one question put to a running node (the `_async` methods of
    /// [`Node`](crate::Node)): a future that is ready when the node's thread has
    /// answered, or with [`Error::NotRunning`] when the node stopped first. It holds
    /// no borrow of the node and is `Send`, so it can be awaited on any executor.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    /// #         std::thread::yield_now();
    /// #     }
    /// # }
    /// let mut node = zmesh::Node::builder("a").interface("lo").port(46591).build()?;
    /// let peers = block_on(node.peers_async())?;
    /// assert!(peers.is_empty());
    /// node.stop();
    /// assert!(block_on(node.peers_async()).is_err());
    /// # Ok::<(), zmesh::Error>(())
    /// ```
    #[must_use = "a reply does nothing unless awaited"]
    pub struct Reply<T> {
        slot: Option<Arc<Mutex<Slot<T>>>>,
        error: Option<Error>,
    }

    /// The node thread's end: answers once, or marks the question dropped.
    pub(super) struct Answer<T> {
        slot: Arc<Mutex<Slot<T>>>,
    }

    pub(super) fn pair<T>() -> (Answer<T>, Reply<T>) {
        let slot = Arc::new(Mutex::new(Slot {
            value: None,
            waker: None,
            dropped: false,
        }));
        (
            Answer { slot: slot.clone() },
            Reply {
                slot: Some(slot),
                error: None,
            },
        )
    }

    impl<T> Answer<T> {
        pub(super) fn send(self, value: T) {
            let waker = {
                let mut s = self.slot.lock().unwrap_or_else(|p| p.into_inner());
                s.value = Some(value);
                s.waker.take()
            };
            // Woken outside the lock: the waker may run the task at once.
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    impl<T> Drop for Answer<T> {
        fn drop(&mut self) {
            let waker = {
                let mut s = self.slot.lock().unwrap_or_else(|p| p.into_inner());
                s.dropped = true;
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    impl<T> Reply<T> {
        pub(super) fn failed(e: Error) -> Reply<T> {
            Reply {
                slot: None,
                error: Some(e),
            }
        }
    }

    impl<T> Unpin for Reply<T> {}

    impl<T> Future for Reply<T> {
        type Output = Result<T, Error>;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let Some(slot) = &self.slot else {
                return Poll::Ready(Err(self.error.take().unwrap_or(Error::NotRunning)));
            };
            let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(v) = s.value.take() {
                return Poll::Ready(Ok(v));
            }
            if s.dropped {
                return Poll::Ready(Err(Error::NotRunning));
            }
            if !s.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                s.waker = Some(cx.waker().clone());
            }
            Poll::Pending
        }
    }
}
