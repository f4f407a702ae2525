//! The `serde` feature's hand-written parts: a [`PeerId`] is its 32 hex digits, a
//! message frame is a string when it is UTF-8, else `{"hex": "..."}`, so that JSON
//! lines stay readable and every frame still round-trips, and a duration is a
//! number of seconds (docs/json.md).

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::event::PeerId;

impl Serialize for PeerId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PeerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PeerId, D::Error> {
        struct Hex;
        impl Visitor<'_> for Hex {
            type Value = PeerId;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a peer id of 32 hex digits")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PeerId, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Hex)
    }
}

mod frames {
    use super::*;
    use crate::frames::Frames;

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Frame<'a> {
        Text(std::borrow::Cow<'a, str>),
        Binary { hex: String },
    }

    impl Serialize for Frames {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.iter().map(|f| match std::str::from_utf8(f) {
                Ok(t) => Frame::Text(t.into()),
                Err(_) => Frame::Binary {
                    hex: f.iter().map(|b| format!("{b:02x}")).collect(),
                },
            }))
        }
    }

    impl<'de> Deserialize<'de> for Frames {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Frames, D::Error> {
            let frames: Vec<Vec<u8>> = Vec::<Frame<'de>>::deserialize(d)?
                .into_iter()
                .map(|f| match f {
                    Frame::Text(t) => Ok(t.into_owned().into_bytes()),
                    Frame::Binary { hex } => unhex(&hex).ok_or_else(|| {
                        de::Error::custom(
                            "a binary frame is {\"hex\": an even number of hex digits}",
                        )
                    }),
                })
                .collect::<Result<_, _>>()?;
            Ok(Frames::from(frames))
        }
    }

    fn unhex(s: &str) -> Option<Vec<u8>> {
        let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        let b = s.as_bytes();
        if !b.len().is_multiple_of(2) {
            return None;
        }
        b.chunks(2)
            .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
            .collect()
    }
}

/// A duration as seconds (a float), as people and metrics tools read it.
pub(crate) mod secs {
    use super::*;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(de::Error::custom)
    }
}

/// An optional duration as seconds (absent when `None`).
pub(crate) mod opt_secs {
    use super::*;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<f64>::deserialize(d)? {
            Some(secs) => Duration::try_from_secs_f64(secs)
                .map(Some)
                .map_err(de::Error::custom),
            None => Ok(None),
        }
    }
}
