//! ZMTP 3.1 with the NULL security mechanism: the greeting, the READY / ERROR /
//! PING / PONG commands, frames, and an incremental [`Decoder`].
//!
//! ```text
//! greeting (64 bytes): FF pad(8) 7F major minor mechanism(20) as-server filler(31)
//! frame: flags(1) size(1)  | flags(1) size(8, big-endian) when LONG, then the body
//!        flags: 0x01 MORE, 0x02 LONG, 0x04 COMMAND, bits 7..3 must be zero
//! command body: name-len(1) name data
//! READY data: *( name-len(1) name value-len(4) value )
//! ```
//!
//! The decoder accepts bytes split at any point, never validates the greeting's
//! padding (libzmq puts the identity length there), accepts any version from 3.0 up,
//! and enforces a message size limit so that a hostile length field cannot make it
//! allocate without bound.
//!
//! ```
//! use zmesh::wire::zmtp::{self, Decoder, Greeting, Item};
//! let mut bytes = Greeting::null().encode().to_vec();
//! zmtp::encode_message_into(&mut bytes, &[&b"hello"[..], &b"world"[..]]);
//! let mut dec = Decoder::new(1 << 20);
//! for b in &bytes {
//!     dec.feed(std::slice::from_ref(b)); // one byte at a time
//! }
//! assert!(matches!(dec.next_item(), Ok(Some(Item::Greeting(_)))));
//! assert_eq!(dec.next_item(), Ok(Some(Item::Message(["hello", "world"].into()))));
//! assert_eq!(dec.next_item(), Ok(None));
//! ```

use bytes::{Buf, BytesMut};

use super::{Reader, WireError};
use crate::frames::Frames;

/// Length of the ZMTP 3.x greeting.
pub const GREETING_LEN: usize = 64;
/// Frame flag: more frames follow in this message.
pub const FLAG_MORE: u8 = 0x01;
/// Frame flag: the size field is 8 bytes.
pub const FLAG_LONG: u8 = 0x02;
/// Frame flag: the frame is a command.
pub const FLAG_COMMAND: u8 = 0x04;
/// The default message size limit: 64 MiB across all frames of one message.
pub const DEFAULT_MAX_MESSAGE: usize = 64 << 20;
/// Bytes charged per frame against the message limit on top of its body, so that
/// a flood of empty frames in one message is bounded too.
pub const FRAME_OVERHEAD: usize = 32;

/// A parsed ZMTP greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Greeting {
    /// Major version (3 for ZMTP 3.x; higher is accepted).
    pub major: u8,
    /// Minor version (0 for 3.0, 1 for 3.1).
    pub minor: u8,
    /// The mechanism name, NUL-padded to 20 bytes.
    pub mechanism: [u8; 20],
    /// The as-server flag (0 for NULL).
    pub as_server: bool,
}

impl Greeting {
    /// The greeting zmesh sends: ZMTP 3.1, NULL mechanism, zero padding.
    pub fn null() -> Greeting {
        let mut mechanism = [0u8; 20];
        mechanism[..4].copy_from_slice(b"NULL");
        Greeting {
            major: 3,
            minor: 1,
            mechanism,
            as_server: false,
        }
    }

    /// The greeting of a CURVE endpoint (`as_server` for the server side).
    pub fn curve(as_server: bool) -> Greeting {
        let mut mechanism = [0u8; 20];
        mechanism[..5].copy_from_slice(b"CURVE");
        Greeting {
            major: 3,
            minor: 1,
            mechanism,
            as_server,
        }
    }

    /// True if the mechanism is CURVE.
    pub fn is_curve(&self) -> bool {
        self.mechanism == Greeting::curve(false).mechanism
    }

    /// True if the mechanism is NULL.
    pub fn is_null(&self) -> bool {
        self.mechanism == Greeting::null().mechanism
    }

    /// The 64 bytes of this greeting.
    pub fn encode(&self) -> [u8; GREETING_LEN] {
        let mut g = [0u8; GREETING_LEN];
        g[0] = 0xFF;
        g[9] = 0x7F;
        g[10] = self.major;
        g[11] = self.minor;
        g[12..32].copy_from_slice(&self.mechanism);
        g[32] = self.as_server as u8;
        g
    }

    /// Checks the bytes of a greeting received so far (any prefix), so that a peer
    /// that is not ZMTP 3.x is refused as early as possible.
    pub fn check_prefix(buf: &[u8]) -> Result<(), WireError> {
        if let Some(&b) = buf.first() {
            if b != 0xFF {
                return Err(WireError::BadSignature);
            }
        }
        if let Some(&b) = buf.get(9) {
            // Bit 0 clear means ZMTP 1.0, which zmesh does not speak.
            if b & 1 == 0 {
                return Err(WireError::BadSignature);
            }
        }
        if let Some(&major) = buf.get(10) {
            if major < 3 {
                return Err(WireError::UnsupportedVersion(major));
            }
        }
        Ok(())
    }

