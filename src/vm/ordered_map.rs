//! The insertion-ordered hash map behind Flow maps and JSON objects.
//!
//! Layout (like CPython's compact dict): the entries live in insertion
//! order in one vector, each with its full hash; a separate open-addressed
//! table of `u32` slots (linear probing, at most 2/3 full) holds entry
//! positions. A lookup reads one slot line, then the entry: one dependent
//! random load fewer than a control-byte table of 8-byte indices
//! (`IndexMap`). The bits of a slot above the position hold bits of the
//! key's hash, so a probe past a slot whose hash differs never touches the
//! entries (misses mostly stay inside the slot table).
//!
//! Maps of up to `SMALL` (8) entries have no slot table at all: a lookup
//! compares the stored hashes in order (most JSON objects and records
//! converted to maps are that small).
//!
//! Removal keeps the order of the others (`shift_remove`, as before): the
//! later entries move down by one and their slots are renumbered.

use super::value::{Str, Value};
use std::hash::Hasher;

/// Maps up to this many entries have no slot table (linear scan).
const SMALL: usize = 8;

/// Log2 of the slot count of the first table (32 slots, 21 usable).
const FIRST_BITS: u32 = 5;

/// The hash of a map key.
#[inline]
pub fn hash_key(key: &str) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(key.as_bytes());
    h.finish()
}

/// One key/value pair with the key's hash.
#[derive(Clone)]
struct Entry {
    hash: u64,
    key: Str,
    value: Value,
}

/// An insertion-ordered map from strings to values.
#[derive(Clone, Default)]
pub struct OrderedMap {
    entries: Vec<Entry>,
    /// Empty for small maps; else `1 << bits` slots. A slot is 0 when free,
    /// else `position + 1` in its low `bits` bits and the hash's upper bits
    /// (`tag`) above them.
    slots: Box<[u32]>,
    bits: u32,
}

/// How many entries a table of `1 << bits` slots takes before it grows.
#[inline]
fn usable(bits: u32) -> usize {
    let n = 1usize << bits;
    n - n / 3
}

/// The smallest table size (log2) with room for `n` entries.
fn bits_for(n: usize) -> u32 {
    let mut bits = FIRST_BITS;
    while usable(bits) < n {
        bits += 1;
    }
    bits
}

impl OrderedMap {
    /// An empty map.
    pub fn new() -> OrderedMap {
        OrderedMap::default()
    }

    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> OrderedMap {
        let mut m = OrderedMap {
            entries: Vec::with_capacity(n),
            slots: Box::default(),
            bits: 0,
        };
        if n > SMALL {
            m.rebuild(bits_for(n));
        }
        m
    }

