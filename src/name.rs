//! [`Name`]: a peer's or a group's name, as events carry them.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// A peer's or a group's name, as [`Event`](crate::Event)s carry them: a string
/// kept in place when short (up to 22 bytes; Zyre's default peer names are six),
/// shared when longer, so that an event costs no allocation for its names. It
/// reads as a `&str` (it dereferences to one) and compares with strings:
///
/// ```
/// use zmesh::Name;
/// let n = Name::from("bob");
/// assert_eq!(n, "bob");
/// assert_eq!(n.len(), 3);
/// assert_eq!(format!("hello {n}"), "hello bob");
/// let s: String = n.into();
/// assert_eq!(s, "bob");
/// ```
#[derive(Clone)]
pub struct Name(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE] },
    Shared(Arc<str>),
}

/// The longest name kept in place: what fits beside the length and the tag in
/// the 24 bytes of a `String`.
const INLINE: usize = 22;

impl Name {
    /// The name `s`.
    pub fn new(s: &str) -> Name {
        if s.len() > INLINE {
            return Name(Repr::Shared(s.into()));
        }
        let mut buf = [0; INLINE];
        buf[..s.len()].copy_from_slice(s.as_bytes());
        Name(Repr::Inline {
            len: s.len() as u8,
            buf,
        })
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Copied from a `str`, whole: never the default.
            Repr::Inline { len, buf } => {
                std::str::from_utf8(&buf[..*len as usize]).unwrap_or_default()
            }
            Repr::Shared(s) => s,
        }
    }
}

impl Default for Name {
    fn default() -> Name {
        Name::new("")
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Name {
    fn as_ref(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name::new(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name::new(&s)
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Name {
        Name::new(s)
    }
}

impl From<std::borrow::Cow<'_, str>> for Name {
    fn from(s: std::borrow::Cow<'_, str>) -> Name {
        Name::new(&s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.as_str().to_owned()
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Name {
    /// As the `str` hashes, so that a `str` finds a `Name` in a map.
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}

macro_rules! eq_with {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Name {
            fn eq(&self, other: &$t) -> bool {
                self.as_str() == AsRef::<str>::as_ref(other)
            }
        }
        impl PartialEq<Name> for $t {
            fn eq(&self, other: &Name) -> bool {
                AsRef::<str>::as_ref(self) == other.as_str()
            }
        }
    )*};
}

eq_with!(str, &str, String);

#[cfg(feature = "serde")]
impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Name::new(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_name_is_as_large_as_a_string() {
        assert_eq!(std::mem::size_of::<Name>(), 24);
    }

    #[test]
    fn a_name_comes_back_whole() {
        let (at, past) = ("x".repeat(22), "x".repeat(23));
        for name in ["", "3F9A2C", "ÿ-é-☃", at.as_str(), past.as_str()] {
            assert_eq!(Name::new(name).as_str(), name);
            assert_eq!(Name::new(name).to_string(), name);
        }
    }

    #[test]
    fn short_in_place_long_shared_both_read_alike() {
        let short = Name::new("x".repeat(22).as_str());
        assert!(matches!(short.0, Repr::Inline { len: 22, .. }));
        let long = Name::new("é".repeat(12).as_str());
        assert!(matches!(long.0, Repr::Shared(_)));
        assert_eq!(long, "é".repeat(12));
        assert_eq!(long.clone(), long);
        assert_eq!(Name::default(), "");
        let (a, b) = (Name::from("a"), Name::from("b"));
        assert!(a < b);
        assert_eq!(
            format!("{:?} [{:>4}]", Name::from("a\"b"), Name::from("c")),
            r#""a\"b" [   c]"#
        );
        let mut m = HashMap::new();
        m.insert(Name::from("chat"), 1);
        assert_eq!(m.get("chat"), Some(&1));
        let (chat, x) = (Name::from("chat"), Name::from("x"));
        let owned = String::from("x");
        assert!("chat" == chat);
        assert!(*"chat" == chat);
        assert_eq!(owned, x);
        assert_eq!(x, owned);
    }
}
