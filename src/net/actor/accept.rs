//! Taking connections on the node's listeners: the inbox, the gossip service and
//! the log collector's, each handed to the engine under a new link id.

use std::io;
use std::time::Instant;

use super::{Actor, ACCEPT_RETRY};

/// The node's TCP listeners.
#[derive(Clone, Copy)]
pub(super) enum Listener {
    /// The inbox (ZRE peers).
    Inbox,
    /// The gossip service.
    Gossip,
    /// The log collector.
    Log,
}

impl Actor {
    /// Accepts what waits on one of the listeners.
    pub(super) fn accept(&mut self, which: Listener) {
        loop {
            let listener = match which {
                Listener::Inbox => &self.listener,
                Listener::Gossip => match &self.gossip {
                    Some(g) => g,
                    None => return,
                },
                Listener::Log => match &self.log {
                    Some(l) => l,
                    None => return,
                },
            };
            match listener.accept() {
                Ok((stream, from)) => {
                    let now = Instant::now();
                    let link = match which {
                        Listener::Inbox => self.engine.handle_accepted(now, from),
                        Listener::Gossip => self.engine.handle_gossip_accepted(now, from),
                        Listener::Log => self.engine.handle_log_accepted(now, from),
                    };
                    self.adopt(stream, link, true);
                    self.drain_outputs();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of file handles and the like: try again shortly.
                    log::warn!("accept failed: {e}");
                    self.accept_retry = Some(Instant::now() + ACCEPT_RETRY);
                    break;
                }
            }
        }
    }
}