    /// The number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The bytes of its own allocations (entries and slot table; not what
    /// the keys and values point to).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>() + self.slots.len() * 4
    }

    /// Whether the map is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    fn mask(&self) -> usize {
        (1usize << self.bits) - 1
    }

    /// The hash bits a slot keeps above its position bits.
    #[inline]
    fn tag(&self, hash: u64) -> u32 {
        ((hash >> 32) as u32) & !(self.mask() as u32)
    }

    /// The position of `key` (whose hash is `hash`), if present.
    #[inline]
    pub fn find_hashed(&self, hash: u64, key: &str) -> Option<usize> {
        if self.slots.is_empty() {
            return self
                .entries
                .iter()
                .position(|e| e.hash == hash && e.key.as_str() == key);
        }
        let mask = self.mask();
        let tag = self.tag(hash);
        let mut pos = hash as usize & mask;
        loop {
            let s = *self.slots.get(pos)?;
            if s == 0 {
                return None;
            }
            if s & !(mask as u32) == tag {
                let i = (s as usize & mask) - 1;
                if let Some(e) = self.entries.get(i) {
                    if e.hash == hash && e.key.as_str() == key {
                        return Some(i);
                    }
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    /// The position of `key`, if present.
    #[inline]
    pub fn get_index_of(&self, key: &str) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        self.find_hashed(hash_key(key), key)
    }

    /// The value of `key`.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&Value> {
        let i = self.get_index_of(key)?;
        self.entries.get(i).map(|e| &e.value)
    }

    /// The value of `key` (whose hash is `hash`).
    #[inline]
    pub fn get_hashed(&self, hash: u64, key: &str) -> Option<&Value> {
        let i = self.find_hashed(hash, key)?;
        self.entries.get(i).map(|e| &e.value)
    }

    /// The value of `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        let i = self.get_index_of(key)?;
        self.entries.get_mut(i).map(|e| &mut e.value)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get_index_of(key).is_some()
    }

    /// The entry at `i` in insertion order.
    #[inline]
    pub fn get_index(&self, i: usize) -> Option<(&Str, &Value)> {
        self.entries.get(i).map(|e| (&e.key, &e.value))
    }

    /// The entry at `i` in insertion order, its value mutably.
    pub fn get_index_mut(&mut self, i: usize) -> Option<(&Str, &mut Value)> {
        self.entries.get_mut(i).map(|e| (&e.key, &mut e.value))
    }

    /// Sets `key` to `value`: a new key goes last, an existing one keeps its
    /// place. Returns the old value.
    #[inline]
    pub fn insert(&mut self, key: Str, value: Value) -> Option<Value> {
        let hash = hash_key(&key);
        self.insert_hashed(hash, key, value)
    }

    /// [`OrderedMap::insert`] with the key's hash already computed.
    pub fn insert_hashed(&mut self, hash: u64, key: Str, value: Value) -> Option<Value> {
        if let Some(i) = self.find_hashed(hash, &key) {
            return self
                .entries
                .get_mut(i)
                .map(|e| std::mem::replace(&mut e.value, value));
        }
        self.push_new(hash, key, value);
        None
    }

    /// [`OrderedMap::insert`] of a borrowed key: the key's string is made
    /// only when the key is new.
    pub fn insert_str(&mut self, key: &str, value: Value) -> Option<Value> {
        let hash = hash_key(key);
        if let Some(i) = self.find_hashed(hash, key) {
            return self
                .entries
                .get_mut(i)
                .map(|e| std::mem::replace(&mut e.value, value));
        }
        self.push_new(hash, Str::from(key), value);
        None
    }

    /// Appends a key known to be absent.
    #[inline]
    fn push_new(&mut self, hash: u64, key: Str, value: Value) {
        let i = self.entries.len();
        if self.slots.is_empty() {
            if i < SMALL {
                self.entries.push(Entry { hash, key, value });
                return;
            }
            self.rebuild(bits_for(i + 1));
        } else if i >= usable(self.bits) {
            self.rebuild(self.bits + 1);
        }
        self.entries.push(Entry { hash, key, value });
        self.place(hash, i);
    }

    /// Writes the slot of the entry at `i` (not yet in the table).
    #[inline]
    fn place(&mut self, hash: u64, i: usize) {
        let mask = self.mask();
        let s = self.tag(hash) | (i + 1) as u32;
        let mut pos = hash as usize & mask;
        loop {
            match self.slots.get_mut(pos) {
                Some(slot) if *slot == 0 => {
                    *slot = s;
                    return;
                }
                Some(_) => pos = (pos + 1) & mask,
                // Unreachable: positions are masked to the table.
                None => return,
            }
        }
    }

    /// Replaces the slot table by one of `1 << bits` slots holding every
    /// entry.
    fn rebuild(&mut self, bits: u32) {
        // `position + 1` must fit in the slot bits; beyond that the entries
        // alone would need more memory than exists.
        if bits > 31 {
            std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u32; 2]>());
        }
        self.bits = bits;
        self.slots = vec![0u32; 1usize << bits].into_boxed_slice();
        let want = usable(bits);
        if self.entries.capacity() < want {
            self.entries.reserve_exact(want - self.entries.len());
        }
        for i in 0..self.entries.len() {
            let hash = self.entries[i].hash;
            self.place(hash, i);
        }
    }

    /// Removes `key`, keeping the order of the other entries; returns its
    /// value. Takes time proportional to the entries after it.
    pub fn shift_remove(&mut self, key: &str) -> Option<Value> {
        let i = self.get_index_of(key)?;
        Some(self.shift_remove_index(i))
    }

    /// Removes the entry at `i` (which exists), as [`OrderedMap::shift_remove`].
    fn shift_remove_index(&mut self, i: usize) -> Value {
        if !self.slots.is_empty() {
            let n = self.entries.len();
            self.unplace(i);
            // Renumber the later entries' slots: one probe each when they
            // are few, else one pass over the table.
            if n - i - 1 < self.slots.len() / 32 {
                for j in i + 1..n {
                    let hash = self.entries[j].hash;
                    if let Some(pos) = self.slot_of(hash, j) {
                        self.slots[pos] -= 1;
                    }
                }
            } else {
                let mask = self.mask() as u32;
                let above = (i + 1) as u32;
                for s in self.slots.iter_mut() {
                    if *s & mask > above {
                        *s -= 1;
                    }
                }
            }
        }
        self.entries.remove(i).value
    }

    /// The slot position holding entry `i` (whose hash is `hash`).
    fn slot_of(&self, hash: u64, i: usize) -> Option<usize> {
        let mask = self.mask();
        let want = self.tag(hash) | (i + 1) as u32;
        let mut pos = hash as usize & mask;
        loop {
            let s = *self.slots.get(pos)?;
            if s == 0 {
                return None;
            }
            if s == want {
                return Some(pos);
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Frees the slot of entry `i`, moving later slots of its probe run
    /// back so that no lookup stops early (linear-probing deletion).
    fn unplace(&mut self, i: usize) {
        let Some(mut hole) = self.slot_of(self.entries[i].hash, i) else {
            return;
        };
        let mask = self.mask();
        let mut j = (hole + 1) & mask;
        loop {
            let s = self.slots[j];
            if s == 0 {
                break;
            }
            let e = (s as usize & mask) - 1;
            let home = self.entries.get(e).map_or(j, |e| e.hash as usize & mask);
            // The slot may move to the hole unless its home lies cyclically
            // in (hole, j].
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots[hole] = s;
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.slots[hole] = 0;
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    /// The entries in insertion order, values mutably.
    pub fn iter_mut(&mut self) -> IterMut<'_> {
        IterMut(self.entries.iter_mut())
    }

    /// The keys in insertion order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Str> + ExactSizeIterator + '_ {
        self.entries.iter().map(|e| &e.key)
    }

    /// The values in insertion order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator + '_ {
        self.entries.iter().map(|e| &e.value)
    }

    /// The values in insertion order, mutably.
    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator + '_ {
        self.entries.iter_mut().map(|e| &mut e.value)
    }
}

