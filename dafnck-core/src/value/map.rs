//! [`ValueMap`], the map inside a [`Value::Map`]: its entries sorted by key
//! in one shared allocation.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::mem;
use std::ops::Index;
use std::sync::Arc;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Value;

type Entry = (String, Value);

/// A map from field names to values, sorted by key: what a [`Value::Map`]
/// holds. Its methods are named as [`BTreeMap`]'s, and it iterates,
/// compares, renders and serializes as a `BTreeMap<String, Value>` would
/// (keys in order, so the state's bytes are the same).
///
/// The entries are one sorted array behind an [`Arc`]: a clone is a
/// reference count, so the plan, the journal and the state share one copy
/// of a resource's values; a write to a shared map copies it first. A
/// resource's map of a few fields costs its entries and 16 bytes, where a
/// `BTreeMap`'s node costs 632 bytes however few it holds.
///
/// # Caveats
/// [`ValueMap::insert`] of a new key and [`ValueMap::remove`] rebuild the
/// array (time linear in the map's size); build a large map with
/// `collect` or [`Extend`], which sort once.
///
/// ```
/// use dafnck_core::{Value, ValueMap};
///
/// let mut m: ValueMap = [("b".to_owned(), Value::Int(2))].into();
/// m.insert("a".into(), Value::Int(1));
/// assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b"]);
/// assert_eq!(m.get("a"), Some(&Value::Int(1)));
/// assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"a":1,"b":2}"#);
/// ```
#[derive(Clone, Default)]
pub struct ValueMap {
    /// Sorted by key, no key twice; `None` when empty (no allocation).
    entries: Option<Arc<[Entry]>>,
}

impl ValueMap {
    /// An empty map (allocates nothing).
    pub const fn new() -> ValueMap {
        ValueMap { entries: None }
    }

    /// Its entries, sorted by key.
    fn slice(&self) -> &[Entry] {
        self.entries.as_deref().unwrap_or(&[])
    }

    /// Its entries to write: copied first if another clone shares them.
    fn slice_mut(&mut self) -> &mut [Entry] {
        match &mut self.entries {
            Some(entries) => Arc::make_mut(entries),
            None => &mut [],
        }
    }

    /// From entries already sorted by key with no key twice.
    fn from_sorted(entries: Vec<Entry>) -> ValueMap {
        ValueMap {
            entries: (!entries.is_empty()).then(|| entries.into()),
        }
    }

    /// From entries in any order; of a key given twice the last value wins,
    /// as with `BTreeMap`'s `collect`.
    fn from_unsorted(mut entries: Vec<Entry>) -> ValueMap {
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            // `a` follows `b`; keep the later value in `b`'s place.
            entries.dedup_by(|a, b| {
                let same = a.0 == b.0;
                if same {
                    mem::swap(a, b);
                }
                same
            });
        }
        ValueMap::from_sorted(entries)
    }

    /// Its entries, moved out when no clone shares them, else copied.
    fn into_vec(self) -> Vec<Entry> {
        match self.entries {
            None => Vec::new(),
            Some(mut entries) => match Arc::get_mut(&mut entries) {
                Some(own) => own.iter_mut().map(mem::take).collect(),
                None => entries.to_vec(),
            },
        }
    }

    fn find<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.slice()
            .binary_search_by(|(k, _)| Borrow::<Q>::borrow(k).cmp(key))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.slice().len()
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_none()
    }

    /// The value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&Value>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &self.slice()[i].1)
    }

    /// The entry of `key`.
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&String, &Value)>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| {
            let (k, v) = &self.slice()[i];
            (k, v)
        })
    }

    /// Whether it has `key`.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).is_ok()
    }

    /// The value of `key`, to change (the map is copied first if shared).
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut Value>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let i = self.find(key).ok()?;
        Some(&mut self.slice_mut()[i].1)
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match self.find(&key) {
            Ok(i) => Some(mem::replace(&mut self.slice_mut()[i].1, value)),
            Err(i) => {
                let mut entries = mem::take(self).into_vec();
                entries.insert(i, (key, value));
                *self = ValueMap::from_sorted(entries);
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<Value>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Removes `key`; returns its entry.
    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(String, Value)>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let i = self.find(key).ok()?;
        let mut entries = mem::take(self).into_vec();
        let removed = entries.remove(i);
        *self = ValueMap::from_sorted(entries);
        Some(removed)
    }

    /// Keeps only the entries `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut Value) -> bool) {
        let mut entries = mem::take(self).into_vec();
        entries.retain_mut(|(k, v)| keep(k, v));
        *self = ValueMap::from_sorted(entries);
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries = None;
    }

    /// The entry with the smallest key.
    pub fn first_key_value(&self) -> Option<(&String, &Value)> {
        self.slice().first().map(|(k, v)| (k, v))
    }

    /// The entry with the largest key.
    pub fn last_key_value(&self) -> Option<(&String, &Value)> {
        self.slice().last().map(|(k, v)| (k, v))
    }

    /// The entries, by key.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.slice().iter())
    }

    /// The entries, by key, their values to change (the map is copied
    /// first if shared).
    pub fn iter_mut(&mut self) -> IterMut<'_> {
        IterMut(self.slice_mut().iter_mut())
    }

    /// The keys, in order.
    pub fn keys(&self) -> Keys<'_> {
        Keys(self.slice().iter())
    }

    /// The values, by key.
    pub fn values(&self) -> Values<'_> {
        Values(self.slice().iter())
    }

    /// The values, by key, to change (the map is copied first if shared).
    pub fn values_mut(&mut self) -> ValuesMut<'_> {
        ValuesMut(self.slice_mut().iter_mut())
    }

    /// The keys, in order, taking the map.
    pub fn into_keys(self) -> impl Iterator<Item = String> {
        self.into_iter().map(|(k, _)| k)
    }

    /// The values, by key, taking the map.
    pub fn into_values(self) -> impl Iterator<Item = Value> {
        self.into_iter().map(|(_, v)| v)
    }

    /// Whether `self` and `other` share one allocation (so are equal
    /// without comparing), as clones of one map do until either is written.
    pub fn shares_with(&self, other: &ValueMap) -> bool {
        match (&self.entries, &other.entries) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl PartialEq for ValueMap {
    fn eq(&self, other: &ValueMap) -> bool {
        self.slice() == other.slice()
    }
}

impl fmt::Debug for ValueMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<Q> Index<&Q> for ValueMap
where
    String: Borrow<Q>,
    Q: Ord + ?Sized,
{
    type Output = Value;

    /// # Panics
    /// When `key` is not in the map.
    fn index(&self, key: &Q) -> &Value {
        self.get(key).expect("no entry found for key")
    }
}

impl FromIterator<(String, Value)> for ValueMap {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> ValueMap {
        ValueMap::from_unsorted(iter.into_iter().collect())
    }
}

impl Extend<(String, Value)> for ValueMap {
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, iter: I) {
        let mut entries = mem::take(self).into_vec();
        entries.extend(iter);
        *self = ValueMap::from_unsorted(entries);
    }
}

