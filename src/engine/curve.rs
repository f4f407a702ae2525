//! The CurveZMQ security mechanism (ZeroMQ RFC 26, as libzmq speaks it), sans-IO:
//! the handshake of one connection as client or server, then every frame sealed in
//! a MESSAGE box. [`Link`](super::link::Link) drives it; the boxes come from
//! RustCrypto's `crypto_box` (X25519, XSalsa20-Poly1305) and `crypto_secretbox`.
//!
//! ```text
//! HELLO    (client, 200)  \x05HELLO 01 00 zero[72] C'[32] nonce[8] box[80]      (C' -> S: 64 zeros)
//! WELCOME  (server, 168)  \x07WELCOME nonce[16] box[144]                         (S -> C': S' cookie[96])
//! INITIATE (client, 257+) \x08INITIATE cookie[96] nonce[8] box[144+M]            (C' -> S': C vouch-nonce[16] vouch[80] metadata)
//! READY    (server, 30+)  \x05READY nonce[8] box[16+M]                           (S' -> C': metadata)
//! MESSAGE  (both, 33+)    \x07MESSAGE nonce[8] box[17+N]                         (flags[1] frame)
//! cookie: nonce[16] secretbox(C' s', K)      vouch: box(C' S, C -> S')
//! ```
//!
//! The server keeps nothing of a client between WELCOME and INITIATE but the key
//! of its cookie; the client's transient key and its own come back in the cookie.
//! Every short nonce a peer sends must be greater than the one before it.

use std::fmt;

use crypto_box::aead::generic_array::GenericArray;
use crypto_box::aead::{Aead, AeadInPlace, KeyInit};
use crypto_box::{PublicKey, SalsaBox, SecretKey};
use crypto_secretbox::XSalsa20Poly1305;
use rand::RngCore;

use crate::wire::zmtp::{encode_frame_header, FLAG_COMMAND};

/// Length of a CURVE key.
pub const KEY_LEN: usize = 32;
/// Length of a Poly1305 tag, the overhead of every box.
const TAG: usize = 16;

/// A long-term CURVE key pair: what a node is, in CURVE mode.
#[derive(Clone, PartialEq, Eq)]
pub struct CurveKeys {
    public: [u8; KEY_LEN],
    secret: [u8; KEY_LEN],
}

impl CurveKeys {
    /// The pair whose secret key is `secret`.
    pub fn from_secret(secret: [u8; KEY_LEN]) -> CurveKeys {
        let public = *SecretKey::from(secret).public_key().as_bytes();
        CurveKeys { public, secret }
    }

    /// A fresh pair from `rng` (the driver's OS-seeded generator, or the
    /// simulator's seeded one).
    pub fn generate(rng: &mut dyn RngCore) -> CurveKeys {
        let mut secret = [0u8; KEY_LEN];
        rng.fill_bytes(&mut secret);
        CurveKeys::from_secret(secret)
    }

    /// The public key.
    pub fn public(&self) -> &[u8; KEY_LEN] {
        &self.public
    }

    /// The secret key.
    pub fn secret(&self) -> &[u8; KEY_LEN] {
        &self.secret
    }
}

impl fmt::Debug for CurveKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let z = crate::wire::z85::encode(&self.public).unwrap_or_default();
        write!(f, "CurveKeys({z}, secret hidden)")
    }
}

/// Where the handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Client: HELLO sent, WELCOME awaited.
    Welcome,
    /// Client: INITIATE sent, READY awaited.
    Ready,
    /// Server: HELLO awaited.
    Hello,
    /// Server: WELCOME sent, INITIATE awaited.
    Initiate,
    /// Both: MESSAGE boxes flow.
    Open,
}

/// One connection's CURVE state.
pub(crate) struct Curve {
    server: bool,
    state: State,
    keys: CurveKeys,
    /// Client: the server's long-term public key. Server: the client's, once known.
    peer: Option<[u8; KEY_LEN]>,
    /// Our transient key pair (C' or S').
    transient: CurveKeys,
    /// Client: the server's transient public key, from WELCOME.
    peer_transient: Option<[u8; KEY_LEN]>,
    /// The box between the two transient keys, once both are known.
    session: Option<SalsaBox>,
    /// Our next short nonce; the peer's last one.
    nonce: u64,
    peer_nonce: u64,
    /// Server: the key its cookie is sealed with.
    cookie_key: [u8; KEY_LEN],
    /// Random bytes drawn at creation for the long nonces this side will send
    /// (client: the vouch; server: WELCOME and the cookie), so that nothing is
    /// drawn later.
    long_nonces: [[u8; 16]; 2],
}

