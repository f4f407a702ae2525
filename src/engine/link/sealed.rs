//! The CURVE side of [`Link`]: its constructors, and the handshake and MESSAGE
//! boxes in place of NULL's READY and clear frames (see [`crate::engine::curve`]).

use super::{Link, LinkError, LinkEvent, Role, RoutingId};
use crate::engine::curve::{Curve, CurveKeys, KEY_LEN};
use crate::frames::Frames;
use crate::wire::zmtp::{self, Command, Decoder, Greeting, Item, FRAME_OVERHEAD};

#[derive(Debug)]
pub(super) struct CurveLink {
    pub(super) mech: Curve,
    metadata: Vec<u8>,
    /// The frames of the message so far, framed as ZMTP frames; where the last
    /// one starts, and how many.
    parts: Vec<u8>,
    last: usize,
    count: usize,
    parts_size: usize,
    max_message: usize,
}

impl Link {
    /// A CURVE link whose output so far (greeting, and HELLO for a client) is
    /// `out`.
    fn new_curve(
        role: Role,
        identity: &[u8],
        max_message: usize,
        mech: Curve,
        out: Vec<u8>,
    ) -> Link {
        let mut metadata = Vec::new();
        zmtp::encode_properties_into(&mut metadata, role.socket_type(), identity);
        Link {
            role,
            decoder: Decoder::curve(max_message),
            out,
            greeting: None,
            peer_identity: None,
            rare: Some(Box::new(super::records::Rare {
                curve: Some(Box::new(CurveLink {
                    mech,
                    metadata,
                    parts: Vec::new(),
                    last: 0,
                    count: 0,
                    parts_size: 0,
                    max_message,
                })),
                ..Default::default()
            })),
        }
    }

    /// A connecting DEALER over CURVE: a client of the server whose public key is
    /// `server_key`, vouching with `keys`. Its greeting and HELLO are queued.
    pub fn curve_dealer(
        identity: &[u8],
        max_message: usize,
        keys: CurveKeys,
        server_key: [u8; KEY_LEN],
        rng: &mut dyn rand::RngCore,
    ) -> Link {
        let identity = &identity[..identity.len().min(255)];
        let mut out = Greeting::curve(false).encode().to_vec();
        let mech = Curve::client(keys, server_key, rng, &mut out);
        Link::new_curve(Role::Dealer, identity, max_message, mech, out)
    }

    /// An accepting ROUTER-side link over CURVE: a server with `keys`. Which client
    /// keys it accepts is its owner's call, once [`Link::peer_key`] is known.
    pub fn curve_router(max_message: usize, keys: CurveKeys, rng: &mut dyn rand::RngCore) -> Link {
        let out = Greeting::curve(true).encode().to_vec();
        let mech = Curve::server(keys, rng);
        Link::new_curve(Role::Router, b"", max_message, mech, out)
    }

    /// CURVE, once ready: queues a ZMTP command (its body, such as an encoded PING)
    /// sealed in a MESSAGE box, as libzmq sends its heartbeats. No effect on a NULL
    /// link or before the handshake.
    pub fn send_command_sealed(&mut self, body: &[u8]) {
        if let Some((mech, out)) = self.sealer() {
            mech.seal_frame(out, 0x02, body);
        }
    }

    /// True for a CURVE link.
    pub fn is_curve(&self) -> bool {
        self.curve().is_some()
    }

    /// CURVE: the peer's long-term public key (for a client, the server's; for a
    /// server, the client's once its handshake checked out).
    pub fn peer_key(&self) -> Option<&[u8; KEY_LEN]> {
        self.curve()?.mech.peer_key()
    }

    /// CURVE, once ready: the mechanism and the output, to seal frames into.
    pub(super) fn sealer(&mut self) -> Option<(&mut Curve, &mut Vec<u8>)> {
        self.peer_identity.as_ref()?;
        let c = self.rare.as_deref_mut()?.curve.as_deref_mut()?;
        Some((&mut c.mech, &mut self.out))
    }

