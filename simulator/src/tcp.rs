//! TCP in the fabric: a connection is two ordered byte pipes. Writes arrive after
//! the link's latency and TCP delay, never before earlier writes, a quarter of them
//! cut at random points; bytes are never lost: they are held while the path is
//! down and released in order on heal, and an outage longer than the TCP user
//! timeout resets the connection.

use std::time::{Duration, Instant};

use zmesh::engine::{CloseReason, LinkId};

use crate::net::{Ev, Net, NodeState, CONNECT_TIMEOUT, TCP_USER_TIMEOUT};

#[derive(Debug)]
pub(crate) enum Held {
    Data(Vec<u8>),
    Fin,
}

/// One end of a connection: 16 bytes (two million of them at 1,000 nodes).
#[derive(Debug)]
pub(crate) struct End {
    /// The node's link id, once it has one (`linked`): an engine numbers its
    /// links from 1, and a run opens far fewer than 2³² per node.
    link_id: u32,
    node: u32,
    inc: u32,
    linked: bool,
    open: bool,
}

impl End {
    fn new(node: usize, inc: u32, link: Option<LinkId>) -> End {
        End {
            link_id: link.map_or(0, |l| {
                u32::try_from(l.0).expect("fewer than 2^32 links per node")
            }),
            node: node as u32,
            inc,
            linked: link.is_some(),
            open: true,
        }
    }

    fn node(&self) -> usize {
        self.node as usize
    }

    fn link(&self) -> Option<LinkId> {
        self.linked.then_some(LinkId(self.link_id.into()))
    }
}

#[derive(Debug)]
pub(crate) struct Down {
    since: Instant,
    held: [Vec<Held>; 2],
}

/// One TCP connection: end 0 connected, end 1 accepted. `pipe[k]` carries bytes
/// towards end `k`.
#[derive(Debug)]
pub(crate) struct Conn {
    ends: [End; 2],
    /// When the last write on each pipe arrives (ns since the epoch): later
    /// writes never overtake it.
    last: [u64; 2],
    /// While the path is down: since when, and what each pipe holds. Boxed, as
    /// a 1,000-node mesh has a million connections and few are ever down.
    down: Option<Box<Down>>,
    /// To the far node's gossip listener rather than its inbox.
    gossip: bool,
}

impl<W> Net<W> {
    /// `t` in nanoseconds since the epoch.
    fn ns(&self, t: Instant) -> u64 {
        (t - self.epoch).as_nanos() as u64
    }

    fn map(&mut self, node: usize, link: LinkId, conn: usize, end: usize) {
        let v = &mut self.conn_of[node];
        let k = link.0 as usize;
        if v.len() <= k {
            v.resize(k + 1, 0);
        }
        let conn = u32::try_from(conn)
            .ok()
            .filter(|&c| c < u32::MAX / 2)
            .expect("fewer than 2^31 - 1 connections");
        v[k] = (conn << 1 | end as u32) + 1;
    }

    pub(crate) fn mapped(&self, node: usize, link: LinkId) -> Option<(usize, usize)> {
        match self.conn_of[node]
            .get(link.0 as usize)
            .copied()
            .unwrap_or(0)
        {
            0 => None,
            x => Some((((x - 1) >> 1) as usize, ((x - 1) & 1) as usize)),
        }
    }

    /// Forgets a link of `node`'s incarnation `inc` (a stale incarnation's links
    /// were forgotten when it went down).
    fn unmap(&mut self, node: usize, inc: u32, link: LinkId) {
        if self.nodes[node].inc == inc {
            if let Some(slot) = self.conn_of[node].get_mut(link.0 as usize) {
                *slot = 0;
            }
        }
    }

    fn live(&self, node: usize, inc: u32) -> bool {
        self.nodes[node].inc == inc && self.nodes[node].state == NodeState::Up
    }

    /// A crashed host's ends are gone with it; the far ends notice only through
    /// silence or a reset.
    pub(crate) fn drop_ends_of(&mut self, i: usize) {
        for c in 0..self.conns.len() {
            let Some(conn) = self.conns[c].as_mut() else {
                continue;
            };
            for end in 0..2 {
                if conn.ends[end].node() == i && conn.ends[end].open {
                    conn.ends[end].open = false;
                    if let Some(l) = conn.ends[end].link() {
                        if let Some(slot) = self.conn_of[i].get_mut(l.0 as usize) {
                            *slot = 0;
                        }
                    }
                }
            }
        }
    }

