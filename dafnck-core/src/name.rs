//! [`Name`]: a resource's or a type's name, shared. Cloning one is a
//! reference-count increment, not a copy: a plan of a large program, its
//! steps and its dependency lists hold each name once.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An immutable, cheaply cloned string: a resource name (`web`), a type
/// name (`aws:ec2:Instance`). It compares, hashes, orders, prints and
/// serializes as the string it holds, and derefs to `&str`.
///
/// ```
/// use dafnck_core::Name;
/// let a = Name::from("web");
/// let b = a.clone(); // shares the text
/// assert_eq!(a, "web");
/// assert_eq!(b.len(), 3);
/// assert_eq!(serde_json::to_string(&a).unwrap(), "\"web\"");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Name(Arc<str>);

impl Name {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<Path> for Name {
    fn as_ref(&self) -> &Path {
        Path::new(&*self.0)
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name(s.into())
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Name {
        Name(s.as_str().into())
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name(s.into())
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.0.to_string()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        &*self.0 == other.as_str()
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == &*other.0
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Name, D::Error> {
        String::deserialize(deserializer).map(Name::from)
    }
}

/// A map keyed by [`Name`] with a fast hash: the index of a program's
/// resources by name, looked up for every recorded resource when planning.
pub(crate) type NameMap<V> =
    std::collections::HashMap<Name, V, std::hash::BuildHasherDefault<NameHasher>>;

/// A multiply-rotate hash of eight bytes at a time, finished with a folded
/// multiply (as FxHash and foldhash do). Names come from the program, not
/// from an adversary, so SipHash's resistance to collision flooding buys
/// nothing here, and it was a tenth of planning's instructions.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NameHasher(u64);

impl NameHasher {
    const K: u64 = 0xf135_7aea_2e62_a9c5;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(Self::K);
    }
}

impl std::hash::Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        let wide = u128::from(self.0) * u128::from(0x2d35_8dcc_aa6c_78a5u64);
        (wide as u64) ^ ((wide >> 64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn looks_up_and_compares_as_its_string() {
        let mut m: HashMap<Name, u8> = HashMap::new();
        m.insert(Name::from("a"), 1);
        assert_eq!(m.get("a"), Some(&1));
        let (a, b) = (Name::from("a"), Name::from("b"));
        assert!(a < b);
        assert_eq!(vec!["x".to_string()], vec![Name::from("x")]);
        let back: Name = serde_json::from_str("\"web\"").unwrap();
        assert_eq!(back, "web");
        assert_eq!(format!("{back} {back:?}"), "web \"web\"");
    }

    #[test]
    fn a_name_map_finds_names_by_their_string_and_spreads_similar_ones() {
        use std::hash::BuildHasher;
        let mut m: NameMap<usize> = NameMap::default();
        for i in 0..10_000 {
            m.insert(Name::from(format!("node-{i:06}")), i);
        }
        assert_eq!(m.get("node-004242"), Some(&4242));
        assert_eq!(m.get("node-4242"), None);
        // Names differing in one character land in different buckets.
        let hasher = std::hash::BuildHasherDefault::<NameHasher>::default();
        let buckets: std::collections::HashSet<u64> = (0..1024)
            .map(|i| hasher.hash_one(format!("node-{i:06}").as_str()) & 1023)
            .collect();
        assert!(buckets.len() > 600, "{}", buckets.len());
    }
}
