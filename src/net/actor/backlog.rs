//! How much of the application's output a node holds unsent, so that a sender can
//! wait for room instead of outrunning the network. Neither Zyre nor zmesh blocks
//! a send: a link whose output outgrows its bound drops the peer. With these
//! figures an application can pace itself on the node's own backlog rather than on
//! acknowledgements of its own making.
//!
//! The application's side only adds (the content bytes of each whisper and shout
//! it queues); the actor's side only publishes, once per turn of its loop and only
//! while something was sent or is still unsent, how much it took from the queue
//! and how much its links hold. So a message costs one uncontended atomic add on
//! each side, and an idle node nothing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

/// A counter alone on its cache line: the two threads each write their own.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Line(AtomicUsize);

/// The shared figures.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    /// Content bytes of whispers and shouts queued by the application, ever.
    queued: Line,
    /// Of those, the bytes the actor has taken from the queue, ever.
    taken: Line,
    /// Bytes the links held unsent at the end of the actor's last turn.
    unsent: AtomicUsize,
    /// Threads inside [`Backlog::wait`] and tasks in `wakers`.
    waiters: AtomicUsize,
    /// The actor is gone: nobody will make room any more.
    closed: AtomicBool,
    /// The tasks waiting for room (async), woken and forgotten on the next turn.
    wakers: Mutex<Vec<Waker>>,
    room: Condvar,
}

impl Backlog {
    /// The application queued a message with this much content.
    pub(crate) fn add(&self, bytes: usize) {
        self.queued.0.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Bytes held unsent: still queued, or in the links' output.
    pub(crate) fn bytes(&self) -> usize {
        // `taken` first: it never passes `queued`, so the difference cannot wrap.
        let taken = self.taken.0.load(Ordering::Acquire);
        let queued = self.queued.0.load(Ordering::Acquire);
        queued.saturating_sub(taken) + self.unsent.load(Ordering::Acquire)
    }

    /// The actor's turn ended: `taken` more bytes came off the queue since the last
    /// call, and the links hold `unsent`. Wakes the waiters, who look again.
    pub(crate) fn publish(&self, taken: usize, unsent: usize) {
        self.taken.0.fetch_add(taken, Ordering::Release);
        self.unsent.store(unsent, Ordering::Release);
        self.wake();
    }

    /// The actor ended: waiters return.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake();
    }

    fn wake(&self) {
        // Pairs with the fence in `wait`: either the waiter sees the new figures
        // before it sleeps, or this sees the waiter and takes the lock, which the
        // waiter holds until it sleeps.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) > 0 {
            let tasks = {
                let mut held = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
                self.room.notify_all();
                self.waiters.fetch_sub(held.len(), Ordering::Relaxed);
                std::mem::take(&mut *held)
            };
            // Woken outside the lock: a task may poll again at once.
            for t in tasks {
                t.wake();
            }
        }
    }

    /// Room for a task: Some(true) when at most `at_most` bytes are held, Some(false)
    /// when `waker` will be woken on the actor's next turn, None when it ended.
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    pub(crate) fn poll_room(&self, at_most: usize, waker: &Waker) -> Option<bool> {
        if self.bytes() <= at_most {
            return Some(true);
        }
        if self.closed.load(Ordering::SeqCst) {
            return None;
        }
        {
            let mut held = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
            if !held.iter().any(|w| w.will_wake(waker)) {
                held.push(waker.clone());
                self.waiters.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Pairs with the fence in `wake`: figures published before the task was
        // registered are seen here.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.bytes() <= at_most {
            Some(true)
        } else if self.closed.load(Ordering::SeqCst) {
            None
        } else {
            Some(false)
        }
    }

    /// Waits until at most `at_most` bytes are held; Some(true) when they are,
    /// Some(false) when `timeout` passed first, None when the actor ended.
    pub(crate) fn wait(&self, at_most: usize, timeout: Duration) -> Option<bool> {
        let deadline = Instant::now().checked_add(timeout);
        let mut held = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
        self.waiters.fetch_add(1, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::SeqCst);
        let result = loop {
            if self.bytes() <= at_most {
                break Some(true);
            }
            if self.closed.load(Ordering::SeqCst) {
                break None;
            }
            let now = Instant::now();
            let left = match deadline {
                Some(d) if d <= now => break Some(false),
                Some(d) => d - now,
                None => Duration::from_secs(3600),
            };
            held = match self.room.wait_timeout(held, left) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        };
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        drop(held);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_figure_is_what_was_queued_less_what_was_taken_plus_unsent() {
        let b = Backlog::default();
        assert_eq!(b.bytes(), 0);
        b.add(100);
        b.add(50);
        assert_eq!(b.bytes(), 150);
        b.publish(100, 130); // 100 taken, 130 now in the links (headers and all)
        assert_eq!(b.bytes(), 180);
        b.publish(50, 0);
        assert_eq!(b.bytes(), 0);
    }

    #[test]
    fn a_waiter_returns_when_room_is_made_or_its_time_is_up() {
        let b = Arc::new(Backlog::default());
        b.add(1000);
        assert_eq!(b.wait(1000, Duration::ZERO), Some(true));
        assert_eq!(b.wait(10, Duration::from_millis(20)), Some(false));
        let other = b.clone();
        let t = std::thread::spawn(move || other.wait(10, Duration::from_secs(60)));
        // The waiter may or may not be asleep yet: either way it must see this.
        std::thread::sleep(Duration::from_millis(20));
        b.publish(1000, 5);
        assert_eq!(t.join().expect("no panic"), Some(true));
    }

    /// Counts its wakes.
    struct Count(AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_task_is_woken_once_per_turn_until_room_is_made() {
        let b = Backlog::default();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        b.add(1000);
        assert_eq!(b.poll_room(1000, &waker), Some(true));
        assert_eq!(b.poll_room(10, &waker), Some(false));
        // Polled twice before a turn: registered once.
        assert_eq!(b.poll_room(10, &waker), Some(false));
        b.publish(0, 0);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        // Not registered any more: the next turn wakes nobody.
        b.publish(1000, 0);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(b.poll_room(10, &waker), Some(true));
        b.add(1000);
        assert_eq!(b.poll_room(10, &waker), Some(false));
        b.close();
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        assert_eq!(b.poll_room(10, &waker), None);
    }

    #[test]
    fn a_waiter_returns_when_the_actor_ends() {
        let b = Arc::new(Backlog::default());
        b.add(1000);
        let other = b.clone();
        let t = std::thread::spawn(move || other.wait(10, Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(20));
        b.close();
        assert_eq!(t.join().expect("no panic"), None);
    }
}
