//! [`Frames`]: the frames of one multipart message, in one shared buffer.

use std::fmt;
use std::ops::Index;

use bytes::Bytes;

use crate::wire::zmtp::{self, FLAG_MORE};

/// The frames of one multipart message, as [`Event::Whisper`](crate::Event::Whisper)
/// and [`Event::Shout`](crate::Event::Shout) carry them and as
/// [`Node::whisper`](crate::Node::whisper) and [`Node::shout`](crate::Node::shout)
/// take them.
///
/// All frames sit in one buffer, so that a message costs no allocation per frame:
/// in the value itself for a message of up to 30 bytes with its framing (a
/// 16-byte single frame is 18), else reference-counted, so that a clone costs no
/// copy. A received message of more than 30 bytes shares the buffer its bytes
/// were read into (up to 64 KiB a read): an application that keeps many small
/// messages for long keeps copies ([`Frames::to_vec`]) rather than the messages.
///
/// Anything that iterates over byte strings turns into `Frames`:
///
/// ```
/// use zmesh::Frames;
/// let m = Frames::from(["hello", "world"]);
/// assert_eq!(m.len(), 2);
/// assert_eq!(&m[0], b"hello");
/// assert_eq!(m.iter().collect::<Vec<_>>(), [&b"hello"[..], b"world"]);
/// assert_eq!(m, vec![b"hello".to_vec(), b"world".to_vec()]);
/// assert_eq!(m.concat(), b"helloworld");
/// ```
#[derive(Clone)]
pub struct Frames {
    repr: Repr,
}

/// `count` ZMTP message frames back to back (flags, size, body), MORE on every one
/// but the last: the bytes a link writes and reads, so that neither side encodes
/// or splits them again.
#[derive(Clone)]
enum Repr {
    /// A small message in place: no allocation, and no count shared between
    /// threads (a 16-byte whisper, header frame and all, is 26 bytes).
    Inline {
        count: u8,
        len: u8,
        buf: [u8; INLINE],
    },
    Shared {
        raw: Bytes,
        count: usize,
    },
}

/// The most encoded bytes kept in place: what fits beside the tag without making
/// a `Frames` larger than a shared one (40 bytes).
const INLINE: usize = 30;

impl Frames {
    /// No frames.
    pub const fn new() -> Frames {
        Frames {
            repr: Repr::Inline {
                count: 0,
                len: 0,
                buf: [0; INLINE],
            },
        }
    }

    /// How many frames.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Inline { count, .. } => *count as usize,
            Repr::Shared { count, .. } => *count,
        }
    }

    /// True if there are no frames.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The frames in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            rest: self.encoded(),
            left: self.len(),
        }
    }

    /// Frame `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.iter().nth(i)
    }

    /// The first frame, if any.
    pub fn first(&self) -> Option<&[u8]> {
        self.get(0)
    }

    /// Frame `i` as [`Bytes`], if there is one: a share of the message's buffer
    /// (no copy), or a copy for a message small enough to be kept in place.
    pub fn bytes(&self, i: usize) -> Option<Bytes> {
        let raw = self.encoded();
        let mut at = 0;
        for _ in 0..i {
            at = frame_at(raw, at)?.1;
        }
        let (body, _) = frame_at(raw, at)?;
        Some(match &self.repr {
            Repr::Shared { raw, .. } => raw.slice(body),
            Repr::Inline { .. } => Bytes::copy_from_slice(&raw[body]),
        })
    }

    /// The frames copied out, one vector each.
    pub fn to_vec(&self) -> Vec<Vec<u8>> {
        self.iter().map(<[u8]>::to_vec).collect()
    }

    /// The frames' bytes joined, without separators.
    pub fn concat(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.content_len());
        for f in self {
            out.extend_from_slice(f);
        }
        out
    }

    /// The frames' bytes together, without framing.
    pub fn content_len(&self) -> usize {
        self.iter().map(<[u8]>::len).sum()
    }

    /// The frames as ZMTP message frames: what a link writes.
    pub(crate) fn encoded(&self) -> &[u8] {
        match &self.repr {
            Repr::Inline { len, buf, .. } => &buf[..*len as usize],
            Repr::Shared { raw, .. } => raw,
        }
    }

    /// Frames from `count` ZMTP message frames that a decoder has checked.
    pub(crate) fn from_encoded(raw: Bytes, count: usize) -> Frames {
        check(&raw, count);
        if raw.len() <= INLINE {
            return Frames::in_place(&raw, count);
        }
        Frames {
            repr: Repr::Shared { raw, count },
        }
    }

    /// Frames from `count` checked ZMTP message frames copied in place (the caller
    /// sees that they fit with [`Frames::fits_in_place`]; more bytes are copied
    /// into a buffer of their own).
    pub(crate) fn in_place(raw: &[u8], count: usize) -> Frames {
        check(raw, count);
        if !Frames::fits_in_place(raw.len()) {
            // Not a caller of this crate's: a copy of its own rather than a panic.
            return Frames::from_encoded(Bytes::copy_from_slice(raw), count);
        }
        let mut buf = [0; INLINE];
        buf[..raw.len()].copy_from_slice(raw);
        Frames {
            repr: Repr::Inline {
                count: count as u8,
                len: raw.len() as u8,
                buf,
            },
        }
    }

    /// True if frames taking `len` bytes encoded are kept in place.
    pub(crate) fn fits_in_place(len: usize) -> bool {
        len <= INLINE
    }

    /// The same frames in a buffer of their own, so that keeping them does not
    /// keep the rest of the buffer they were read into (what the engine holds
    /// for later is counted by its frames' size).
    pub(crate) fn detached(&self) -> Frames {
        match &self.repr {
            Repr::Inline { .. } => self.clone(),
            Repr::Shared { raw, count } => Frames {
                repr: Repr::Shared {
                    raw: Bytes::copy_from_slice(raw),
                    count: *count,
                },
            },
        }
    }

    /// The first frame and the frames after it (sharing the buffer, or in place
    /// when they are few bytes), or None if there are no frames.
    pub(crate) fn split_first(&self) -> Option<(&[u8], Frames)> {
        let raw = self.encoded();
        let (first, next) = frame_at(raw, 0)?;
        let count = self.len().checked_sub(1)?;
        let rest = match &self.repr {
            Repr::Shared { raw, .. } if !Frames::fits_in_place(raw.len() - next) => {
                Frames::from_encoded(raw.slice(next..), count)
            }
            _ => Frames::in_place(&raw[next..], count),
        };
        Some((&raw[first], rest))
    }
}

