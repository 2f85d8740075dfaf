//! The keys: one circuit per key, created on first use, at most `max_keys`
//! of them, evicting the least recently used closed ones when full.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::circuit::KeyState;

/// Distinguishes registries in the per-thread cache (addresses can be reused).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The last key this thread used, with the registry it came from.
    ///
    /// A hit costs a string comparison and touches no shared cache line: no
    /// shard lock, no reference count. That is what keeps two threads calling
    /// the same key from bouncing those lines between cores. It holds one
    /// `Arc` per thread, so a dropped breaker's last-used key lives on until
    /// the thread uses another key or exits.
    static LAST_KEY: RefCell<Option<(u64, Arc<KeyState>)>> = const { RefCell::new(None) };
}

/// The key map and its bound.
///
/// Recency is tracked in *epochs*, not timestamps: a sweep starts a new epoch,
/// and a key used since then is stamped with it (one relaxed load per call,
/// a store only once per epoch). A sweep evicts the evictable keys with the
/// oldest stamps, a tenth of the bound at a time, so sweeps are rare and the
/// hot path never reads a clock for eviction's sake.
#[derive(Debug)]
pub(crate) struct Registry {
    id: u64,
    map: DashMap<Arc<str>, Arc<KeyState>>,
    max_keys: usize,
    /// Keys in the map, kept exactly (reserved before insertion), so the
    /// bound holds under concurrent inserts.
    count: AtomicUsize,
    epoch: AtomicU64,
    evicted: AtomicU64,
    untracked: AtomicU64,
    /// One sweeper at a time; the others wait for its result.
    sweep: Mutex<()>,
}

