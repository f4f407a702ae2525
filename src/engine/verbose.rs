//! Verbose mode, as Zyre's `zyre_set_verbose`: a line for every ZRE message sent
//! and received, each starting with this node's name in parentheses, so that a
//! process running many nodes can tell whose line is whose. The lines go to the
//! `log` crate at `info` under the target `zmesh::verbose`.

use std::sync::Arc;

use super::Engine;
use crate::event::PeerId;

impl Engine {
    /// Turns verbose mode on or off.
    pub fn set_verbose(&mut self, on: bool) {
        self.config.verbose = on;
        self.scratch.trace_as = self.trace_as();
    }

    /// Our name for send lines, in verbose mode.
    pub(super) fn trace_as(&self) -> Option<Arc<str>> {
        self.config
            .verbose
            .then(|| Arc::from(self.config.name.as_str()))
    }

    /// In verbose mode, the line for a message received.
    pub(super) fn trace_recv(&self, from: PeerId, what: &str, sequence: u16) {
        if self.config.verbose {
            let peer = self
                .peers
                .get(&from)
                .map_or(from.to_string(), |p| p.label());
            log::info!(
                target: "zmesh::verbose",
                "({}) recv {what} from peer={peer} sequence={sequence}",
                self.config.name
            );
        }
    }
}