/// Iterator over a map's entries in insertion order.
pub struct Iter<'a>(std::slice::Iter<'a, Entry>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Str, &'a Value);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|e| (&e.key, &e.value))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|e| (&e.key, &e.value))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Iterator over a map's entries in insertion order, values mutably.
pub struct IterMut<'a>(std::slice::IterMut<'a, Entry>);

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a Str, &'a mut Value);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|e| (&e.key, &mut e.value))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for IterMut<'_> {}

/// Owning iterator over a map's entries in insertion order.
pub struct IntoIter(std::vec::IntoIter<Entry>);

impl Iterator for IntoIter {
    type Item = (Str, Value);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|e| (e.key, e.value))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for IntoIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|e| (e.key, e.value))
    }
}

impl ExactSizeIterator for IntoIter {}

impl<'a> IntoIterator for &'a OrderedMap {
    type Item = (&'a Str, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut OrderedMap {
    type Item = (&'a Str, &'a mut Value);
    type IntoIter = IterMut<'a>;
    fn into_iter(self) -> IterMut<'a> {
        self.iter_mut()
    }
}

impl IntoIterator for OrderedMap {
    type Item = (Str, Value);
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        IntoIter(self.entries.into_iter())
    }
}

impl Extend<(Str, Value)> for OrderedMap {
    fn extend<I: IntoIterator<Item = (Str, Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl FromIterator<(Str, Value)> for OrderedMap {
    fn from_iter<I: IntoIterator<Item = (Str, Value)>>(iter: I) -> OrderedMap {
        let iter = iter.into_iter();
        let mut m = OrderedMap::with_capacity(iter.size_hint().0);
        m.extend(iter);
        m
    }
}

impl std::fmt::Debug for OrderedMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: &Value) -> i64 {
        match v {
            Value::Int(i) => *i,
            other => panic!("not an int: {other:?}"),
        }
    }

