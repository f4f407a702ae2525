//! Waiting for a node's events from the application's own loop: [`EventFd`], a
//! file descriptor that is readable while events may wait (the role of Zyre's
//! `zyre_socket`), and with the `async` feature [`EventStream`], a
//! runtime-agnostic `Stream` of events.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

#[cfg(feature = "async")]
use crossbeam_channel::Receiver;

use crate::net::signal::Signal;
#[cfg(feature = "async")]
use crate::Event;
use crate::Node;

/// A descriptor that becomes readable when the node queues an event: register it
/// with `poll`, `epoll`, a GUI toolkit or an event loop, and when it is readable
/// call [`EventFd::clear`], then take every waiting event with `try_recv` from
/// [`Node::events`]. An event that comes after `clear` makes it readable again,
/// so none is missed.
///
/// ```
/// use std::os::fd::AsRawFd;
/// let node = zmesh::Node::new("a");
/// let mut fd = node.event_fd()?;
/// assert!(fd.as_raw_fd() >= 0);
/// fd.clear();
/// for _event in node.events().try_iter() {}
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct EventFd {
    stream: UnixStream,
    signal: Arc<Signal>,
}

impl EventFd {
    /// Empties the descriptor; the next event makes it readable again. Take the
    /// waiting events after this call, not before.
    pub fn clear(&mut self) {
        self.signal.rearm(&mut self.stream);
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

impl Node {
    /// A descriptor that is readable while events may wait (see [`EventFd`]). One
    /// per node: a second replaces the first.
    pub fn event_fd(&self) -> io::Result<EventFd> {
        Ok(EventFd {
            stream: self.signal.descriptor()?,
            signal: self.signal.clone(),
        })
    }

    /// The node's events as a `Stream` (feature `async`), for any executor; it
    /// ends after [`Event::Stop`]. One task at a time should poll a node's
    /// streams: the node wakes the last one that waited.
    ///
    /// ```
    /// # #[cfg(feature = "async")] {
    /// let node = zmesh::Node::new("a");
    /// let _stream = node.event_stream(); // a futures_core::Stream<Item = zmesh::Event>
    /// # }
    /// ```
    #[cfg(feature = "async")]
    pub fn event_stream(&self) -> EventStream {
        EventStream {
            rx: self.events(),
            signal: self.signal.clone(),
            done: false,
        }
    }
}

/// A node's events as a [`futures_core::Stream`] (feature `async`); see
/// [`Node::event_stream`]. Sync code keeps [`Node::events`].
#[cfg(feature = "async")]
#[derive(Debug)]
pub struct EventStream {
    rx: Receiver<Event>,
    signal: Arc<Signal>,
    done: bool,
}

#[cfg(feature = "async")]
impl futures_core::Stream for EventStream {
    type Item = Event;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Event>> {
        use std::task::Poll;
        if self.done {
            return Poll::Ready(None);
        }
        let take = |s: &mut EventStream| match s.rx.try_recv() {
            Ok(e) => {
                s.done = matches!(e, Event::Stop { .. });
                Some(e)
            }
            Err(_) => None,
        };
        if let Some(e) = take(&mut self) {
            return Poll::Ready(Some(e));
        }
        self.signal.wait_with(cx.waker());
        // An event that came before the waker was in place.
        match take(&mut self) {
            Some(e) => Poll::Ready(Some(e)),
            None => Poll::Pending,
        }
    }
}