impl<const N: usize> From<[(String, Value); N]> for ValueMap {
    fn from(entries: [(String, Value); N]) -> ValueMap {
        ValueMap::from_unsorted(entries.into())
    }
}

impl From<BTreeMap<String, Value>> for ValueMap {
    fn from(map: BTreeMap<String, Value>) -> ValueMap {
        ValueMap::from_sorted(map.into_iter().collect())
    }
}

impl From<ValueMap> for BTreeMap<String, Value> {
    fn from(map: ValueMap) -> BTreeMap<String, Value> {
        map.into_iter().collect()
    }
}

impl IntoIterator for ValueMap {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl<'a> IntoIterator for &'a ValueMap {
    type Item = (&'a String, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut ValueMap {
    type Item = (&'a String, &'a mut Value);
    type IntoIter = IterMut<'a>;

    fn into_iter(self) -> IterMut<'a> {
        self.iter_mut()
    }
}

/// Declares an iterator over a map's entries as a wrapper of a slice
/// iterator that maps each entry.
macro_rules! entry_iterator {
    ($(#[$doc:meta])* $name:ident, $inner:ident, $item:ty, |$e:pat_param| $map:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<'a>(std::slice::$inner<'a, Entry>);

        impl<'a> Iterator for $name<'a> {
            type Item = $item;

            fn next(&mut self) -> Option<$item> {
                self.0.next().map(|$e| $map)
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                self.0.size_hint()
            }
        }

        impl<'a> DoubleEndedIterator for $name<'a> {
            fn next_back(&mut self) -> Option<$item> {
                self.0.next_back().map(|$e| $map)
            }
        }

        impl ExactSizeIterator for $name<'_> {}
        impl std::iter::FusedIterator for $name<'_> {}
    };
}

entry_iterator!(
    /// The entries of a [`ValueMap`], by key ([`ValueMap::iter`]).
    Iter, Iter, (&'a String, &'a Value), |(k, v)| (k, v)
);
entry_iterator!(
    /// The entries of a [`ValueMap`], by key, values to change
    /// ([`ValueMap::iter_mut`]).
    IterMut, IterMut, (&'a String, &'a mut Value), |(k, v)| (&*k, v)
);
entry_iterator!(
    /// The keys of a [`ValueMap`], in order ([`ValueMap::keys`]).
    Keys, Iter, &'a String, |(k, _)| k
);
entry_iterator!(
    /// The values of a [`ValueMap`], by key ([`ValueMap::values`]).
    Values, Iter, &'a Value, |(_, v)| v
);
entry_iterator!(
    /// The values of a [`ValueMap`], by key, to change
    /// ([`ValueMap::values_mut`]).
    ValuesMut, IterMut, &'a mut Value, |(_, v)| v
);

impl Clone for Iter<'_> {
    fn clone(&self) -> Self {
        Iter(self.0.clone())
    }
}

impl Serialize for ValueMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for ValueMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ValueMap, D::Error> {
        struct MapVisitor;