/// In debug builds: `raw` is `count` whole frames.
fn check(raw: &[u8], count: usize) {
    debug_assert_eq!(
        Iter {
            rest: raw,
            left: usize::MAX
        }
        .count(),
        count
    );
}

/// Where the body of the frame at `at` lies in `raw`, and where the next frame
/// starts; None past the last frame (or on bytes that are not whole frames,
/// which this type never holds: checked all the same, as a slice index would
/// panic).
fn frame_at(raw: &[u8], at: usize) -> Option<(std::ops::Range<usize>, usize)> {
    let (h, size) = zmtp::frame_header(raw.get(at..)?)?;
    let start = at + h;
    let end = start.checked_add(size).filter(|&e| e <= raw.len())?;
    Some((start..end, end))
}

impl Default for Frames {
    fn default() -> Frames {
        Frames::new()
    }
}

/// The frames of a [`Frames`], in order.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (body, next) = frame_at(self.rest, 0)?;
        let body = &self.rest[body];
        self.rest = &self.rest[next..];
        self.left -= 1;
        Some(body)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Frames {
    type Item = &'a [u8];
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl Index<usize> for Frames {
    type Output = [u8];
    /// Panics if there is no frame `i`, as a slice does.
    fn index(&self, i: usize) -> &[u8] {
        match self.get(i) {
            Some(f) => f,
            None => panic!("frame {i} of a message of {} frames", self.len()),
        }
    }
}

impl<I, F> From<I> for Frames
where
    I: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    /// Encodes the frames into one buffer (one allocation, of the exact size for a
    /// message of one frame).
    fn from(frames: I) -> Frames {
        let mut frames = frames.into_iter();
        let Some(first) = frames.next() else {
            return Frames::new();
        };
        let first = first.as_ref();
        let Some(second) = frames.next() else {
            let size = zmtp::frame_size(first.len());
            if Frames::fits_in_place(size) {
                // A short frame without MORE: flags 0, then its size.
                let mut raw = [0; INLINE];
                raw[1] = first.len() as u8;
                raw[2..size].copy_from_slice(first);
                return Frames::in_place(&raw[..size], 1);
            }
            let mut raw = Vec::with_capacity(size);
            zmtp::encode_frame_into(&mut raw, false, first);
            return Frames::from_encoded(raw.into(), 1);
        };
        let mut raw = Vec::new();
        zmtp::encode_frame_into(&mut raw, true, first);
        let mut last = raw.len();
        zmtp::encode_frame_into(&mut raw, true, second.as_ref());
        let mut count = 2;
        for f in frames {
            last = raw.len();
            zmtp::encode_frame_into(&mut raw, true, f.as_ref());
            count += 1;
        }
        raw[last] &= !FLAG_MORE;
        Frames::from_encoded(raw.into(), count)
    }
}

impl FromIterator<Vec<u8>> for Frames {
    fn from_iter<T: IntoIterator<Item = Vec<u8>>>(iter: T) -> Frames {
        Frames::from(iter)
    }
}

impl<'a> FromIterator<&'a [u8]> for Frames {
    fn from_iter<T: IntoIterator<Item = &'a [u8]>>(iter: T) -> Frames {
        Frames::from(iter)
    }
}

impl PartialEq for Frames {
    /// Frame by frame (the framing may differ: a peer may announce a short frame
    /// with a long size field).
    fn eq(&self, other: &Frames) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Frames {}

impl<F: AsRef<[u8]>> PartialEq<Vec<F>> for Frames {
    fn eq(&self, other: &Vec<F>) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter().map(AsRef::as_ref))
    }
}