    /// [`Link::poll`] for a CURVE link: the handshake, then MESSAGE boxes.
    pub(super) fn poll_curve(&mut self) -> Result<Option<LinkEvent>, LinkError> {
        loop {
            let Some(item) = self.decoder.next_item()? else {
                return Ok(None);
            };
            let c = self
                .rare
                .as_deref_mut()
                .and_then(|r| r.curve.as_deref_mut())
                .expect("a CURVE link");
            let (name, data) = match item {
                Item::Greeting(g) => {
                    // libzmq's CURVE server does not set as-server in its greeting:
                    // the roles show in the handshake instead.
                    self.greeting = Some(super::Heard::of(&g));
                    continue;
                }
                // libzmq sends each MESSAGE as a data frame of its own.
                Item::Message(parts)
                    if parts.len() == 1 && parts[0].starts_with(b"\x07MESSAGE") =>
                {
                    (b"MESSAGE".to_vec(), parts[0][8..].to_vec())
                }
                Item::Message(_) => return Err(LinkError::Security("CURVE: a frame in clear")),
                Item::Command(Command::Error(reason)) => return Err(LinkError::PeerError(reason)),
                Item::Command(Command::Unknown { name, data }) => (name, data),
                Item::Command(_) => return Err(LinkError::Security("CURVE: a command in clear")),
            };
            if name != b"MESSAGE" {
                let meta = c
                    .mech
                    .handshake(&name, &data, &c.metadata, &mut self.out)
                    .map_err(LinkError::Security)?;
                if let Some(meta) = meta {
                    return self.curve_ready(&meta).map(Some);
                }
                continue;
            }
            if self.peer_identity.is_none() {
                return Err(LinkError::Security("CURVE: MESSAGE before READY"));
            }
            let (flags, frame) = c.mech.open_message(&data).map_err(LinkError::Security)?;
            if flags & 0x02 != 0 {
                // A ZMTP command inside the box: PING is answered, others absorbed.
                if let Ok(Command::Ping { context, .. }) = Command::parse(&frame) {
                    let pong = Command::Pong { context }.encode()?;
                    c.mech.seal_frame(&mut self.out, 0x02, &pong);
                }
                continue;
            }
            c.parts_size += frame.len() + FRAME_OVERHEAD;
            if c.parts_size > c.max_message {
                return Err(LinkError::Wire(crate::wire::WireError::TooLarge {
                    size: c.parts_size as u64,
                    limit: c.max_message as u64,
                }));
            }
            // Framed as a clear message's frames are, so that a message is one
            // buffer either way.
            c.last = c.parts.len();
            zmtp::encode_frame_into(&mut c.parts, true, &frame);
            c.count += 1;
            if flags & 0x01 == 0 {
                c.parts[c.last] &= !zmtp::FLAG_MORE;
                c.parts_size = 0;
                let raw = std::mem::take(&mut c.parts);
                let count = std::mem::take(&mut c.count);
                return Ok(Some(LinkEvent::Message(Frames::from_encoded(
                    raw.into(),
                    count,
                ))));
            }
        }
    }

    /// The CURVE handshake is over with the peer's `metadata`: as a NULL READY.
    fn curve_ready(&mut self, metadata: &[u8]) -> Result<LinkEvent, LinkError> {
        let props = zmtp::parse_properties(metadata)?;
        let prop = |n: &str| {
            props
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let socket_type = prop("Socket-Type");
        if !self.role.accepts(&socket_type) {
            let t = String::from_utf8_lossy(&socket_type).into_owned();
            return Err(LinkError::BadSocketType(t));
        }
        let identity = prop("Identity");
        self.peer_identity = Some(RoutingId::new(&identity));
        // What waited for the handshake goes out sealed, frame by frame.
        let held = self.take_held();
        let frames = zmtp::split_frames(&held).unwrap_or_default();
        if let Some(c) = self
            .rare
            .as_deref_mut()
            .and_then(|r| r.curve.as_deref_mut())
        {
            for (more, body) in frames {
                c.mech.seal_frame(&mut self.out, u8::from(more), body);
            }
        }
        Ok(LinkEvent::Ready {
            identity,
            socket_type: String::from_utf8_lossy(&socket_type).into_owned(),
        })
    }
}
