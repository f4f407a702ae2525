//! One TCP link as the actor holds it: the socket and the output it has not yet
//! written.

use std::io::{self, Write};

use mio::net::TcpStream;

/// A link's socket and its output buffer.
pub(super) struct Conn {
    pub(super) stream: TcpStream,
    pub(super) out: Vec<u8>,
    /// Bytes of `out` already written.
    pub(super) sent: usize,
    pub(super) connected: bool,
    /// Readable data left unread: the application is behind on events, or the
    /// link used up its budget for the turn (the link is then in `Actor::unread`).
    pub(super) read_pending: bool,
}

impl Conn {
    pub(super) fn unsent(&self) -> usize {
        self.out.len() - self.sent
    }

    /// Writes as much as the socket takes. Err means the link is dead.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        while self.sent < self.out.len() {
            match self.stream.write(&self.out[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        } else if self.sent > (1 << 16) && self.sent * 2 > self.out.len() {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        Ok(())
    }
}
