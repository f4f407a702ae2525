//! Telling an application's own loop that events wait: a task's waker (for the
//! async `Stream`) and a readable file descriptor (for poll/epoll/GUI loops, the
//! role of Zyre's `zyre_socket`). While nobody waits on them they cost a fence and
//! two atomic loads per event (no measurable change in one-way throughput).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use crossbeam_channel::{SendError, Sender};

use crate::Event;

/// Who waits for the node's events besides the channel's own receivers.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    /// A task waits: wake it on the next event.
    has_waker: AtomicBool,
    waker: Mutex<Option<Waker>>,
    /// The descriptor was drained since its last byte: write one on the next event.
    armed: AtomicBool,
    pipe: Mutex<Option<UnixStream>>,
}

impl Signal {
    /// An event was queued.
    fn notify(&self) {
        // Pairs with the fence in `wait_with`: either the waiter sees the event, or
        // we see the waiter.
        fence(Ordering::SeqCst);
        if self.has_waker.load(Ordering::Relaxed) {
            self.has_waker.store(false, Ordering::Relaxed);
            // Woken outside the lock: a waker may poll the stream at once.
            let w = self.waker.lock().expect("not poisoned").take();
            if let Some(w) = w {
                w.wake();
            }
        }
        if self.armed.load(Ordering::Relaxed) && self.armed.swap(false, Ordering::AcqRel) {
            if let Some(p) = self.pipe.lock().expect("not poisoned").as_mut() {
                // Non-blocking: a full pipe is readable already.
                let _ = p.write(&[1]);
            }
        }
    }

    /// Registers `waker` for the next event; the caller then looks at the channel
    /// once more before it sleeps.
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    pub(crate) fn wait_with(&self, waker: &Waker) {
        let mut slot = self.waker.lock().expect("not poisoned");
        match slot.as_ref() {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
        drop(slot);
        self.has_waker.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Makes the descriptor's pair: we write, the application reads.
    pub(crate) fn descriptor(&self) -> std::io::Result<UnixStream> {
        let (ours, theirs) = UnixStream::pair()?;
        ours.set_nonblocking(true)?;
        theirs.set_nonblocking(true)?;
        *self.pipe.lock().expect("not poisoned") = Some(ours);
        // Readable at once: events may wait already.
        self.armed.store(true, Ordering::Release);
        self.notify();
        Ok(theirs)
    }

    /// The application read the descriptor: the next event writes again.
    pub(crate) fn rearm(&self, theirs: &mut UnixStream) {
        let mut buf = [0u8; 64];
        while matches!(theirs.read(&mut buf), Ok(n) if n > 0) {}
        self.armed.store(true, Ordering::Release);
        fence(Ordering::SeqCst);
    }
}

/// The sending side of a node's events: the channel, then the signal.
#[derive(Debug, Clone)]
pub(crate) struct EventTx {
    tx: Sender<Event>,
    signal: Arc<Signal>,
}

impl EventTx {
    pub(crate) fn new(tx: Sender<Event>, signal: Arc<Signal>) -> EventTx {
        EventTx { tx, signal }
    }

    /// Events queued and not yet received.
    pub(crate) fn len(&self) -> usize {
        self.tx.len()
    }

    pub(crate) fn send(&self, e: Event) -> Result<(), SendError<Event>> {
        self.tx.send(e)?;
        self.signal.notify();
        Ok(())
    }
}