    /// Parses a complete 64-byte greeting. The padding (bytes 1..9) and the filler are
    /// never validated; the mechanism must be NULL.
    pub fn parse(buf: &[u8]) -> Result<Greeting, WireError> {
        Greeting::parse_as(buf, false)
    }

    /// Parses a greeting whose mechanism must be CURVE (`curve`) or NULL.
    pub fn parse_as(buf: &[u8], curve: bool) -> Result<Greeting, WireError> {
        if buf.len() < GREETING_LEN {
            return Err(WireError::Truncated);
        }
        Greeting::check_prefix(buf)?;
        let mut mechanism = [0u8; 20];
        mechanism.copy_from_slice(&buf[12..32]);
        let g = Greeting {
            major: buf[10],
            minor: buf[11],
            mechanism,
            as_server: buf[32] != 0,
        };
        let ok = if curve { g.is_curve() } else { g.is_null() };
        if !ok {
            return Err(WireError::UnsupportedMechanism);
        }
        Ok(g)
    }
}

/// A ZMTP command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// NULL handshake: metadata properties (name, value) in wire order.
    Ready(Vec<(String, Vec<u8>)>),
    /// NULL handshake failure with a reason.
    Error(String),
    /// ZMTP 3.1 heartbeat: time-to-live in tenths of a second, and a context.
    Ping {
        /// Time-to-live in deciseconds (0: none).
        ttl: u16,
        /// Up to 16 bytes to echo in the PONG.
        context: Vec<u8>,
    },
    /// Heartbeat answer echoing the PING context.
    Pong {
        /// The echoed context.
        context: Vec<u8>,
    },
    /// Any other command (SUBSCRIBE, CANCEL, ...), kept opaque.
    Unknown {
        /// Command name.
        name: Vec<u8>,
        /// Command data.
        data: Vec<u8>,
    },
}

impl Command {
    /// A READY command with `Socket-Type` and `Identity` spelled as libzmq spells them
    /// (libzmq matches those names case-sensitively).
    pub fn ready(socket_type: &str, identity: &[u8]) -> Command {
        Command::Ready(vec![
            ("Socket-Type".to_string(), socket_type.as_bytes().to_vec()),
            ("Identity".to_string(), identity.to_vec()),
        ])
    }

    /// Looks up a READY property by name, ignoring ASCII case (as the RFC says).
    pub fn property(&self, name: &str) -> Option<&[u8]> {
        match self {
            Command::Ready(props) => props
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_slice()),
            _ => None,
        }
    }

    /// Parses a command frame's body.
    pub fn parse(body: &[u8]) -> Result<Command, WireError> {
        let mut r = Reader::new(body);
        let name_len = r.u8().map_err(|_| WireError::BadCommand)? as usize;
        let name = r.take(name_len).map_err(|_| WireError::BadCommand)?;
        match name {
            b"READY" => {
                let mut props = Vec::new();
                while r.remaining() > 0 {
                    let n = r.u8().map_err(|_| WireError::BadCommand)? as usize;
                    let pname = r.take(n).map_err(|_| WireError::BadCommand)?;
                    let vlen = r.u32().map_err(|_| WireError::BadCommand)? as usize;
                    let value = r.take(vlen).map_err(|_| WireError::BadCommand)?;
                    props.push((String::from_utf8_lossy(pname).into_owned(), value.to_vec()));
                }
                Ok(Command::Ready(props))
            }
            b"ERROR" => {
                let n = r.u8().map_err(|_| WireError::BadCommand)? as usize;
                let reason = r.take(n).map_err(|_| WireError::BadCommand)?;
                Ok(Command::Error(String::from_utf8_lossy(reason).into_owned()))
            }
            b"PING" => {
                let ttl = r.u16().map_err(|_| WireError::BadCommand)?;
                let context = r.rest();
                if context.len() > 16 {
                    return Err(WireError::BadCommand);
                }
                Ok(Command::Ping {
                    ttl,
                    context: context.to_vec(),
                })
            }
            b"PONG" => {
                let context = r.rest();
                if context.len() > 16 {
                    return Err(WireError::BadCommand);
                }
                Ok(Command::Pong {
                    context: context.to_vec(),
                })
            }
            _ => Ok(Command::Unknown {
                name: name.to_vec(),
                data: r.rest().to_vec(),
            }),
        }
    }

    /// Encodes the command body (name and data, without the frame header).
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        fn name(out: &mut Vec<u8>, n: &[u8]) -> Result<(), WireError> {
            out.push(u8::try_from(n.len()).map_err(|_| WireError::FieldTooLong)?);
            out.extend_from_slice(n);
            Ok(())
        }
        let mut out = Vec::new();
        match self {
            Command::Ready(props) => {
                name(&mut out, b"READY")?;
                for (n, v) in props {
                    name(&mut out, n.as_bytes())?;
                    let len = u32::try_from(v.len()).map_err(|_| WireError::FieldTooLong)?;
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(v);
                }
            }
            Command::Error(reason) => {
                name(&mut out, b"ERROR")?;
                name(&mut out, reason.as_bytes())?;
            }
            Command::Ping { ttl, context } => {
                if context.len() > 16 {
                    return Err(WireError::FieldTooLong);
                }
                name(&mut out, b"PING")?;
                out.extend_from_slice(&ttl.to_be_bytes());
                out.extend_from_slice(context);
            }
            Command::Pong { context } => {
                if context.len() > 16 {
                    return Err(WireError::FieldTooLong);
                }
                name(&mut out, b"PONG")?;
                out.extend_from_slice(context);
            }
            Command::Unknown { name: n, data } => {
                name(&mut out, n)?;
                out.extend_from_slice(data);
            }
        }
        Ok(out)
    }

    /// Appends the whole command frame to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let body = self.encode()?;
        encode_frame_header(out, FLAG_COMMAND, body.len());
        out.extend_from_slice(&body);
        Ok(())
    }
}

