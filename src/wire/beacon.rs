//! The ZRE UDP discovery beacon.
//!
//! ```text
//! offset 0   'Z' 'R' 'E'      3 bytes
//! offset 3   version          0x01 (plain) or 0x03 (CURVE)
//! offset 4   UUID             16 bytes
//! offset 20  mailbox port     u16 big-endian; 0 means "I am leaving"
//! offset 22  public key       32 bytes, version 0x03 only
//! ```
//!
//! A v1 beacon is exactly 22 bytes and a v3 beacon exactly 54; anything else is
//! rejected, as Zyre does (it accepts only those two sizes).
//!
//! ```
//! use zmesh::wire::beacon::Beacon;
//! let b = Beacon::new([0x10; 16], 49152);
//! let bytes = b.encode();
//! assert_eq!(bytes.len(), 22);
//! assert_eq!(Beacon::parse(&bytes), Ok(b));
//! ```

use super::WireError;

/// The ZRE discovery port (IANA "ZRE-DISC"), where beacons go by default.
pub const DEFAULT_PORT: u16 = 5670;

/// Length of a plain (version 1) beacon.
pub const BEACON_V1_LEN: usize = 22;
/// Length of a CURVE (version 3) beacon.
pub const BEACON_V3_LEN: usize = 54;
/// The three-byte prefix of every beacon.
pub const BEACON_PREFIX: &[u8; 3] = b"ZRE";

/// Where each field of a beacon lies: `ZRE`, version, UUID, port, and (version 3)
/// the CURVE public key.
mod at {
    use std::ops::Range;
    pub(super) const PREFIX: Range<usize> = 0..3;
    pub(super) const VERSION: usize = 3;
    pub(super) const UUID: Range<usize> = 4..20;
    pub(super) const PORT: Range<usize> = 20..22;
    pub(super) const KEY: Range<usize> = 22..54;
}

/// One decoded beacon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beacon {
    /// The sender's 16-byte UUID.
    pub uuid: [u8; 16],
    /// The sender's inbox (ROUTER) TCP port; 0 announces that the sender is leaving.
    pub port: u16,
    /// The sender's CURVE public key: present exactly for version-3 beacons.
    pub public_key: Option<[u8; 32]>,
}

impl Beacon {
    /// A plain version-1 beacon.
    pub fn new(uuid: [u8; 16], port: u16) -> Beacon {
        Beacon {
            uuid,
            port,
            public_key: None,
        }
    }

    /// The version byte this beacon is sent with (1, or 3 when it carries a key).
    pub fn version(&self) -> u8 {
        if self.public_key.is_some() {
            3
        } else {
            1
        }
    }

    /// True for the port-0 beacon a node sends when it stops.
    pub fn is_leaving(&self) -> bool {
        self.port == 0
    }

