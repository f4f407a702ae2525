//! Z85 (ZeroMQ RFC 32): the text form of CURVE keys, 5 characters for every 4
//! bytes. Zyre's `X-PUBLICKEY` header and czmq's certificate files use it.
//!
//! ```
//! use zmesh::wire::z85;
//! let bytes = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
//! assert_eq!(z85::encode(&bytes).as_deref(), Some("HelloWorld"));
//! assert_eq!(z85::decode("HelloWorld").as_deref(), Some(&bytes[..]));
//! ```

const ALPHABET: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Each byte's value in the alphabet, or 0xFF.
const fn decoder() -> [u8; 256] {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 85 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
}

const DECODE: [u8; 256] = decoder();

/// The Z85 text of `bytes`; None unless their length is a multiple of 4.
pub fn encode(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = String::with_capacity(bytes.len() / 4 * 5);
    for chunk in bytes.chunks_exact(4) {
        let mut value = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let mut five = [0u8; 5];
        for c in five.iter_mut().rev() {
            *c = ALPHABET[(value % 85) as usize];
            value /= 85;
        }
        out.extend(five.iter().map(|&c| c as char));
    }
    Some(out)
}

/// The bytes of Z85 `text`; None unless its length is a multiple of 5 and every
/// character and group is valid.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(5) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 5 * 4);
    for chunk in text.chunks_exact(5) {
        let mut value: u64 = 0;
        for &c in chunk {
            let d = DECODE[c as usize];
            if d == 0xFF {
                return None;
            }
            value = value * 85 + u64::from(d);
        }
        let value = u32::try_from(value).ok()?;
        out.extend_from_slice(&value.to_be_bytes());
    }
    Some(out)
}

/// A 32-byte key from its 40-character Z85 text.
pub fn decode_key(text: &str) -> Option<[u8; 32]> {
    if text.len() != 40 {
        return None;
    }
    decode(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_32_example_and_errors() {
        let bytes = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
        assert_eq!(encode(&bytes).unwrap(), "HelloWorld");
        assert_eq!(decode("HelloWorld").unwrap(), bytes);
        assert_eq!(encode(&[1, 2, 3]), None);
        assert_eq!(decode("Hello"), Some(vec![0x86, 0x4F, 0xD2, 0x6F]));
        assert_eq!(decode("Hell"), None);
        assert_eq!(decode("Hell\""), None, "not in the alphabet");
        assert_eq!(decode("#####"), None, "over 2^32");
        // libzmq's test key pair (tests/testutil_security.hpp).
        let public = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
        assert_eq!(encode(&decode_key(public).unwrap()).unwrap(), public);
    }

    proptest! {
        #[test]
        fn round_trip(words in proptest::collection::vec(any::<[u8; 4]>(), 0..20)) {
            let bytes: Vec<u8> = words.concat();
            prop_assert_eq!(decode(&encode(&bytes).unwrap()).unwrap(), bytes);
        }

        #[test]
        fn decode_never_panics(s in ".{0,60}") {
            let _ = decode(&s);
            let _ = decode_key(&s);
        }
    }
}