        impl<'de> Visitor<'de> for MapVisitor {
            type Value = ValueMap;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of dafnck values")
            }

            fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<ValueMap, A::Error> {
                read_entries(access).map(ValueMap::from_unsorted)
            }
        }

        deserializer.deserialize_map(MapVisitor)
    }
}

/// A serialized map's entries, in the order given.
pub(super) fn read_entries<'de, A: MapAccess<'de>>(mut access: A) -> Result<Vec<Entry>, A::Error> {
    let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(4096));
    while let Some(entry) = access.next_entry::<String, Value>()? {
        entries.push(entry);
    }
    Ok(entries)
}

impl ValueMap {
    /// From a serialized map's entries (see [`read_entries`]).
    pub(super) fn from_entries(entries: Vec<Entry>) -> ValueMap {
        ValueMap::from_unsorted(entries)
    }

    /// The only entry's value if the map has exactly one entry, with key `key`.
    pub(super) fn single(&self, key: &str) -> Option<&Value> {
        match self.slice() {
            [(k, v)] if k == key => Some(v),
            _ => None,
        }
    }

    /// Takes the value of the only entry (the map has exactly one).
    pub(super) fn into_single(self) -> Option<Value> {
        let mut entries = self.into_vec();
        match entries.len() {
            1 => entries.pop().map(|(_, v)| v),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, i64)]) -> ValueMap {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::Int(*v)))
            .collect()
    }

    fn btree(entries: &[(&str, i64)]) -> BTreeMap<String, Value> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::Int(*v)))
            .collect()
    }

    #[test]
    fn collects_sorted_and_the_last_of_a_repeated_key_wins_as_a_btreemap() {
        let given = [("b", 1), ("a", 2), ("c", 3), ("a", 4), ("b", 5)];
        let m = map(&given);
        let b = btree(&given);
        assert_eq!(m.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
        assert_eq!(m.len(), 3);
        assert_eq!(m["a"], Value::Int(4));
        assert_eq!(BTreeMap::from(m), b);
    }

    #[test]
    fn insert_and_remove_keep_the_order_and_return_what_they_replaced() {
        let mut m = ValueMap::new();
        assert!(m.is_empty());
        assert_eq!(m.insert("m".into(), Value::Int(1)), None);
        assert_eq!(m.insert("a".into(), Value::Int(2)), None);
        assert_eq!(m.insert("z".into(), Value::Int(3)), None);
        assert_eq!(m.insert("m".into(), Value::Int(4)), Some(Value::Int(1)));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "m", "z"]);
        assert_eq!(m.remove("a"), Some(Value::Int(2)));
        assert_eq!(m.remove("a"), None);
        assert!(m.contains_key("z") && !m.contains_key("a"));
        m.retain(|k, _| k != "z");
        assert_eq!(m, map(&[("m", 4)]));
        m.remove("m");
        assert!(m.is_empty());
        assert_eq!(m, ValueMap::new());
    }

    #[test]
    fn a_clone_shares_its_entries_until_one_of_them_is_written() {
        let a = map(&[("x", 1), ("y", 2)]);
        let mut b = a.clone();
        assert!(a.shares_with(&b));
        *b.get_mut("x").unwrap() = Value::Int(9);
        assert!(!a.shares_with(&b));
        assert_eq!(a["x"], Value::Int(1));
        assert_eq!(b["x"], Value::Int(9));
        for v in b.values_mut() {
            *v = Value::Null;
        }
        assert_eq!(a, map(&[("x", 1), ("y", 2)]));
        let c = a.clone();
        let taken: Vec<_> = c.into_iter().collect();
        assert_eq!(taken.len(), 2);
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn serializes_and_reads_back_as_a_btreemap_does() {
        let given = [("zeta", 1), ("alpha", 2), ("mid", 3)];
        let m = map(&given);
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(text, serde_json::to_string(&btree(&given)).unwrap());
        let back: ValueMap = serde_json::from_str(r#"{"mid":3,"zeta":1,"alpha":2}"#).unwrap();
        assert_eq!(back, m);
        assert_eq!(format!("{m:?}"), format!("{:?}", btree(&given)));
    }

    #[test]
    fn extend_adds_and_overwrites() {
        let mut m = map(&[("a", 1), ("c", 3)]);
        m.extend([
            ("b".to_owned(), Value::Int(2)),
            ("a".to_owned(), Value::Int(5)),
        ]);
        assert_eq!(m, map(&[("a", 5), ("b", 2), ("c", 3)]));
        assert_eq!(
            m.iter().rev().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["c", "b", "a"]
        );
    }
}