    /// Parses a datagram. Never panics; rejects any length other than 22 or 54, a wrong
    /// prefix, and a version that does not match the length.
    pub fn parse(buf: &[u8]) -> Result<Beacon, WireError> {
        if buf.len() != BEACON_V1_LEN && buf.len() != BEACON_V3_LEN {
            return Err(WireError::BadLength(buf.len()));
        }
        if &buf[at::PREFIX] != BEACON_PREFIX {
            return Err(WireError::BadSignature);
        }
        let version = buf[at::VERSION];
        let expected_len = match version {
            1 => BEACON_V1_LEN,
            3 => BEACON_V3_LEN,
            v => return Err(WireError::UnsupportedVersion(v)),
        };
        if buf.len() != expected_len {
            return Err(WireError::BadLength(buf.len()));
        }
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&buf[at::UUID]);
        let port = u16::from_be_bytes([buf[at::PORT.start], buf[at::PORT.start + 1]]);
        let public_key = if version == 3 {
            let mut key = [0u8; 32];
            key.copy_from_slice(&buf[at::KEY]);
            Some(key)
        } else {
            None
        };
        Ok(Beacon {
            uuid,
            port,
            public_key,
        })
    }

    /// Encodes the beacon: 22 bytes, or 54 with a public key.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(BEACON_V3_LEN);
        out.extend_from_slice(BEACON_PREFIX);
        out.push(self.version());
        out.extend_from_slice(&self.uuid);
        out.extend_from_slice(&self.port.to_be_bytes());
        if let Some(key) = &self.public_key {
            out.extend_from_slice(key);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uuid_10_1f() -> [u8; 16] {
        let mut u = [0u8; 16];
        for (i, b) in u.iter_mut().enumerate() {
            *b = 0x10 + i as u8;
        }
        u
    }

    #[test]
    fn v1_literal_from_reference() {
        // Example from the protocol notes: UUID 10..1f, port 49152.
        let bytes = [
            0x5a, 0x52, 0x45, 0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
            0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0xc0, 0x00,
        ];
        let b = Beacon::parse(&bytes).unwrap();
        assert_eq!(b.uuid, uuid_10_1f());
        assert_eq!(b.port, 49152);
        assert_eq!(b.public_key, None);
        assert!(!b.is_leaving());
        assert_eq!(b.encode(), bytes);
    }

    #[test]
    fn leaving_beacon() {
        let mut bytes = vec![0x5a, 0x52, 0x45, 0x01];
        bytes.extend_from_slice(&uuid_10_1f());
        bytes.extend_from_slice(&[0, 0]);
        let b = Beacon::parse(&bytes).unwrap();
        assert!(b.is_leaving());
        assert_eq!(Beacon::new(uuid_10_1f(), 0).encode(), bytes);
    }

    #[test]
    fn v3_with_key() {
        let mut bytes = vec![0x5a, 0x52, 0x45, 0x03];
        bytes.extend_from_slice(&uuid_10_1f());
        bytes.extend_from_slice(&[0xc0, 0x01]);
        bytes.extend((0..32).map(|i| 0xa0 ^ i as u8));
        let b = Beacon::parse(&bytes).unwrap();
        assert_eq!(b.version(), 3);
        assert_eq!(b.port, 0xc001);
        assert_eq!(b.public_key.unwrap()[1], 0xa1);
        assert_eq!(b.encode(), bytes);
    }

    #[test]
    fn rejects_bad_input() {
        let good = Beacon::new(uuid_10_1f(), 5).encode();
        assert_eq!(Beacon::parse(&good[..21]), Err(WireError::BadLength(21)));
        assert_eq!(Beacon::parse(&[]), Err(WireError::BadLength(0)));
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(Beacon::parse(&bad), Err(WireError::BadSignature));
        let mut bad = good.clone();
        bad[3] = 2;
        assert_eq!(Beacon::parse(&bad), Err(WireError::UnsupportedVersion(2)));
        // A v3 version byte on a 22-byte datagram, and v1 on 54 bytes.
        let mut bad = good.clone();
        bad[3] = 3;
        assert_eq!(Beacon::parse(&bad), Err(WireError::BadLength(22)));
        let mut long = good.clone();
        long.extend_from_slice(&[0u8; 32]);
        assert_eq!(Beacon::parse(&long), Err(WireError::BadLength(54)));
    }

    proptest! {
        #[test]
        fn round_trip(uuid in any::<[u8; 16]>(), port in any::<u16>(), key in proptest::option::of(any::<[u8; 32]>())) {
            let b = Beacon { uuid, port, public_key: key };
            prop_assert_eq!(Beacon::parse(&b.encode()), Ok(b));
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Beacon::parse(&bytes);
        }

        #[test]
        fn prefixed_random_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..60)) {
            let mut bytes = b"ZRE".to_vec();
            bytes.extend_from_slice(&tail);
            if let Ok(b) = Beacon::parse(&bytes) {
                prop_assert_eq!(b.encode(), bytes);
            }
        }
    }
}