/// Appends the READY command a socket of `socket_type` presenting `identity` sends:
/// the bytes of `Command::ready(socket_type, identity).encode(out)`, without building
/// the command (every new link sends one).
pub fn encode_ready_into(
    out: &mut Vec<u8>,
    socket_type: &str,
    identity: &[u8],
) -> Result<(), WireError> {
    let len = 1 + 5 + 1 + 11 + 4 + socket_type.len() + 1 + 8 + 4 + identity.len();
    if socket_type.len() > u32::MAX as usize || identity.len() > u32::MAX as usize {
        return Err(WireError::FieldTooLong);
    }
    out.reserve(len + 9);
    encode_frame_header(out, FLAG_COMMAND, len);
    out.push(5);
    out.extend_from_slice(b"READY");
    for (name, value) in [
        (&b"Socket-Type"[..], socket_type.as_bytes()),
        (b"Identity", identity),
    ] {
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value);
    }
    Ok(())
}

/// Appends the ZMTP properties `Socket-Type` and `Identity` (the metadata of a
/// READY, or of CURVE's INITIATE and READY boxes).
pub fn encode_properties_into(out: &mut Vec<u8>, socket_type: &str, identity: &[u8]) {
    for (name, value) in [
        (&b"Socket-Type"[..], socket_type.as_bytes()),
        (b"Identity", identity),
    ] {
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value);
    }
}

/// Parses ZMTP properties (name, value) in wire order.
pub fn parse_properties(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, WireError> {
    let mut body = Vec::with_capacity(6 + data.len());
    body.extend_from_slice(b"\x05READY");
    body.extend_from_slice(data);
    match Command::parse(&body)? {
        Command::Ready(props) => Ok(props),
        _ => Err(WireError::BadCommand),
    }
}

/// The frames of bytes written by [`encode_message_into`] (and the like): (MORE,
/// body) each; None if they are not whole frames.
pub fn split_frames(mut bytes: &[u8]) -> Option<Vec<(bool, &[u8])>> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (header, size) = frame_header(bytes)?;
        let body = bytes.get(header..header.checked_add(size)?)?;
        frames.push((bytes[0] & FLAG_MORE != 0, body));
        bytes = &bytes[header + size..];
    }
    Some(frames)
}

/// The header length and body size of the frame `bytes` starts with, if its
/// header is whole.
pub(crate) fn frame_header(bytes: &[u8]) -> Option<(usize, usize)> {
    let flags = *bytes.first()?;
    if flags & FLAG_LONG != 0 {
        let s: [u8; 8] = bytes.get(1..9)?.try_into().ok()?;
        Some((9, usize::try_from(u64::from_be_bytes(s)).ok()?))
    } else {
        Some((2, *bytes.get(1)? as usize))
    }
}

/// Bytes a message frame with a `len`-byte body takes on the wire.
pub fn frame_size(len: usize) -> usize {
    len + if len > 255 { 9 } else { 2 }
}

pub(crate) fn encode_frame_header(out: &mut Vec<u8>, flags: u8, len: usize) {
    // LONG exactly when the body exceeds 255 bytes, as libzmq does.
    if len > 255 {
        out.push(flags | FLAG_LONG);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    } else {
        out.push(flags);
        out.push(len as u8);
    }
}

/// Appends one message frame. `more` sets the MORE flag.
pub fn encode_frame_into(out: &mut Vec<u8>, more: bool, body: &[u8]) {
    encode_frame_header(out, if more { FLAG_MORE } else { 0 }, body.len());
    out.extend_from_slice(body);
}

/// Appends a whole multipart message: MORE on every frame but the last. A message
/// has at least one frame; an empty slice appends nothing.
pub fn encode_message_into<T: AsRef<[u8]>>(out: &mut Vec<u8>, frames: &[T]) {
    let n = frames.len();
    for (i, f) in frames.iter().enumerate() {
        encode_frame_into(out, i + 1 < n, f.as_ref());
    }
}