    /// Node `i` connects its link to node `j`'s inbox, or its gossip listener.
    pub(crate) fn connect(&mut self, i: usize, j: usize, link: LinkId, gossip: bool) {
        let now = self.now;
        let inc = self.nodes[i].inc;
        let (p, st) = self.link(i, j);
        let lat = p.latency(st);
        let refused = |node: usize| Ev::Refused {
            node: node as u32,
            inc,
            link,
        };
        match self.nodes[j].state {
            NodeState::Up if self.tcp_path(i, j) => {
                let c = Conn {
                    ends: [End::new(i, inc, Some(link)), End::new(j, 0, None)],
                    last: [self.ns(now + lat * 2), self.ns(now + lat)],
                    down: None,
                    gossip,
                };
                let id = match self.free_conns.pop() {
                    Some(id) => {
                        self.conns[id] = Some(c);
                        id
                    }
                    None => {
                        self.conns.push(Some(c));
                        self.conns.len() - 1
                    }
                };
                self.map(i, link, id, 0);
                self.push(now + lat, Ev::Accept(id));
                self.push(now + lat * 2, Ev::Connected(id));
            }
            // Host up, nothing listening: RST after a round trip.
            NodeState::Stopped | NodeState::NotStarted if self.tcp_path(i, j) => {
                self.push(now + lat * 2, refused(i));
            }
            // Host gone or cut off: SYNs go unanswered.
            _ => self.push(now + CONNECT_TIMEOUT, refused(i)),
        }
    }

    pub(crate) fn accept(&mut self, c: usize) {
        let Some(conn) = self.conns[c].as_ref() else {
            return;
        };
        let j = conn.ends[1].node();
        let (ci, cinc) = (conn.ends[0].node(), conn.ends[0].inc);
        let client_addr = self.nodes[ci].addr;
        if self.nodes[j].state != NodeState::Up || !self.tcp_path(ci, j) {
            // The server went away while the SYN was in flight.
            let link = conn.ends[0].link().expect("client link");
            self.conns[c] = None;
            self.free_conns.push(c);
            let at = self.now + CONNECT_TIMEOUT;
            self.push(
                at,
                Ev::Refused {
                    node: ci as u32,
                    inc: cinc,
                    link,
                },
            );
            return;
        }
        let now = self.now;
        let inc = self.nodes[j].inc;
        let gossip = conn.gossip;
        let engine = self.nodes[j]
            .engine
            .as_mut()
            .expect("up node has an engine");
        let link = if gossip {
            engine.handle_gossip_accepted(now, client_addr)
        } else {
            engine.handle_accepted(now, client_addr)
        };
        let conn = self.conns[c].as_mut().expect("present");
        conn.ends[1] = End::new(j, inc, Some(link));
        self.map(j, link, c, 1);
        self.drain(j);
    }

    pub(crate) fn connected(&mut self, c: usize) {
        let Some(conn) = self.conns[c].as_ref() else {
            return;
        };
        let e = &conn.ends[0];
        let (i, inc, link, open) = (e.node(), e.inc, e.link(), e.open);
        if open && self.live(i, inc) {
            let now = self.now;
            if let (Some(en), Some(l)) = (self.nodes[i].engine.as_mut(), link) {
                en.handle_connected(now, l);
            }
            self.drain(i);
        }
    }

    pub(crate) fn refused(&mut self, node: usize, inc: u32, link: LinkId) {
        self.unmap(node, inc, link);
        if self.live(node, inc) {
            let now = self.now;
            if let Some(e) = self.nodes[node].engine.as_mut() {
                e.handle_closed(now, link, CloseReason::Network);
            }
            self.drain(node);
        }
    }

    pub(crate) fn data(&mut self, conn: usize, to_end: usize, bytes: &[u8]) {
        let Some(c) = self.conns[conn].as_ref() else {
            return;
        };
        let e = &c.ends[to_end];
        let (i, inc, link, open) = (e.node(), e.inc, e.link(), e.open);
        if open && self.live(i, inc) {
            let now = self.now;
            if let (Some(en), Some(l)) = (self.nodes[i].engine.as_mut(), link) {
                en.handle_bytes(now, l, bytes);
            }
            self.drain(i);
        }
    }

    /// True if the outage that began at `since` (ns since the epoch) still holds.
    pub(crate) fn reset_due(&self, conn: usize, since: u64) -> bool {
        let epoch = self.epoch;
        self.conns[conn].as_ref().is_some_and(|c| {
            c.down
                .as_ref()
                .is_some_and(|d| (d.since - epoch).as_nanos() as u64 == since)
        })
    }