    fn keys(m: &OrderedMap) -> Vec<String> {
        m.keys().map(|k| k.to_string()).collect()
    }

    /// Checks every structural invariant: each entry is found at its own
    /// position, and the slot table holds exactly one slot per entry.
    fn check(m: &OrderedMap) {
        for (i, (k, _)) in m.iter().enumerate() {
            assert_eq!(m.get_index_of(k), Some(i), "key {k}");
        }
        if !m.slots.is_empty() {
            let used = m.slots.iter().filter(|s| **s != 0).count();
            assert_eq!(used, m.len());
            assert!(m.len() <= usable(m.bits));
        }
    }

    #[test]
    fn insert_get_and_replace_keep_first_position() {
        let mut m = OrderedMap::new();
        assert_eq!(
            m.insert(Str::from("b"), Value::Int(1)).map(|v| int(&v)),
            None
        );
        m.insert(Str::from("a"), Value::Int(2));
        let old = m.insert(Str::from("b"), Value::Int(3));
        assert_eq!(old.map(|v| int(&v)), Some(1));
        assert_eq!(keys(&m), ["b", "a"]);
        assert_eq!(m.get("b").map(int), Some(3));
        assert_eq!(m.get("c").map(int), None);
        assert_eq!(m.len(), 2);
        if let Some(v) = m.get_mut("a") {
            *v = Value::Int(7);
        }
        assert_eq!(
            m.get_index(1).map(|(k, v)| (k.to_string(), int(v))),
            Some(("a".into(), 7))
        );
        assert!(m.contains_key("a") && !m.contains_key(""));
    }

    #[test]
    fn growth_past_the_small_size_and_many_doublings_keeps_order() {
        let mut m = OrderedMap::new();
        for i in 0..5000 {
            m.insert(Str::from(format!("k{i}")), Value::Int(i));
            if i % 97 == 0 {
                check(&m);
            }
        }
        check(&m);
        assert_eq!(m.len(), 5000);
        for (i, (k, v)) in m.iter().enumerate() {
            assert_eq!(k.as_str(), format!("k{i}"));
            assert_eq!(int(v), i as i64);
        }
        assert_eq!(m.get("k4999").map(int), Some(4999));
        assert!(m.get("k5000").is_none());
    }

    #[test]
    fn shift_remove_keeps_the_order_of_the_others() {
        for n in [3usize, 8, 9, 40, 300] {
            let mut m: OrderedMap = (0..n as i64)
                .map(|i| (Str::from(format!("{i}")), Value::Int(i)))
                .collect();
            // First, last, and a middle key; then a missing one.
            assert_eq!(m.shift_remove("0").map(|v| int(&v)), Some(0));
            let last = format!("{}", n - 1);
            assert_eq!(m.shift_remove(&last).map(|v| int(&v)), Some(n as i64 - 1));
            let mid = format!("{}", n / 2);
            assert_eq!(m.shift_remove(&mid).map(|v| int(&v)), Some(n as i64 / 2));
            assert!(m.shift_remove(&mid).is_none());
            check(&m);
            let want: Vec<String> = (1..n - 1)
                .filter(|i| *i != n / 2)
                .map(|i| i.to_string())
                .collect();
            assert_eq!(keys(&m), want, "n = {n}");
            // A re-inserted key goes last.
            m.insert(Str::from(mid.as_str()), Value::Int(-1));
            assert_eq!(keys(&m).last().map(String::as_str), Some(mid.as_str()));
            check(&m);
        }
    }