impl Registry {
    pub(crate) fn new(max_keys: usize) -> Self {
        Registry {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            map: DashMap::new(),
            max_keys: max_keys.max(1),
            count: AtomicUsize::new(0),
            epoch: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            untracked: AtomicU64::new(0),
            sweep: Mutex::new(()),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<Arc<KeyState>> {
        self.map.get(key).map(|entry| entry.value().clone())
    }

    /// Runs `f` on the state of `key` — created if absent when `create` is
    /// set — going through this thread's last-key cache. `None` when the key
    /// does not exist (or cannot be created).
    pub(crate) fn with_state<R>(
        &self,
        key: &str,
        create: Option<&dyn Fn(Arc<str>, u64) -> KeyState>,
        f: impl FnOnce(&Arc<KeyState>) -> R,
    ) -> Option<R> {
        let lookup = || match create {
            Some(make) => self.get_or_create(key, false, make),
            None => self.get(key),
        };
        LAST_KEY.with(|cell| {
            let Ok(mut last) = cell.try_borrow_mut() else {
                // Only if `f` itself came back here; stay correct, skip the cache.
                return lookup().map(|state| f(&state));
            };
            let hit = matches!(&*last, Some((id, state))
                if *id == self.id && &*state.key == key && !state.is_evicted());
            if !hit {
                *last = Some((self.id, lookup()?));
            }
            last.as_ref().map(|(_, state)| f(state))
        })
    }

    /// Runs `f` on this thread's cached state if `is_key` accepts its key:
    /// the admission fast path, which neither builds nor hashes the key.
    /// `None` on a miss.
    pub(crate) fn with_cached_key<R>(
        &self,
        is_key: impl FnOnce(&str) -> bool,
        f: impl FnOnce(&Arc<KeyState>) -> R,
    ) -> Option<R> {
        LAST_KEY.with(|cell| {
            let last = cell.try_borrow().ok()?;
            match &*last {
                Some((id, state)) if *id == self.id && !state.is_evicted() && is_key(&state.key) => {
                    Some(f(state))
                }
                _ => None,
            }
        })
    }

    /// Runs `f` on the state with `serial` if it is this thread's cached
    /// key: how `record` finds the state `admit` just used without
    /// rebuilding the key. `None` on a miss.
    pub(crate) fn with_cached<R>(&self, serial: u64, f: impl FnOnce(&Arc<KeyState>) -> R) -> Option<R> {
        LAST_KEY.with(|cell| {
            let last = cell.try_borrow().ok()?;
            match &*last {
                Some((id, state)) if *id == self.id && state.serial == serial => Some(f(state)),
                _ => None,
            }
        })
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// The state of `key`, created by `make` when absent. `None` when the map
    /// is full of keys that cannot be evicted (the call goes untracked).
    /// `force` (operator actions) inserts past the bound.
    pub(crate) fn get_or_create(
        &self,
        key: &str,
        force: bool,
        make: &dyn Fn(Arc<str>, u64) -> KeyState,
    ) -> Option<Arc<KeyState>> {
        if let Some(state) = self.get(key) {
            return Some(state);
        }
        if !self.reserve(force) {
            let untracked = self.untracked.fetch_add(1, Ordering::Relaxed) + 1;
            // Powers of two: visible at once, never a flood.
            if untracked.is_power_of_two() {
                tracing::warn!(
                    max_keys = self.max_keys,
                    untracked,
                    "circuit breaker key limit reached with no closed key to evict; calls of new keys go untracked"
                );
            }
            return None;
        }
        match self.map.entry(Arc::from(key)) {
            Entry::Occupied(entry) => {
                // Another caller created it meanwhile: give the slot back.
                self.count.fetch_sub(1, Ordering::Relaxed);
                Some(entry.get().clone())
            }
            Entry::Vacant(entry) => {
                let state = Arc::new(make(entry.key().clone(), self.epoch()));
                entry.insert(state.clone());
                Some(state)
            }
        }
    }

    /// Takes one slot of the bound, sweeping when full.
    fn reserve(&self, force: bool) -> bool {
        if force {
            self.count.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        loop {
            let count = self.count.load(Ordering::Relaxed);
            if count < self.max_keys {
                if self
                    .count
                    .compare_exchange_weak(count, count + 1, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
                {
                    return true;
                }
                continue;
            }
            let _sweeping = self.sweep.lock().unwrap_or_else(|e| e.into_inner());
            // A sweeper before us may have made room.
            if self.count.load(Ordering::Relaxed) < self.max_keys {
                continue;
            }
            if self.sweep_locked() == 0 {
                return false;
            }
        }
    }

    /// Evicts up to a tenth of the bound (at least one) of the least recently
    /// used evictable keys; returns how many went.
    pub(crate) fn sweep(&self) -> usize {
        let _sweeping = self.sweep.lock().unwrap_or_else(|e| e.into_inner());
        self.sweep_locked()
    }

    fn sweep_locked(&self) -> usize {
        self.epoch.fetch_add(1, Ordering::Relaxed);
        let mut candidates: Vec<(u64, Arc<str>)> = self
            .map
            .iter()
            .filter(|entry| entry.value().evictable())
            .map(|entry| (entry.value().last_used(), entry.key().clone()))
            .collect();
        if candidates.is_empty() {
            return 0;
        }
        let target = (self.max_keys / 10).clamp(1, candidates.len());
        if target < candidates.len() {
            candidates.select_nth_unstable_by_key(target - 1, |(used, _)| *used);
        }
        let mut removed = 0;
        for (_, key) in candidates.iter().take(target) {
            // Re-checked under the shard lock: the key may have opened since.
            if let Some((_, state)) = self.map.remove_if(key, |_, state| state.evictable()) {
                // Threads caching it look it up again (and recreate it) next time.
                state.mark_evicted();
                self.count.fetch_sub(1, Ordering::Relaxed);
                removed += 1;
            }
        }
        self.evicted.fetch_add(removed as u64, Ordering::Relaxed);
        tracing::debug!(removed, keys = self.len(), "circuit breaker keys evicted");
        removed
    }

    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    pub(crate) fn untracked(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }

    pub(crate) fn all(&self) -> Vec<Arc<KeyState>> {
        self.map.iter().map(|entry| entry.value().clone()).collect()
    }
}
