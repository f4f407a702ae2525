//! Pure codecs for every byte zmesh sends or receives: no state beyond a decoder's
//! buffer, no I/O, no clock.
//!
//! * [`beacon`]: the UDP discovery beacon (22-byte v1, 54-byte v3).
//! * [`zre`]: ZRE v2 messages (HELLO, WHISPER, SHOUT, JOIN, LEAVE, PING, PING-OK and
//!   Zyre's ELECT, LEADER, GOODBYE).
//! * [`zgossip`]: czmq's gossip protocol, which Zyre uses for discovery without
//!   broadcast.
//! * [`zrelog`]: ZRE-LOG, the guide's binary logging protocol (Zyre 1.x).
//! * [`zmtp`]: ZMTP 3.1 greeting, NULL-mechanism commands, frames and an incremental
//!   decoder that takes bytes split at any point.
//!
//! Every decoder is bounded and returns a typed [`WireError`] on bad input; none of
//! them panics on any byte sequence (property-tested and fuzzed).

pub mod beacon;
pub mod z85;
pub mod zgossip;
pub mod zmtp;
pub mod zre;
pub mod zrelog;

use std::fmt;

/// Why a codec refused some bytes (or, for encoders, a value that cannot be sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The input ends before a field or a fixed-size record is complete.
    Truncated,
    /// The input has the wrong overall length for a fixed-size record.
    BadLength(usize),
    /// The leading signature bytes are wrong (`ZRE` for beacons, `AA A1` for ZRE
    /// messages, `FF .. 7F` for the ZMTP greeting).
    BadSignature,
    /// A version byte this codec does not speak.
    UnsupportedVersion(u8),
    /// A ZRE message id that is not defined.
    UnknownMessage(u8),
    /// ZMTP frame flags with reserved bits set, or MORE on a command.
    BadFlags(u8),
    /// A ZMTP security mechanism other than NULL.
    UnsupportedMechanism,
    /// A ZMTP command body that does not parse (bad name length, bad property).
    BadCommand,
    /// A frame or message larger than the configured limit.
    TooLarge {
        /// The size announced by the peer (or reached so far).
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A value is too long for its field on encode (a `string` is at most 255 bytes).
    FieldTooLong,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => write!(f, "input ends inside a field"),
            WireError::BadLength(n) => write!(f, "wrong length {n}"),
            WireError::BadSignature => write!(f, "bad signature"),
            WireError::UnsupportedVersion(v) => write!(f, "unsupported version {v}"),
            WireError::UnknownMessage(id) => write!(f, "unknown message id {id}"),
            WireError::BadFlags(flags) => write!(f, "bad frame flags {flags:#04x}"),
            WireError::UnsupportedMechanism => write!(f, "security mechanism is not NULL"),
            WireError::BadCommand => write!(f, "malformed ZMTP command"),
            WireError::TooLarge { size, limit } => {
                write!(f, "size {size} exceeds the limit of {limit} bytes")
            }
            WireError::FieldTooLong => write!(f, "value too long for its field"),
        }
    }
}

impl std::error::Error for WireError {}

/// The longest ZRE `string` (one length byte): names, group names, header keys.
pub const MAX_STRING: usize = 255;

/// A value longer than a ZRE `string` can carry ([`MAX_STRING`] bytes).
///
/// ```
/// use zmesh::wire::{check_string, MAX_STRING};
/// assert!(check_string("chat").is_ok());
/// assert_eq!(check_string(&"x".repeat(MAX_STRING + 1)).unwrap_err().len, 256);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StringTooLong {
    /// The value's length in bytes.
    pub len: usize,
}

impl fmt::Display for StringTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes is longer than {MAX_STRING}", self.len)
    }
}

impl std::error::Error for StringTooLong {}

/// Checks that `s` fits a ZRE `string`.
pub fn check_string(s: &str) -> Result<(), StringTooLong> {
    if s.len() > MAX_STRING {
        Err(StringTooLong { len: s.len() })
    } else {
        Ok(())
    }
}

/// Cuts `s` to fit a ZRE `string`, at a character boundary.
///
/// ```
/// let mut s = "é".repeat(200); // 400 bytes
/// zmesh::wire::truncate_string(&mut s);
/// assert_eq!(s.len(), 254);
/// ```
pub fn truncate_string(s: &mut String) {
    if s.len() > MAX_STRING {
        let mut n = MAX_STRING;
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s.truncate(n);
    }
}

/// A bounds-checked reader over a byte slice: every `take` either returns exactly the
/// requested bytes or `Truncated`, so no decoder indexes past the end.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.buf.len() {
            return Err(WireError::Truncated);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }
}