/// What the decoder yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// The peer's greeting (always the first item).
    Greeting(Greeting),
    /// A command frame.
    Command(Command),
    /// A whole multipart message.
    Message(Frames),
}

/// Incremental ZMTP 3.x decoder: feed it bytes split anywhere, take whole items out.
///
/// A message's frames stay where they were read: the [`Frames`] of a message share
/// the decoder's buffer rather than being copied out of it.
///
/// After an error the decoder stays failed: a ZMTP stream cannot be resynchronised,
/// so the caller closes the connection.
#[derive(Debug)]
pub struct Decoder {
    /// What the decoder holds between feeds, boxed and given back when it holds
    /// nothing (most links, most of the time: a mesh of n nodes holds 2n²
    /// decoders, and an outgoing link's hears nothing after the handshake).
    held: Option<Box<Held>>,
    // Offsets and sizes in 32 bits: `buf` never holds more than `MAX_BUFFERED`
    // bytes, and a message is at most 4 GiB.
    /// The end of the current message's whole frames in `buf` (which starts with
    /// them).
    pos: u32,
    limit: u32,
    parts_size: u32,
    greeted: bool,
    /// CURVE: the greeting must name it, and commands other than ERROR are
    /// handed over as they are (their bodies are boxes, not properties).
    curve: bool,
    /// The last feed was small: the link is not streaming, so a drained decoder
    /// gives its buffer back rather than keeping it for the next read.
    trickle: bool,
}

/// Bytes fed and not yet handed out, and how the stream ended.
#[derive(Debug, Default)]
struct Held {
    /// The current message's whole frames (up to `pos`), then bytes not yet
    /// decoded. What was handed out is split off the front.
    buf: BytesMut,
    /// How many whole frames of the current message `buf` starts with.
    parts: u32,
    /// Set at most once: the decoder stays failed.
    failed: Option<WireError>,
}

impl Held {
    /// Nothing in it worth keeping for a link that is not streaming.
    fn is_idle(&self) -> bool {
        self.buf.is_empty() && self.failed.is_none()
    }
}

/// Feeds smaller than this leave a drained buffer free to go.
const TRICKLE: usize = 4096;

/// The most a decoder buffers: feeds past it fail the stream (positions are u32).
const MAX_BUFFERED: usize = u32::MAX as usize;

/// Frames at least this large, not yet whole, have room made for them at once
/// rather than by doubling as their bytes arrive.
const BIG_FRAME: usize = 16 << 10;
/// The most room made ahead for a frame: a peer may announce a size and never
/// send it.
const BIG_FIRST_ALLOC: usize = 1 << 20;

impl Decoder {
    /// A decoder that expects a greeting first and refuses messages (all frames
    /// together, each charged [`FRAME_OVERHEAD`] extra) larger than `max_message`
    /// (and than 4 GiB, whatever `max_message` says).
    pub fn new(max_message: usize) -> Decoder {
        Decoder {
            held: None,
            pos: 0,
            limit: u32::try_from(max_message).unwrap_or(u32::MAX),
            parts_size: 0,
            greeted: false,
            curve: false,
            trickle: false,
        }
    }

    /// A decoder for a CURVE connection (see [`Decoder::new`]).
    pub fn curve(max_message: usize) -> Decoder {
        Decoder {
            curve: true,
            ..Decoder::new(max_message)
        }
    }

    /// Ends the stream with `e`; what was held goes.
    fn fail(&mut self, e: WireError) {
        self.held = Some(Box::new(Held {
            failed: Some(e),
            ..Held::default()
        }));
        self.pos = 0;
    }

