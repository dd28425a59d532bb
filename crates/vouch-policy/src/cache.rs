//! A cache of verifications ([`Verification`]), keyed by [`CacheKey`] (policy digest, trust
//! digest, image digest), for callers that answer without the network on the hot path (the
//! admission webhook). Decisions are never cached: take one with
//! [`Engine::decide`](crate::Engine::decide) from the cached verification at each request, so
//! exceptions apply to the second.
//!
//! A changed policy set or trust root has another digest, so its keys differ and old entries
//! are never served for it; [`VerificationCache::retain_digests`] drops them. Entries older
//! than the TTL are not returned by [`VerificationCache::get`] but stay available through
//! [`VerificationCache::get_stale`] (to keep answering while the registry is down) until
//! evicted. No background task lives here: [`VerificationCache::due_for_refresh`] lists what
//! to re-verify before it expires.

use crate::decision::{CacheKey, Verification};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Default most entries kept.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
struct Entry {
    verification: Arc<Verification>,
    stored: jiff::Timestamp,
}

/// Cached verifications with a TTL.
#[derive(Debug)]
pub struct VerificationCache {
    entries: RwLock<HashMap<CacheKey, Entry>>,
    ttl: jiff::SignedDuration,
    max_entries: usize,
}

impl VerificationCache {
    /// A cache whose entries are fresh for `ttl`, holding at most `max_entries` (the oldest
    /// are evicted first).
    pub fn new(ttl: jiff::SignedDuration, max_entries: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            ttl,
            max_entries: max_entries.max(1),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<CacheKey, Entry>> {
        // A panic while holding the lock leaves a consistent map (single inserts/removes).
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<CacheKey, Entry>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The verification for `key` if stored less than the TTL before `now`.
    pub fn get(&self, key: &CacheKey, now: jiff::Timestamp) -> Option<Arc<Verification>> {
        let map = self.read();
        let e = map.get(key)?;
        (now.duration_since(e.stored) < self.ttl).then(|| e.verification.clone())
    }

    /// The verification for `key` however old, with its age at `now`.
    pub fn get_stale(
        &self,
        key: &CacheKey,
        now: jiff::Timestamp,
    ) -> Option<(Arc<Verification>, jiff::SignedDuration)> {
        let map = self.read();
        let e = map.get(key)?;
        Some((e.verification.clone(), now.duration_since(e.stored)))
    }

    /// Store `v` (under its own key) as of `now`.
    pub fn insert(&self, v: Verification, now: jiff::Timestamp) -> Arc<Verification> {
        let v = Arc::new(v);
        let mut map = self.write();
        if map.len() >= self.max_entries
            && !map.contains_key(&v.key)
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.stored)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            v.key.clone(),
            Entry {
                verification: v.clone(),
                stored: now,
            },
        );
        v
    }

    /// Drop entries of other policy or trust digests (after a reload).
    pub fn retain_digests(&self, policy_digest: &str, trust_digest: &str) {
        self.write()
            .retain(|k, _| k.policy_digest == policy_digest && k.trust_digest == trust_digest);
    }

    /// Keys that stop being fresh within `margin` of `now` (re-verify them in the background).
    pub fn due_for_refresh(
        &self,
        now: jiff::Timestamp,
        margin: jiff::SignedDuration,
    ) -> Vec<CacheKey> {
        let limit = self.ttl - margin;
        self.read()
            .iter()
            .filter(|(_, e)| now.duration_since(e.stored) >= limit)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Subject;

    fn v(subject: &str, policy: &str) -> Verification {
        Verification {
            subject: Subject::Artifact {
                name: subject.into(),
                digest: subject.into(),
            },
            key: CacheKey {
                policy_digest: policy.into(),
                trust_digest: "t".into(),
                subject: subject.into(),
            },
            policies: Vec::new(),
            verified_at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn ttl_stale_eviction_and_digest_changes() {
        let t = |s| jiff::Timestamp::from_second(s).unwrap();
        let c = VerificationCache::new(jiff::SignedDuration::from_secs(60), 2);
        let a = v("a", "p1");
        let key_a = a.key.clone();
        c.insert(a, t(100));
        assert!(c.get(&key_a, t(159)).is_some());
        assert!(c.get(&key_a, t(160)).is_none(), "expired at the TTL");
        assert_eq!(
            c.get_stale(&key_a, t(500)).map(|(_, age)| age.as_secs()),
            Some(400)
        );
        assert_eq!(
            c.due_for_refresh(t(150), jiff::SignedDuration::from_secs(15)),
            vec![key_a.clone()]
        );
        assert!(
            c.due_for_refresh(t(140), jiff::SignedDuration::from_secs(15))
                .is_empty()
        );
        c.insert(v("b", "p1"), t(110));
        c.insert(v("c", "p2"), t(120));
        assert_eq!(c.len(), 2);
        assert!(
            c.get_stale(&key_a, t(120)).is_none(),
            "the oldest entry was evicted"
        );
        c.retain_digests("p2", "t");
        assert_eq!(c.len(), 1);
    }
}