    /// Closes one end of a connection as the network sees it: the node there
    /// learns it (if `tell`) and the connection is forgotten once both are closed.
    pub(crate) fn close_end(&mut self, conn: usize, end: usize, tell: bool) {
        let Some(c) = self.conns[conn].as_mut() else {
            return;
        };
        let e = &mut c.ends[end];
        if !e.open {
            return;
        }
        e.open = false;
        let (i, inc, link) = (e.node(), e.inc, e.link());
        let both_closed = !c.ends[0].open && !c.ends[1].open;
        if both_closed {
            self.conns[conn] = None;
            self.free_conns.push(conn);
        }
        let Some(link) = link else { return };
        self.unmap(i, inc, link);
        if tell && self.live(i, inc) {
            let now = self.now;
            if let Some(e) = self.nodes[i].engine.as_mut() {
                e.handle_closed(now, link, CloseReason::Network);
            }
            self.drain(i);
        }
    }

    /// Puts bytes (or a FIN) on the pipe towards end `to`: in order, after what is
    /// already in flight, split at random points; held while the path is down.
    pub(crate) fn send(&mut self, c: usize, to: usize, item: Held) {
        let now = self.now;
        let Some(conn) = self.conns[c].as_ref() else {
            return;
        };
        if !conn.ends[to].open {
            return;
        }
        let (a, b) = (conn.ends[1 - to].node(), conn.ends[to].node());
        if !self.tcp_path(a, b) {
            let conn = self.conns[c].as_mut().expect("present");
            let first = conn.down.is_none();
            let down = conn.down.get_or_insert_with(|| {
                Box::new(Down {
                    since: now,
                    held: [Vec::new(), Vec::new()],
                })
            });
            down.held[to].push(item);
            if first {
                self.push(
                    now + TCP_USER_TIMEOUT,
                    Ev::ResetCheck {
                        conn: c as u32,
                        since: (now - self.epoch).as_nanos() as u64,
                    },
                );
            }
            return;
        }
        let (p, st) = self.link(a, b);
        let delay = p.latency(st) + p.tcp_extra(st);
        let cut1 = st.rng.next_u64();
        let cut2 = st.rng.next_u64();
        let earliest = self.ns(now + delay);
        let conn = self.conns[c].as_mut().expect("present");
        let at_ns = conn.last[to].max(earliest);
        conn.last[to] = at_ns;
        let at = self.epoch + Duration::from_nanos(at_ns);
        let (conn, to_end) = (c as u32, to as u8);
        let bytes = match item {
            Held::Fin => return self.push(at, Ev::Fin { conn, to_end }),
            Held::Data(bytes) => bytes,
        };
        // Three writes in four arrive whole; the others in two or three reads cut
        // where the stream says, so decoders see partial frames.
        let len = bytes.len();
        let mut points = [len, len];
        if cut1 & 3 == 3 {
            points[0] = (cut1 >> 2) as usize % (len + 1);
            if cut1 & 4 == 4 {
                points[1] = cut2 as usize % (len + 1);
            }
        }
        points.sort_unstable();
        if points[0] == len {
            let bytes = bytes.into_boxed_slice();
            return self.push(
                at,
                Ev::Data {
                    conn,
                    to_end,
                    bytes,
                },
            );
        }
        let mut start = 0;
        for p in points.into_iter().chain(std::iter::once(len)) {
            if p > start {
                let part = bytes[start..p].into();
                self.push(
                    at,
                    Ev::Data {
                        conn,
                        to_end,
                        bytes: part,
                    },
                );
                start = p;
            }
        }
    }

    /// After a heal, every held pipe between reachable ends flows again.
    pub(crate) fn release_held(&mut self) {
        for c in 0..self.conns.len() {
            let Some(conn) = self.conns[c].as_ref() else {
                continue;
            };
            if conn.down.is_none() {
                continue;
            }
            let (a, b) = (conn.ends[0].node(), conn.ends[1].node());
            if !self.tcp_path(a, b) {
                continue;
            }
            let conn = self.conns[c].as_mut().expect("present");
            let held = conn.down.take().expect("down").held;
            for (to, items) in held.into_iter().enumerate() {
                for it in items {
                    self.send(c, to, it);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1,000-node mesh holds a million connections: each byte here is a megabyte.
    #[test]
    fn connections_stay_small() {
        assert_eq!(std::mem::size_of::<End>(), 16);
        assert_eq!(std::mem::size_of::<Option<Conn>>(), 64);
    }
}