impl<F: AsRef<[u8]>, const N: usize> PartialEq<[F; N]> for Frames {
    fn eq(&self, other: &[F; N]) -> bool {
        self.len() == N && self.iter().eq(other.iter().map(AsRef::as_ref))
    }
}

impl fmt::Debug for Frames {
    /// Each frame as a byte string, `b"..."` as Rust writes one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Frame<'a>(&'a [u8]);
        impl fmt::Debug for Frame<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "b\"{}\"", self.0.escape_ascii())
            }
        }
        f.debug_list().entries(self.iter().map(Frame)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::zmtp::FLAG_LONG;
    use proptest::prelude::*;

    #[test]
    fn empty_one_and_many() {
        let none = Frames::from(Vec::<Vec<u8>>::new());
        assert!(none.is_empty());
        assert_eq!(none.first(), None);
        assert_eq!(none.split_first(), None);
        let one = Frames::from([b"x".as_slice()]);
        assert_eq!(one.encoded(), &[0, 1, b'x']);
        let (first, rest) = one.split_first().unwrap();
        assert_eq!((first, rest.len()), (&b"x"[..], 0));
        let big = vec![7u8; 300];
        let three = Frames::from([&b""[..], &big, b"z"]);
        assert_eq!(three.len(), 3);
        assert_eq!(three.encoded()[..2], [FLAG_MORE, 0]);
        assert_eq!(three.encoded()[2], FLAG_MORE | FLAG_LONG);
        assert_eq!(three.encoded()[2 + 9 + 300..], [0, 1, b'z']);
        assert_eq!(three.bytes(1).unwrap(), big);
        assert_eq!(three.bytes(3), None);
        assert_eq!(&three[2], b"z");
        let (first, rest) = three.split_first().unwrap();
        assert_eq!(first, b"");
        assert_eq!(rest, vec![big.clone(), b"z".to_vec()]);
        assert_eq!(
            format!("{:?}", Frames::from(["a\n", "\u{7f}"])),
            r#"[b"a\n", b"\x7f"]"#
        );
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn small_messages_stay_in_place() {
        // An event carries one: no larger than a shared buffer's handle and count.
        assert_eq!(std::mem::size_of::<Frames>(), 40);
        let small = Frames::from([[7u8; 28]]);
        assert!(matches!(
            small.repr,
            Repr::Inline {
                count: 1,
                len: 30,
                ..
            }
        ));
        let two = Frames::from([&b"header"[..], b"sixteen bytes..."]);
        assert!(matches!(two.repr, Repr::Inline { count: 2, .. }));
        let big = Frames::from([[7u8; 29]]);
        assert!(matches!(big.repr, Repr::Shared { count: 1, .. }));
        assert_eq!(big.bytes(0).unwrap(), [7u8; 29][..]);
        // The rest of a shared message, once small, is in place too.
        let m = Frames::from([&[1u8; 40][..], b"abc"]);
        let (first, rest) = m.split_first().unwrap();
        assert_eq!(first, [1u8; 40]);
        assert!(matches!(
            rest.repr,
            Repr::Inline {
                count: 1,
                len: 5,
                ..
            }
        ));
        assert_eq!(rest, [b"abc"]);
        let m = Frames::from([&b"h"[..], &[2u8; 40]]);
        let (_, rest) = m.split_first().unwrap();
        assert!(matches!(rest.repr, Repr::Shared { count: 1, .. }));
        assert_eq!(rest.bytes(0).unwrap(), [2u8; 40][..]);
        assert_eq!(rest.detached(), rest);
    }

    #[test]
    fn bytes_that_are_not_whole_frames_end_the_walk() {
        assert_eq!(frame_at(&[0, 3, b'a'], 0), None);
        assert_eq!(frame_at(&[FLAG_LONG, 0xff, 0, 0, 0, 0, 0, 0, 0], 0), None);
        assert_eq!(frame_at(&[0, 1, b'a'], 3), None);
        assert_eq!(frame_at(&[0, 1, b'a'], 4), None);
        assert_eq!(frame_at(&[0, 1, b'a', 0, 0], 3), Some((5..5, 5)));
        let big = Frames::in_place(&[0u8; 40][..], 20);
        assert!(matches!(big.repr, Repr::Shared { count: 20, .. }));
    }

    #[test]
    #[should_panic(expected = "frame 1 of a message of 1 frames")]
    fn indexing_past_the_end_panics() {
        let _ = &Frames::from(["a"])[1];
    }

    proptest! {
        #[test]
        fn frames_round_trip(frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 0..6)) {
            let m = Frames::from(&frames);
            prop_assert_eq!(m.len(), frames.len());
            prop_assert_eq!(m.to_vec(), frames.clone());
            prop_assert_eq!(m.concat(), frames.concat());
            prop_assert_eq!(m.content_len(), frames.iter().map(Vec::len).sum::<usize>());
            // The same bytes as a link encodes a message with.
            let mut wire = Vec::new();
            zmtp::encode_message_into(&mut wire, &frames);
            prop_assert_eq!(m.encoded(), &wire[..]);
            for (i, f) in frames.iter().enumerate() {
                prop_assert_eq!(m.bytes(i).unwrap(), f);
            }
        }
    }
}