    #[test]
    fn colliding_hashes_are_told_apart_by_key() {
        // All entries share one hash: every lookup walks the same probe run.
        let mut m = OrderedMap::new();
        for i in 0..200 {
            m.insert_hashed(42, Str::from(format!("c{i}")), Value::Int(i));
        }
        for i in 0..200 {
            assert_eq!(m.get_hashed(42, &format!("c{i}")).map(int), Some(i));
        }
        assert!(m.get_hashed(42, "c200").is_none());
        // Removing from the middle of the run must not cut it.
        let i = m.find_hashed(42, "c17").unwrap();
        m.shift_remove_index(i);
        for i in (0..200).filter(|i| *i != 17) {
            assert_eq!(m.get_hashed(42, &format!("c{i}")).map(int), Some(i));
        }
        assert_eq!(m.len(), 199);
        let ks: Vec<String> = m.keys().map(|k| k.to_string()).collect();
        assert_eq!(ks[16..18], ["c16".to_string(), "c18".to_string()]);
    }

    #[test]
    fn with_capacity_clone_and_iterators() {
        let mut m = OrderedMap::with_capacity(100);
        for i in 0..100 {
            m.insert(Str::from(format!("{i}")), Value::Int(i));
        }
        let c = m.clone();
        for v in m.values_mut() {
            *v = Value::Int(0);
        }
        assert_eq!(c.values().map(int).sum::<i64>(), 4950);
        assert_eq!(m.values().map(int).sum::<i64>(), 0);
        assert_eq!(
            c.iter().next_back().map(|(k, _)| k.to_string()),
            Some("99".into())
        );
        let owned: Vec<(Str, Value)> = c.clone().into_iter().collect();
        assert_eq!(owned.len(), 100);
        assert_eq!(format!("{:?}", OrderedMap::new()), "{}");
        check(&c);
    }

    /// Random inserts, replacements, removals and lookups against a plain
    /// vector of pairs (the reference model of an insertion-ordered map).
    #[test]
    fn matches_a_reference_model_under_random_operations() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20 {
            let keyspace = [4u64, 16, 64, 600][round % 4];
            let mut m = OrderedMap::new();
            let mut model: Vec<(String, i64)> = Vec::new();
            for step in 0..3000i64 {
                let k = format!("key-{}", next() % keyspace);
                match next() % 10 {
                    0..=4 => {
                        let old = m.insert(Str::from(k.as_str()), Value::Int(step));
                        let want = match model.iter_mut().find(|(mk, _)| *mk == k) {
                            Some(slot) => Some(std::mem::replace(&mut slot.1, step)),
                            None => {
                                model.push((k, step));
                                None
                            }
                        };
                        assert_eq!(old.map(|v| int(&v)), want);
                    }
                    5..=6 => {
                        let got = m.shift_remove(&k).map(|v| int(&v));
                        let want = model
                            .iter()
                            .position(|(mk, _)| *mk == k)
                            .map(|i| model.remove(i).1);
                        assert_eq!(got, want);
                    }
                    _ => {
                        let want = model.iter().find(|(mk, _)| *mk == k).map(|p| p.1);
                        assert_eq!(m.get(&k).map(int), want);
                    }
                }
                assert_eq!(m.len(), model.len());
            }
            let got: Vec<(String, i64)> = m.iter().map(|(k, v)| (k.to_string(), int(v))).collect();
            assert_eq!(got, model);
            check(&m);
        }
    }
}