impl fmt::Debug for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Curve")
            .field("server", &self.server)
            .field("state", &self.state)
            .finish()
    }
}

/// Why the handshake or a box failed: the connection is closed.
pub(crate) type CurveError = &'static str;

fn nonce24(prefix: &[u8], tail: &[u8]) -> [u8; 24] {
    let mut n = [0u8; 24];
    n[..prefix.len()].copy_from_slice(prefix);
    n[prefix.len()..].copy_from_slice(tail);
    n
}

fn seal(b: &SalsaBox, nonce: &[u8; 24], plain: &[u8]) -> Vec<u8> {
    b.encrypt(GenericArray::from_slice(nonce), plain)
        .expect("sealing into a Vec cannot fail")
}

fn open(
    b: &SalsaBox,
    nonce: &[u8; 24],
    boxed: &[u8],
    what: CurveError,
) -> Result<Vec<u8>, CurveError> {
    b.decrypt(GenericArray::from_slice(nonce), boxed)
        .map_err(|_| what)
}

fn pair(public: &[u8; KEY_LEN], secret: &[u8; KEY_LEN]) -> SalsaBox {
    SalsaBox::new(&PublicKey::from(*public), &SecretKey::from(*secret))
}

fn key(bytes: &[u8]) -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    k.copy_from_slice(&bytes[..KEY_LEN]);
    k
}

/// Appends a command frame whose body is `parts` joined.
fn command(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let len = parts.iter().map(|p| p.len()).sum();
    encode_frame_header(out, FLAG_COMMAND, len);
    for p in parts {
        out.extend_from_slice(p);
    }
}

impl Curve {
    fn new(server: bool, keys: CurveKeys, rng: &mut dyn RngCore) -> Curve {
        let transient = CurveKeys::generate(rng);
        let mut cookie_key = [0u8; KEY_LEN];
        let mut long_nonces = [[0u8; 16]; 2];
        if server {
            rng.fill_bytes(&mut cookie_key);
        }
        for n in &mut long_nonces {
            rng.fill_bytes(n);
        }
        Curve {
            server,
            state: if server { State::Hello } else { State::Welcome },
            keys,
            peer: None,
            transient,
            peer_transient: None,
            session: None,
            nonce: 1,
            peer_nonce: 0,
            cookie_key,
            long_nonces,
        }
    }

    /// A client of the server whose long-term public key is `server_key`; its
    /// HELLO is appended to `out`.
    pub(crate) fn client(
        keys: CurveKeys,
        server_key: [u8; KEY_LEN],
        rng: &mut dyn RngCore,
        out: &mut Vec<u8>,
    ) -> Curve {
        let mut c = Curve::new(false, keys, rng);
        c.peer = Some(server_key);
        let short = c.next_nonce();
        let b = pair(&server_key, c.transient.secret());
        let hello_box = seal(&b, &nonce24(b"CurveZMQHELLO---", &short), &[0u8; 64]);
        command(
            out,
            &[
                b"\x05HELLO",
                &[1, 0],
                &[0u8; 72],
                c.transient.public(),
                &short,
                &hello_box,
            ],
        );
        c
    }

    /// A server with the long-term `keys`.
    pub(crate) fn server(keys: CurveKeys, rng: &mut dyn RngCore) -> Curve {
        Curve::new(true, keys, rng)
    }

    /// The peer's long-term public key: the server's for a client, the client's
    /// for a server once its INITIATE checked out.
    pub(crate) fn peer_key(&self) -> Option<&[u8; KEY_LEN]> {
        self.peer
            .as_ref()
            .filter(|_| !self.server || self.state == State::Open)
    }

    fn next_nonce(&mut self) -> [u8; 8] {
        let n = self.nonce;
        self.nonce += 1;
        n.to_be_bytes()
    }

    /// Takes the peer's short nonce, which must be greater than its last.
    fn take_peer_nonce(&mut self, bytes: &[u8]) -> Result<(), CurveError> {
        let n = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
        if n <= self.peer_nonce {
            return Err("CURVE nonce not increasing (replay?)");
        }
        self.peer_nonce = n;
        Ok(())
    }

