//! A least-recently-used cache with a count limit and a byte budget: what the runtime's
//! caches (compiled graphs, GPU plans) share, instead of each clearing itself wholesale
//! when full.

use std::collections::HashMap;
use std::hash::Hash;

pub struct Lru<K, V> {
    entries: HashMap<K, Entry<V>>,
    /// Bumped by every insert and hit; an entry's stamp says when it was last used.
    clock: u64,
    max_entries: usize,
    max_bytes: u64,
    bytes: u64,
    hits: u64,
    misses: u64,
}

struct Entry<V> {
    value: V,
    bytes: u64,
    used: u64,
}

/// Hits and misses so far, for stats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LruStats {
    pub entries: usize,
    pub bytes: u64,
    pub hits: u64,
    pub misses: u64,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    /// At most `max_entries` entries and `max_bytes` bytes (`u64::MAX` for no budget).
    pub fn new(max_entries: usize, max_bytes: u64) -> Self {
        Lru {
            entries: HashMap::new(),
            clock: 0,
            max_entries: max_entries.max(1),
            max_bytes,
            bytes: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// The value for `key`, marked as just used; counted as a hit or a miss.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        self.clock += 1;
        let now = self.clock;
        match self.entries.get_mut(key) {
            Some(e) => {
                self.hits += 1;
                e.used = now;
                Some(&e.value)
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    pub fn stats(&self) -> LruStats {
        LruStats { entries: self.entries.len(), bytes: self.bytes, hits: self.hits, misses: self.misses }
    }

    /// Adds `value` (costing `bytes`) under `key` and returns what was evicted to make room,
    /// least recently used first, so the caller can release it (GPU buffers to a pool).
    /// An entry larger than the whole budget is still kept, alone: the value is needed now.
    pub fn insert(&mut self, key: K, value: V, bytes: u64) -> Vec<V> {
        let mut evicted: Vec<V> = self.remove(&key).into_iter().collect();
        while !self.entries.is_empty()
            && (self.entries.len() >= self.max_entries || self.bytes.saturating_add(bytes) > self.max_bytes)
        {
            let oldest = self.entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone());
            match oldest.and_then(|k| self.remove(&k)) {
                Some(v) => evicted.push(v),
                None => break,
            }
        }
        self.clock += 1;
        self.bytes += bytes;
        self.entries.insert(key, Entry { value, bytes, used: self.clock });
        evicted
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.entries.remove(key).map(|e| {
            self.bytes -= e.bytes;
            e.value
        })
    }

    /// Every value, emptying the cache (a lost device's plans, say).
    pub fn drain(&mut self) -> Vec<V> {
        self.bytes = 0;
        self.entries.drain().map(|(_, e)| e.value).collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::Lru;

    #[test]
    fn the_least_recently_used_goes_first_by_count() {
        let mut c = Lru::new(2, u64::MAX);
        assert!(c.insert("a", 1, 0).is_empty());
        assert!(c.insert("b", 2, 0).is_empty());
        assert_eq!(c.get(&"a"), Some(&1)); // a is now newer than b
        assert_eq!(c.insert("c", 3, 0), vec![2]);
        assert_eq!(c.get(&"a"), Some(&1));
        assert_eq!(c.get(&"b"), None);
        assert_eq!(c.get(&"c"), Some(&3));
        let s = c.stats();
        assert_eq!((s.entries, s.hits, s.misses), (2, 3, 1));
    }

    #[test]
    fn the_byte_budget_evicts_as_many_as_needed_and_keeps_an_oversized_entry_alone() {
        let mut c = Lru::new(10, 100);
        c.insert(1, "x", 40);
        c.insert(2, "y", 40);
        assert_eq!(c.insert(3, "z", 50), vec!["x"]);
        assert_eq!(c.bytes(), 90);
        let mut out = c.insert(4, "huge", 500);
        out.sort();
        assert_eq!(out, vec!["y", "z"]);
        assert_eq!((c.len(), c.bytes()), (1, 500));
        // Replacing a key returns the old value and recounts its bytes.
        assert_eq!(c.insert(4, "again", 10), vec!["huge"]);
        assert_eq!(c.bytes(), 10);
        assert_eq!(c.drain(), vec!["again"]);
        assert!(c.is_empty() && c.bytes() == 0);
    }
}
