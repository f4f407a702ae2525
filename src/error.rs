//! The errors of a [`Node`](crate::Node).

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::net::iface;

/// What can go wrong on the application's side of a node.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// No interface matches the configured one.
    NoInterface(iface::NoInterface),
    /// A socket could not be opened or bound.
    Bind {
        /// What was being bound (`"beacon port"`, `"inbox"`).
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// Another I/O failure while starting (the event loop, the thread).
    Io(io::Error),
    /// `start` on a node that is running or has been stopped (make a new one).
    AlreadyStarted,
    /// A command on a node that is not running.
    NotRunning,
    /// A group name longer than 255 bytes (the ZRE `string` limit).
    GroupTooLong,
    /// An endpoint that is not `tcp://IP:PORT` (or `tcp://*:PORT` to bind).
    BadEndpoint(String),
    /// A setting out of its range (a header key over 255 bytes, a timeout of zero
    /// or over a day); the text says which and why.
    BadSetting(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoInterface(e) => write!(f, "{e}"),
            Error::Bind { what, addr, source } => {
                write!(f, "cannot bind the {what} on {addr}: {source}")
            }
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::AlreadyStarted => write!(f, "the node is already started"),
            Error::NotRunning => write!(f, "the node is not running"),
            Error::GroupTooLong => write!(f, "group names are at most 255 bytes"),
            Error::BadEndpoint(e) => write!(f, "{e:?} is not tcp://IP:PORT"),
            Error::BadSetting(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::NoInterface(e) => Some(e),
            Error::Bind { source, .. } | Error::Io(source) => Some(source),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}
