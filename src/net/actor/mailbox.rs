//! The application's side of the actor's command queue, and the sleep flag that
//! says when a command must wake the actor.

use std::io;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use super::backlog::Backlog;
use super::Command;

/// The application's side of the command queue. Waking the actor costs a system
/// call, so a command wakes it only when the actor has said it is about to sleep;
/// a busy actor finds the command when it next looks at the queue.
pub(crate) struct Mailbox {
    commands: Sender<Command>,
    waker: Arc<mio::Waker>,
    asleep: Arc<AtomicBool>,
    /// What the node holds unsent (the actor publishes its side).
    pub(crate) backlog: Arc<Backlog>,
}

impl Mailbox {
    /// A mailbox and the actor's ends of it (the queue, the sleep flag, the backlog).
    pub(crate) fn new(waker: mio::Waker) -> (Mailbox, Receiver<Command>, Arc<AtomicBool>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let asleep = Arc::new(AtomicBool::new(false));
        let mailbox = Mailbox {
            commands: tx,
            waker: Arc::new(waker),
            asleep: asleep.clone(),
            backlog: Arc::default(),
        };
        (mailbox, rx, asleep)
    }

    /// Queues a command; false if the actor is gone.
    pub(crate) fn send(&self, cmd: Command) -> io::Result<bool> {
        if let Command::Whisper(_, content) | Command::Shout(_, content) = &cmd {
            self.backlog.add(content.content_len());
        }
        if self.commands.send(cmd).is_err() {
            return Ok(false);
        }
        // Pairs with the fence in `Actor::sleep`: either the actor sees this
        // command before it sleeps, or this sees that it sleeps and wakes it.
        fence(Ordering::SeqCst);
        if self.asleep.load(Ordering::Relaxed) && self.asleep.swap(false, Ordering::Relaxed) {
            self.waker.wake()?;
        }
        Ok(true)
    }
}