    /// Adds received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let h = self.held.get_or_insert_with(Box::default);
        if h.failed.is_some() {
            return;
        }
        self.trickle = bytes.len() < TRICKLE;
        if h.buf.len() + bytes.len() > MAX_BUFFERED {
            // More than a whole message's worth fed at once: no caller does this.
            let size = (h.buf.len() + bytes.len()) as u64;
            let limit = MAX_BUFFERED as u64;
            self.fail(WireError::TooLarge { size, limit });
            return;
        }
        h.buf.extend_from_slice(bytes);
    }

    /// Bytes fed but not yet decoded into items (whole frames of a message not yet
    /// whole included).
    pub fn buffered(&self) -> usize {
        self.held.as_ref().map_or(0, |h| h.buf.len())
    }

    /// True once the greeting has been decoded.
    pub fn greeted(&self) -> bool {
        self.greeted
    }

    /// The next complete item, `Ok(None)` when more bytes are needed, or the error
    /// that ended the stream.
    pub fn next_item(&mut self) -> Result<Option<Item>, WireError> {
        let Some(h) = self.held.as_deref() else {
            return Ok(None);
        };
        if let Some(e) = h.failed {
            return Err(e);
        }
        let r = self.next_inner();
        match &r {
            Ok(None) => {
                // Everything fed is decoded: give the buffer back, so that an idle
                // link holds no memory (a mesh of n nodes has n² of them). A link
                // that streams keeps it: a large allocation per read costs the
                // allocator more than the read.
                if self.trickle && self.held.as_ref().is_some_and(|h| h.is_idle()) {
                    self.held = None;
                    self.pos = 0;
                }
            }
            Err(e) => self.fail(*e),
            Ok(Some(_)) => {}
        }
        r
    }

    fn next_inner(&mut self) -> Result<Option<Item>, WireError> {
        let Some(h) = self.held.as_deref_mut() else {
            return Ok(None);
        };
        if !self.greeted {
            let avail = &h.buf[..];
            Greeting::check_prefix(avail)?;
            if avail.len() < GREETING_LEN {
                return Ok(None);
            }
            let g = Greeting::parse_as(&avail[..GREETING_LEN], self.curve)?;
            h.buf.advance(GREETING_LEN);
            self.greeted = true;
            return Ok(Some(Item::Greeting(g)));
        }
        loop {
            let pos = self.pos as usize;
            let avail = &h.buf[pos..];
            if avail.len() < 2 {
                return Ok(None);
            }
            let flags = avail[0];
            if flags & 0xF8 != 0 || (flags & FLAG_COMMAND != 0 && flags & FLAG_MORE != 0) {
                return Err(WireError::BadFlags(flags));
            }
            let (header_len, size) = if flags & FLAG_LONG != 0 {
                if avail.len() < 9 {
                    return Ok(None);
                }
                let mut s = [0u8; 8];
                s.copy_from_slice(&avail[1..9]);
                (9, u64::from_be_bytes(s))
            } else {
                (2, avail[1] as u64)
            };
            let charged = if flags & FLAG_COMMAND != 0 {
                size.saturating_add(FRAME_OVERHEAD as u64)
            } else {
                (self.parts_size as u64)
                    .saturating_add(size)
                    .saturating_add(FRAME_OVERHEAD as u64)
            };
            if charged > self.limit as u64 {
                return Err(WireError::TooLarge {
                    size: charged,
                    limit: self.limit as u64,
                });
            }
            // Fits in usize: it is below the limit, which is a u32.
            let size = size as usize;
            let end = pos + header_len + size;
            if h.buf.len() < end {
                if size >= BIG_FRAME {
                    let want = (end - h.buf.len()).min(BIG_FIRST_ALLOC);
                    h.buf.reserve(want);
                }
                return Ok(None);
            }
            if flags & FLAG_COMMAND != 0 {
                let cmd = command(&h.buf[pos + header_len..end], self.curve)?;
                if pos == 0 {
                    h.buf.advance(end);
                } else {
                    // Between the frames of a message: the frames stay.
                    let mut tail = h.buf.split_off(pos);
                    tail.advance(end - pos);
                    h.buf.extend_from_slice(&tail);
                }
                return Ok(Some(Item::Command(cmd)));
            }
            // The header's check kept the message within the limit, a u32.
            self.parts_size += (size + FRAME_OVERHEAD) as u32;
            self.pos = end as u32;
            h.parts += 1;
            if flags & FLAG_MORE == 0 {
                let count = std::mem::take(&mut h.parts) as usize;
                self.pos = 0;
                self.parts_size = 0;
                // A small message is copied out, so that the buffer stays the
                // decoder's alone (reused read after read); a larger one is
                // shared, not copied.
                let frames = if Frames::fits_in_place(end) {
                    let f = Frames::in_place(&h.buf[..end], count);
                    h.buf.advance(end);
                    f
                } else {
                    Frames::from_encoded(h.buf.split_to(end).freeze(), count)
                };
                return Ok(Some(Item::Message(frames)));
            }
        }
    }
}