    /// A handshake command: its `name` and `data`. Appends any reply to `out`;
    /// `metadata` is ours (ZMTP properties), sent in INITIATE or READY. Returns the
    /// peer's metadata when the handshake is over.
    pub(crate) fn handshake(
        &mut self,
        name: &[u8],
        data: &[u8],
        metadata: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<Vec<u8>>, CurveError> {
        match (self.state, name) {
            (State::Hello, b"HELLO") => self.on_hello(data, out).map(|_| None),
            (State::Welcome, b"WELCOME") => self.on_welcome(data, metadata, out).map(|_| None),
            (State::Initiate, b"INITIATE") => self.on_initiate(data, metadata, out).map(Some),
            (State::Ready, b"READY") => self.on_ready(data).map(Some),
            _ => Err("CURVE: command out of order"),
        }
    }

    fn on_hello(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), CurveError> {
        if data.len() != 194 {
            return Err("CURVE: HELLO of the wrong size");
        }
        if data[..2] != [1, 0] {
            return Err("CURVE: HELLO of an unknown version");
        }
        let client_t = key(&data[74..106]);
        self.take_peer_nonce(&data[106..114])?;
        let b = pair(&client_t, self.keys.secret());
        let zeros = open(
            &b,
            &nonce24(b"CurveZMQHELLO---", &data[106..114]),
            &data[114..194],
            "CURVE: HELLO box does not open (wrong server key?)",
        )?;
        if zeros != [0u8; 64] {
            return Err("CURVE: HELLO box is not zeros");
        }
        // The cookie carries C' and s' back to us in INITIATE.
        let cookie_nonce = self.long_nonces[1];
        let mut plain = Vec::with_capacity(64);
        plain.extend_from_slice(&client_t);
        plain.extend_from_slice(self.transient.secret());
        let cookie_box = XSalsa20Poly1305::new(GenericArray::from_slice(&self.cookie_key))
            .encrypt(
                GenericArray::from_slice(&nonce24(b"COOKIE--", &cookie_nonce)),
                &plain[..],
            )
            .expect("sealing into a Vec cannot fail");
        let mut welcome_plain = Vec::with_capacity(128);
        welcome_plain.extend_from_slice(self.transient.public());
        welcome_plain.extend_from_slice(&cookie_nonce);
        welcome_plain.extend_from_slice(&cookie_box);
        let welcome_nonce = self.long_nonces[0];
        let welcome_box = seal(&b, &nonce24(b"WELCOME-", &welcome_nonce), &welcome_plain);
        command(out, &[b"\x07WELCOME", &welcome_nonce, &welcome_box]);
        self.state = State::Initiate;
        Ok(())
    }

    fn on_welcome(
        &mut self,
        data: &[u8],
        metadata: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CurveError> {
        if data.len() != 160 {
            return Err("CURVE: WELCOME of the wrong size");
        }
        let server = self.peer.expect("a client knows its server's key");
        let b = pair(&server, self.transient.secret());
        let plain = open(
            &b,
            &nonce24(b"WELCOME-", &data[..16]),
            &data[16..160],
            "CURVE: WELCOME box does not open (wrong server key?)",
        )?;
        let server_t = key(&plain[..32]);
        let cookie = &plain[32..128];
        let session = pair(&server_t, self.transient.secret());
        // The vouch: our transient key and the server's key, from our long-term key.
        let mut vouch_plain = [0u8; 64];
        vouch_plain[..32].copy_from_slice(self.transient.public());
        vouch_plain[32..].copy_from_slice(&server);
        let vouch_nonce = self.long_nonces[0];
        let vouch = seal(
            &pair(&server_t, self.keys.secret()),
            &nonce24(b"VOUCH---", &vouch_nonce),
            &vouch_plain,
        );
        let mut plain = Vec::with_capacity(128 + metadata.len());
        plain.extend_from_slice(self.keys.public());
        plain.extend_from_slice(&vouch_nonce);
        plain.extend_from_slice(&vouch);
        plain.extend_from_slice(metadata);
        let short = self.next_nonce();
        let boxed = seal(&session, &nonce24(b"CurveZMQINITIATE", &short), &plain);
        command(out, &[b"\x08INITIATE", cookie, &short, &boxed]);
        self.peer_transient = Some(server_t);
        self.session = Some(session);
        self.state = State::Ready;
        Ok(())
    }

    fn on_initiate(
        &mut self,
        data: &[u8],
        metadata: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Vec<u8>, CurveError> {
        if data.len() < 248 {
            return Err("CURVE: INITIATE too short");
        }
        let cookie = &data[..96];
        let opened = XSalsa20Poly1305::new(GenericArray::from_slice(&self.cookie_key))
            .decrypt(
                GenericArray::from_slice(&nonce24(b"COOKIE--", &cookie[..16])),
                &cookie[16..96],
            )
            .map_err(|_| "CURVE: INITIATE cookie does not open")?;
        let client_t = key(&opened[..32]);
        if opened[32..64] != self.transient.secret()[..] {
            return Err("CURVE: INITIATE cookie is not ours");
        }
        self.take_peer_nonce(&data[96..104])?;
        let session = pair(&client_t, self.transient.secret());
        let plain = open(
            &session,
            &nonce24(b"CurveZMQINITIATE", &data[96..104]),
            &data[104..],
            "CURVE: INITIATE box does not open",
        )?;
        let client = key(&plain[..32]);
        let vouch = open(
            &pair(&client, self.transient.secret()),
            &nonce24(b"VOUCH---", &plain[32..48]),
            &plain[48..128],
            "CURVE: vouch does not open",
        )?;
        if vouch[..32] != client_t || vouch[32..64] != self.keys.public()[..] {
            return Err("CURVE: vouch is for another connection");
        }
        let short = self.next_nonce();
        let ready = seal(&session, &nonce24(b"CurveZMQREADY---", &short), metadata);
        command(out, &[b"\x05READY", &short, &ready]);
        self.peer = Some(client);
        self.peer_transient = Some(client_t);
        self.session = Some(session);
        self.state = State::Open;
        Ok(plain[128..].to_vec())
    }

    fn on_ready(&mut self, data: &[u8]) -> Result<Vec<u8>, CurveError> {
        if data.len() < 24 {
            return Err("CURVE: READY too short");
        }
        self.take_peer_nonce(&data[..8])?;
        let session = self.session.as_ref().expect("set at WELCOME");
        let meta = open(
            session,
            &nonce24(b"CurveZMQREADY---", &data[..8]),
            &data[8..],
            "CURVE: READY box does not open",
        )?;
        self.state = State::Open;
        Ok(meta)
    }

    /// Appends one frame sealed in a MESSAGE command. `flags`: 0x01 MORE, 0x02
    /// COMMAND (a ZMTP command such as PING, carried inside the box).
    pub(crate) fn seal_frame(&mut self, out: &mut Vec<u8>, flags: u8, data: &[u8]) {
        let short = self.next_nonce();
        let prefix: &[u8; 16] = if self.server {
            b"CurveZMQMESSAGES"
        } else {
            b"CurveZMQMESSAGEC"
        };
        let session = self.session.as_ref().expect("sealing only once open");
        // A data frame, as libzmq sends it (RFC 26 calls MESSAGE a command).
        encode_frame_header(out, 0, 8 + 8 + TAG + 1 + data.len());
        out.extend_from_slice(b"\x07MESSAGE");
        out.extend_from_slice(&short);
        // Tag first (NaCl's layout), then flags and data sealed in place.
        let tag_at = out.len();
        out.extend_from_slice(&[0u8; TAG]);
        let start = out.len();
        out.push(flags);
        out.extend_from_slice(data);
        let tag = session
            .encrypt_in_place_detached(
                GenericArray::from_slice(&nonce24(prefix, &short)),
                b"",
                &mut out[start..],
            )
            .expect("sealing in place cannot fail");
        out[tag_at..start].copy_from_slice(&tag);
    }

    /// Opens the data of a MESSAGE command: its flags and frame.
    pub(crate) fn open_message(&mut self, data: &[u8]) -> Result<(u8, Vec<u8>), CurveError> {
        if data.len() < 8 + TAG + 1 {
            return Err("CURVE: MESSAGE too short");
        }
        self.take_peer_nonce(&data[..8])?;
        let prefix: &[u8; 16] = if self.server {
            b"CurveZMQMESSAGEC"
        } else {
            b"CurveZMQMESSAGES"
        };
        let session = self
            .session
            .as_ref()
            .ok_or("CURVE: MESSAGE before the handshake")?;
        let tag = GenericArray::clone_from_slice(&data[8..8 + TAG]);
        let mut plain = data[8 + TAG..].to_vec();
        session
            .decrypt_in_place_detached(
                GenericArray::from_slice(&nonce24(prefix, &data[..8])),
                b"",
                &mut plain,
                &tag,
            )
            .map_err(|_| "CURVE: MESSAGE box does not open")?;
        let flags = plain.remove(0);
        if flags & !0x03 != 0 {
            return Err("CURVE: MESSAGE with unknown flags");
        }
        Ok((flags, plain))
    }
}