/// A whole command frame's body, parsed (or, on a CURVE link, as it is).
fn command(body: &[u8], curve: bool) -> Result<Command, WireError> {
    let name_len = 1 + *body.first().ok_or(WireError::BadCommand)? as usize;
    let raw = curve && body.get(1..name_len) != Some(&b"ERROR"[..]);
    if raw {
        let name = body.get(1..name_len).ok_or(WireError::BadCommand)?.to_vec();
        let data = body[name_len..].to_vec();
        Ok(Command::Unknown { name, data })
    } else {
        Command::parse(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// libzmq's greeting as a DEALER with a 17-byte identity sends it: the padding
    /// carries uint64_be(identity_len + 1).
    fn libzmq_greeting() -> Vec<u8> {
        let mut g = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x7f, 0x03, 0x01];
        g.extend_from_slice(b"NULL");
        g.extend_from_slice(&[0u8; 16]);
        g.push(0);
        g.extend_from_slice(&[0u8; 31]);
        assert_eq!(g.len(), 64);
        g
    }

    #[test]
    fn greeting_with_nonzero_padding() {
        let g = Greeting::parse(&libzmq_greeting()).unwrap();
        assert_eq!((g.major, g.minor), (3, 1));
        assert!(g.is_null());
        let ours = Greeting::null().encode();
        assert_eq!(&ours[..12], &[0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 1]);
        assert_eq!(&ours[12..16], b"NULL");
        assert!(ours[16..].iter().all(|&b| b == 0));
    }

    #[test]
    fn greeting_versions_and_mechanisms() {
        let mut g = libzmq_greeting();
        g[11] = 0; // 3.0
        assert_eq!(Greeting::parse(&g).unwrap().minor, 0);
        g[10] = 4; // higher major accepted
        assert!(Greeting::parse(&g).is_ok());
        g[10] = 2;
        assert_eq!(Greeting::parse(&g), Err(WireError::UnsupportedVersion(2)));
        let mut g = libzmq_greeting();
        g[12..17].copy_from_slice(b"CURVE");
        assert_eq!(Greeting::parse(&g), Err(WireError::UnsupportedMechanism));
        let mut g = libzmq_greeting();
        g[9] = 0x7e;
        assert_eq!(Greeting::parse(&g), Err(WireError::BadSignature));
        // A wrong first byte is refused before the rest arrives.
        let mut d = Decoder::new(1024);
        d.feed(&[0x00]);
        assert_eq!(d.next_item(), Err(WireError::BadSignature));
        assert_eq!(d.next_item(), Err(WireError::BadSignature));
    }

    /// Every link holds one, and a mesh of n nodes 2n² links.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_decoder_stays_small() {
        assert!(
            std::mem::size_of::<Decoder>() <= 24,
            "{}",
            std::mem::size_of::<Decoder>()
        );
        // A limit past 4 GiB is 4 GiB.
        assert_eq!(Decoder::new(usize::MAX).limit, u32::MAX);
    }

    #[test]
    fn drained_decoder_gives_its_buffer_back() {
        let mut d = Decoder::new(1024);
        let mut bytes = Greeting::null().encode().to_vec();
        bytes.extend_from_slice(&[0x00, 0x03, b'a', b'b', b'c']);
        // All but the last byte: the partial frame stays buffered.
        d.feed(&bytes[..bytes.len() - 1]);
        assert!(matches!(d.next_item(), Ok(Some(Item::Greeting(_)))));
        assert_eq!(d.next_item(), Ok(None));
        assert_eq!(d.buffered(), 4);
        assert!(d.held.is_some());
        d.feed(&bytes[bytes.len() - 1..]);
        assert_eq!(
            d.next_item(),
            Ok(Some(Item::Message(vec![b"abc".to_vec()].into())))
        );
        assert_eq!(d.next_item(), Ok(None));
        // An idle link holds no receive buffer, nor anything else.
        assert!(d.held.is_none());
        // One that streams keeps it from read to read, until a small read.
        let frame = [0x00, 0x01, b'x'];
        let burst: Vec<u8> = frame.iter().cycle().take(3 * 2000).copied().collect();
        d.feed(&burst);
        let mut n = 0;
        while let Ok(Some(_)) = d.next_item() {
            n += 1;
        }
        assert_eq!(n, 2000);
        assert!(d.held.is_some());
        d.feed(&frame);
        assert!(matches!(d.next_item(), Ok(Some(Item::Message(_)))));
        assert_eq!(d.next_item(), Ok(None));
        assert!(d.held.is_none());
    }

    #[test]
    fn ready_literals() {
        // A ZRE DEALER's READY: 58-byte body.
        let mut identity = vec![0x01];
        identity.extend(0x10..0x20u8);
        let mut out = Vec::new();
        Command::ready("DEALER", &identity)
            .encode_into(&mut out)
            .unwrap();
        let mut want = vec![0x04, 0x3a, 0x05];
        want.extend_from_slice(b"READY");
        want.push(0x0b);
        want.extend_from_slice(b"Socket-Type");
        want.extend_from_slice(&[0, 0, 0, 6]);
        want.extend_from_slice(b"DEALER");
        want.push(0x08);
        want.extend_from_slice(b"Identity");
        want.extend_from_slice(&[0, 0, 0, 0x11]);
        want.extend_from_slice(&identity);
        assert_eq!(out, want);
        // libzmq ROUTER's READY: 41-byte body with an empty identity.
        let mut router = vec![0x04, 0x29, 0x05];
        router.extend_from_slice(
            b"READY\x0bSocket-Type\x00\x00\x00\x06ROUTER\x08Identity\x00\x00\x00\x00",
        );
        let mut d = Decoder::new(1024);
        d.feed(&libzmq_greeting());
        d.feed(&router);
        assert!(matches!(d.next_item(), Ok(Some(Item::Greeting(_)))));
        let Ok(Some(Item::Command(cmd))) = d.next_item() else {
            panic!("no command")
        };
        assert_eq!(cmd.property("socket-type"), Some(&b"ROUTER"[..]));
        assert_eq!(cmd.property("Identity"), Some(&b""[..]));
        let mut again = Vec::new();
        cmd.encode_into(&mut again).unwrap();
        assert_eq!(again, router);
    }

    #[test]
    fn ping_pong_error_literals() {
        assert_eq!(
            Command::parse(&[4, b'P', b'I', b'N', b'G', 0, 0]).unwrap(),
            Command::Ping {
                ttl: 0,
                context: vec![]
            }
        );
        let mut out = Vec::new();
        Command::Ping {
            ttl: 0,
            context: vec![],
        }
        .encode_into(&mut out)
        .unwrap();
        assert_eq!(out, [0x04, 0x07, 0x04, 0x50, 0x49, 0x4e, 0x47, 0x00, 0x00]);
        let pong = Command::Pong {
            context: b"ctx".to_vec(),
        };
        assert_eq!(Command::parse(&pong.encode().unwrap()).unwrap(), pong);
        let err = Command::Error("nope".into());
        assert_eq!(Command::parse(&err.encode().unwrap()).unwrap(), err);
        assert_eq!(
            Command::parse(&[
                4, b'P', b'I', b'N', b'G', 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                16, 17
            ]),
            Err(WireError::BadCommand)
        );
        assert_eq!(Command::parse(&[]), Err(WireError::BadCommand));
        assert_eq!(Command::parse(&[9, b'R']), Err(WireError::BadCommand));
    }

    #[test]
    fn frames_short_long_and_limits() {
        let mut bytes = Greeting::null().encode().to_vec();
        let big = vec![7u8; 300];
        encode_message_into(&mut bytes, &[&b""[..], &big[..], &b"x"[..]]);
        // The 300-byte frame uses the LONG form: flags 0x03 (MORE|LONG).
        assert_eq!(&bytes[64..66], &[0x01, 0x00]);
        assert_eq!(bytes[66], 0x03);
        assert_eq!(&bytes[67..75], &300u64.to_be_bytes());
        let mut d = Decoder::new(1024);
        d.feed(&bytes);
        assert!(matches!(d.next_item(), Ok(Some(Item::Greeting(_)))));
        assert_eq!(
            d.next_item(),
            Ok(Some(Item::Message(
                vec![vec![], big.clone(), b"x".to_vec()].into()
            )))
        );
        // LONG form for a small frame is accepted too.
        let mut d = Decoder::new(1024);
        d.feed(&Greeting::null().encode());
        d.feed(&[0x02, 0, 0, 0, 0, 0, 0, 0, 1, b'z']);
        d.next_item().unwrap();
        assert_eq!(
            d.next_item(),
            Ok(Some(Item::Message(vec![b"z".to_vec()].into())))
        );
        // A hostile length is refused before any allocation.
        let mut d = Decoder::new(1024);
        d.feed(&Greeting::null().encode());
        d.feed(&[0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        d.next_item().unwrap();
        assert!(matches!(d.next_item(), Err(WireError::TooLarge { .. })));
        // Many empty frames in one message are bounded too.
        let mut d = Decoder::new(1024);
        d.feed(&Greeting::null().encode());
        for _ in 0..100 {
            d.feed(&[0x01, 0x00]);
        }
        d.next_item().unwrap();
        assert!(matches!(d.next_item(), Err(WireError::TooLarge { .. })));
        // Reserved flag bits and MORE on a command are errors.
        for bad in [[0x08u8, 0], [0x05, 0]] {
            let mut d = Decoder::new(1024);
            d.feed(&Greeting::null().encode());
            d.feed(&bad);
            d.next_item().unwrap();
            assert_eq!(d.next_item(), Err(WireError::BadFlags(bad[0])));
        }
    }

    fn stream() -> impl Strategy<Value = (Vec<u8>, Vec<Item>)> {
        let frame = proptest::collection::vec(any::<u8>(), 0..400);
        let msg = proptest::collection::vec(frame, 1..4).prop_map(|f| Item::Message(f.into()));
        let cmd = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..17)
                .prop_map(|c| Item::Command(Command::Ping { ttl: 7, context: c })),
            proptest::collection::vec(any::<u8>(), 0..20)
                .prop_map(|id| Item::Command(Command::ready("DEALER", &id))),
        ];
        proptest::collection::vec(prop_oneof![3 => msg, 1 => cmd], 0..8).prop_map(encode_items)
    }

    /// A greeting then `items` on the wire, and the items a decoder should give.
    fn encode_items(items: Vec<Item>) -> (Vec<u8>, Vec<Item>) {
        let mut bytes = Greeting::null().encode().to_vec();
        for it in &items {
            match it {
                Item::Message(f) => encode_message_into(&mut bytes, &f.to_vec()),
                Item::Command(c) => c.encode_into(&mut bytes).unwrap(),
                Item::Greeting(_) => unreachable!(),
            }
        }
        let mut all = vec![Item::Greeting(Greeting::null())];
        all.extend(items);
        (bytes, all)
    }

    fn decode_split(bytes: &[u8], cuts: &[usize]) -> Result<Vec<Item>, WireError> {
        let mut d = Decoder::new(DEFAULT_MAX_MESSAGE);
        let mut out = Vec::new();
        let mut start = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        points.push(bytes.len());
        for p in points {
            d.feed(&bytes[start..p.max(start)]);
            start = p.max(start);
            while let Some(it) = d.next_item()? {
                out.push(it);
            }
        }
        Ok(out)
    }

    /// Messages and commands with frames on both sides of `BIG_FRAME`, past which
    /// room is made for a frame at once.
    fn big_stream() -> impl Strategy<Value = (Vec<u8>, Vec<Item>)> {
        let pattern = |(n, b): (usize, u8)| -> Vec<u8> {
            (0..n).map(|i| b.wrapping_add((i % 251) as u8)).collect()
        };
        let frame = prop_oneof![
            (0usize..300, any::<u8>()).prop_map(pattern),
            (BIG_FRAME - 3..BIG_FRAME * 3, any::<u8>()).prop_map(pattern),
        ];
        let msg = proptest::collection::vec(frame, 1..4).prop_map(|f| Item::Message(f.into()));
        let cmd = (BIG_FRAME - 3..BIG_FRAME * 2, any::<u8>()).prop_map(move |x| {
            Item::Command(Command::Unknown {
                name: b"BIG".to_vec(),
                data: pattern(x),
            })
        });
        proptest::collection::vec(prop_oneof![4 => msg, 1 => cmd], 1..5).prop_map(encode_items)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn big_frames_any_split((bytes, items) in big_stream(), cuts in proptest::collection::vec(any::<usize>(), 0..40)) {
            prop_assert_eq!(decode_split(&bytes, &cuts).unwrap(), items.clone());
            // Small reads, as a slow link gives them.
            let small: Vec<usize> = (0..bytes.len()).step_by(997).collect();
            prop_assert_eq!(decode_split(&bytes, &small).unwrap(), items);
        }
    }

    #[test]
    fn big_frame_limit_and_failure() {
        // A frame over the limit fails before anything is allocated for it.
        let mut d = Decoder::new(BIG_FRAME * 2);
        d.feed(&Greeting::null().encode());
        assert!(matches!(d.next_item(), Ok(Some(Item::Greeting(_)))));
        let mut f = vec![FLAG_LONG];
        f.extend_from_slice(&((BIG_FRAME * 4) as u64).to_be_bytes());
        d.feed(&f);
        assert!(matches!(d.next_item(), Err(WireError::TooLarge { .. })));
        // A big frame in progress counts as buffered and is dropped on failure.
        let mut d = Decoder::new(DEFAULT_MAX_MESSAGE);
        d.feed(&Greeting::null().encode());
        assert!(matches!(d.next_item(), Ok(Some(Item::Greeting(_)))));
        let mut f = vec![FLAG_LONG];
        f.extend_from_slice(&((BIG_FRAME * 2) as u64).to_be_bytes());
        f.extend_from_slice(&[9u8; 100]);
        d.feed(&f);
        assert_eq!(d.next_item(), Ok(None));
        // The frame's header and the body so far, with room for the rest made.
        assert_eq!(d.buffered(), 9 + 100);
        assert!(d.held.as_ref().unwrap().buf.capacity() >= 9 + BIG_FRAME * 2);
        d.feed(&vec![9u8; BIG_FRAME * 2 - 100]);
        assert_eq!(
            d.next_item(),
            Ok(Some(Item::Message(vec![vec![9u8; BIG_FRAME * 2]].into())))
        );
        assert_eq!(d.buffered(), 0);
    }

    proptest! {
        #[test]
        fn encode_ready_matches_command(st in "[A-Z]{0,10}", id in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut want = Vec::new();
            Command::ready(&st, &id).encode_into(&mut want).unwrap();
            let mut got = Vec::new();
            encode_ready_into(&mut got, &st, &id).unwrap();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn any_split_gives_same_items((bytes, items) in stream(), cuts in proptest::collection::vec(any::<usize>(), 0..20)) {
            prop_assert_eq!(decode_split(&bytes, &cuts).unwrap(), items.clone());
            // One byte at a time.
            let all: Vec<usize> = (0..bytes.len()).collect();
            prop_assert_eq!(decode_split(&bytes, &all).unwrap(), items);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), greet in any::<bool>()) {
            let mut d = Decoder::new(4096);
            if greet {
                d.feed(&Greeting::null().encode());
            }
            d.feed(&bytes);
            for _ in 0..1000 {
                match d.next_item() {
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
        }

        #[test]
        fn command_round_trip(ttl in any::<u16>(), ctx in proptest::collection::vec(any::<u8>(), 0..17),
                              props in proptest::collection::vec(("[A-Za-z-]{1,20}", proptest::collection::vec(any::<u8>(), 0..40)), 0..4)) {
            for c in [Command::Ping { ttl, context: ctx.clone() }, Command::Pong { context: ctx.clone() }, Command::Ready(props.clone())] {
                prop_assert_eq!(Command::parse(&c.encode().unwrap()).unwrap(), c);
            }
        }

        #[test]
        fn command_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = Command::parse(&bytes);
        }
    }
}
