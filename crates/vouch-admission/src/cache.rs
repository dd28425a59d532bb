//! The verified-decision cache: no network on the hot path.
//!
//! Key: ([`CacheKeyParts`], image by digest). Value: the engine's [`Verified`] outcome (the
//! time-independent part of a decision; mode and exceptions are applied on every admission).
//!
//! - Filled by background verification when a digest is first seen (a `/mutate` or
//!   `/validate` request), by `POST /prefetch`, and by re-verification shortly before the TTL
//!   ends ([`DecisionCache::due_for_refresh`]).
//! - One verification per key at a time: later requests join the one in flight.
//! - A change of policy or trust digest changes the key: old entries are never served again
//!   and are dropped on the next refresher pass.
//! - A positive entry past its TTL is still served while re-verification cannot be carried out
//!   (registry down), for at most `max_stale`. A negative entry (a policy failed) lives for the
//!   short `negative_ttl` and is not refreshed.

use crate::decider::{CacheKeyParts, Verified, VerifyFailure};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};

/// Cache lifetimes and size.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// How long a passing verification is fresh; it is re-verified in the background during
    /// the last fifth of this.
    pub ttl: Duration,
    /// How long a failing verification is served.
    pub negative_ttl: Duration,
    /// How long past its TTL a passing verification is still served while re-verification
    /// fails (registry down).
    pub max_stale: Duration,
    /// Most entries; the least recently used is evicted beyond it.
    pub max_entries: usize,
    /// Most verifications running at once.
    pub max_concurrent: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl: Duration::from_secs(600),
            negative_ttl: Duration::from_secs(30),
            max_stale: Duration::from_secs(24 * 3600),
            max_entries: 100_000,
            max_concurrent: crate::limits::MAX_CONCURRENT_VERIFICATIONS,
        }
    }
}

/// A cache key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// Policy and trust digests.
    pub parts: CacheKeyParts,
    /// The image by digest (`name@sha256:<hex>`).
    pub image: String,
}

/// What a finished verification sends to its waiters.
pub type Done<O> = Result<Arc<Verified<O>>, Arc<VerifyFailure>>;

/// The receiving end of a verification in flight: `None` until it finishes.
pub type Pending<O> = watch::Receiver<Option<Done<O>>>;

struct Entry<O> {
    verified: Arc<Verified<O>>,
    verified_at: Instant,
    fresh_until: Instant,
    stale_until: Instant,
    /// Milliseconds since the cache's epoch of the last lookup that returned this entry.
    last_used: AtomicU64,
}

/// A cache hit.
#[derive(Debug)]
pub struct Hit<O> {
    /// The cached verification.
    pub verified: Arc<Verified<O>>,
    /// False when past its TTL (served because re-verification has not succeeded yet).
    pub fresh: bool,
}

/// The verified-decision cache. Cheap to share (`Arc`).
pub struct DecisionCache<O> {
    config: CacheConfig,
    epoch: Instant,
    entries: RwLock<HashMap<CacheKey, Arc<Entry<O>>>>,
    inflight: Mutex<HashMap<CacheKey, Pending<O>>>,
    permits: Arc<Semaphore>,
}

impl<O: Send + Sync + 'static> std::fmt::Debug for DecisionCache<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionCache")
            .field("config", &self.config)
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

impl<O: Send + Sync + 'static> DecisionCache<O> {
    /// An empty cache.
    pub fn new(config: CacheConfig) -> Self {
        let permits = Arc::new(Semaphore::new(config.max_concurrent.max(1)));
        DecisionCache {
            config,
            epoch: Instant::now(),
            entries: RwLock::default(),
            inflight: Mutex::default(),
            permits,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    fn millis(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cached verification of `key`, if it may be served now.
    pub fn get(&self, key: &CacheKey) -> Option<Hit<O>> {
        let now = Instant::now();
        let entries = self.entries.read().ok()?;
        let e = entries.get(key)?;
        if now >= e.stale_until {
            return None;
        }
        e.last_used.store(self.millis(now), Ordering::Relaxed);
        Some(Hit {
            verified: e.verified.clone(),
            fresh: now < e.fresh_until,
        })
    }

    /// Store a finished verification.
    pub fn insert(&self, key: CacheKey, verified: Arc<Verified<O>>) {
        let now = Instant::now();
        let (fresh_until, stale_until) = if verified.passed {
            (
                now + self.config.ttl,
                now + self.config.ttl + self.config.max_stale,
            )
        } else {
            let t = now + self.config.negative_ttl;
            (t, t)
        };
        let entry = Arc::new(Entry {
            verified,
            verified_at: now,
            fresh_until,
            stale_until,
            last_used: AtomicU64::new(self.millis(now)),
        });
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= self.config.max_entries && !entries.contains_key(&key) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                entries.remove(&k);
            }
        }
        entries.insert(key, entry);
    }

    /// Drop every entry (e.g. on a policy reload, to free memory at once).
    pub fn clear(&self) {
        if let Ok(mut e) = self.entries.write() {
            e.clear();
        }
    }

    /// The verification of `key` in flight, or a new one started with `verify()` in a
    /// background task (bounded by the concurrency limit). The result is cached when the
    /// verification was carried out; a [`VerifyFailure`] is not cached.
    pub fn verify_in_background<F, Fut>(self: &Arc<Self>, key: CacheKey, verify: F) -> Pending<O>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Verified<O>, VerifyFailure>> + Send + 'static,
    {
        let Ok(mut inflight) = self.inflight.lock() else {
            // A poisoned lock only happens after a panic elsewhere: report as never finishing.
            let (_tx, rx) = watch::channel(None);
            return rx;
        };
        if let Some(rx) = inflight.get(&key) {
            return rx.clone();
        }
        let (tx, rx) = watch::channel(None);
        inflight.insert(key.clone(), rx.clone());
        drop(inflight);
        let fut = verify();
        let cache = self.clone();
        tokio::spawn(async move {
            let permit = cache.permits.clone().acquire_owned().await;
            let result = fut.await;
            drop(permit);
            let done: Done<O> = match result {
                Ok(v) => {
                    let v = Arc::new(v);
                    cache.insert(key.clone(), v.clone());
                    Ok(v)
                }
                Err(e) => Err(Arc::new(e)),
            };
            if let Ok(mut inflight) = cache.inflight.lock() {
                inflight.remove(&key);
            }
            let _ = tx.send(Some(done));
        });
        rx
    }

    /// Drop entries under other key parts or past serving, and return the keys of entries
    /// worth re-verifying now: passing, used since they were verified, and within the last
    /// fifth of their TTL (or past it), with no verification in flight.
    pub fn due_for_refresh(&self, parts: &CacheKeyParts) -> Vec<CacheKey> {
        let now = Instant::now();
        let margin = self.config.ttl / 5;
        let mut due = Vec::new();
        let Ok(mut entries) = self.entries.write() else {
            return due;
        };
        entries.retain(|k, e| &k.parts == parts && now < e.stale_until);
        let inflight = self.inflight.lock().ok();
        for (k, e) in entries.iter() {
            let used = e.last_used.load(Ordering::Relaxed) > self.millis(e.verified_at);
            if e.verified.passed
                && used
                && now + margin >= e.fresh_until
                && !inflight.as_ref().is_some_and(|m| m.contains_key(k))
            {
                due.push(k.clone());
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(image: &str, policy: &str) -> CacheKey {
        CacheKey {
            parts: CacheKeyParts {
                policy_digest: policy.into(),
                trust_digest: "t".into(),
                witness_policy_digest: String::new(),
            },
            image: image.into(),
        }
    }

    fn config(ttl_ms: u64) -> CacheConfig {
        CacheConfig {
            ttl: Duration::from_millis(ttl_ms),
            negative_ttl: Duration::from_millis(ttl_ms / 2),
            max_stale: Duration::from_millis(ttl_ms * 10),
            max_entries: 2,
            max_concurrent: 2,
        }
    }

    #[tokio::test]
    async fn single_flight_and_fill() {
        let cache = Arc::new(DecisionCache::<u32>::new(config(60_000)));
        let calls = Arc::new(AtomicU64::new(0));
        let mut rxs = Vec::new();
        for _ in 0..5 {
            let calls = calls.clone();
            rxs.push(
                cache.verify_in_background(key("a@sha256:1", "p"), move || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(Verified {
                        outcome: 7,
                        passed: true,
                    })
                }),
            );
        }
        for mut rx in rxs {
            let done = rx.wait_for(Option::is_some).await.map(|d| d.clone());
            assert!(matches!(done, Ok(Some(Ok(_)))));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let hit = cache.get(&key("a@sha256:1", "p"));
        assert!(hit.is_some_and(|h| h.fresh && h.verified.outcome == 7));
        // Another policy digest is another key.
        assert!(cache.get(&key("a@sha256:1", "q")).is_none());
    }

    #[tokio::test]
    async fn failures_are_not_cached() {
        let cache = Arc::new(DecisionCache::<u32>::new(config(60_000)));
        let mut rx = cache.verify_in_background(key("a@sha256:1", "p"), || async {
            Err(VerifyFailure::Registry {
                image: "a@sha256:1".into(),
                source: "connection refused".into(),
            })
        });
        let done = rx.wait_for(Option::is_some).await.map(|d| d.clone());
        assert!(matches!(done, Ok(Some(Err(_)))));
        assert!(cache.get(&key("a@sha256:1", "p")).is_none());
    }

    #[tokio::test]
    async fn ttl_stale_refresh_and_invalidation() {
        let cache = Arc::new(DecisionCache::<u32>::new(config(100)));
        let pass = Arc::new(Verified {
            outcome: 1,
            passed: true,
        });
        let fail = Arc::new(Verified {
            outcome: 2,
            passed: false,
        });
        cache.insert(key("a", "p"), pass);
        cache.insert(key("b", "p"), fail);
        assert!(cache.get(&key("a", "p")).is_some());
        assert!(cache.get(&key("b", "p")).is_some());
        tokio::time::sleep(Duration::from_millis(120)).await;
        // The passing entry is stale but served; the failing one is gone.
        assert!(cache.get(&key("a", "p")).is_some_and(|h| !h.fresh));
        assert!(cache.get(&key("b", "p")).is_none());
        let parts = key("a", "p").parts;
        assert_eq!(cache.due_for_refresh(&parts), vec![key("a", "p")]);
        // A policy change drops everything under the old digest.
        let other = key("a", "q").parts;
        assert!(cache.due_for_refresh(&other).is_empty());
        assert!(cache.is_empty());
    }

    #[test]
    fn evicts_least_recently_used() {
        let rt = tokio::runtime::Builder::new_current_thread().build();
        let Ok(_rt) = rt else { return };
        let cache = DecisionCache::<u32>::new(config(60_000));
        let v = || {
            Arc::new(Verified {
                outcome: 0,
                passed: true,
            })
        };
        cache.insert(key("a", "p"), v());
        std::thread::sleep(Duration::from_millis(5));
        cache.insert(key("b", "p"), v());
        std::thread::sleep(Duration::from_millis(5));
        let _ = cache.get(&key("a", "p"));
        cache.insert(key("c", "p"), v());
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&key("b", "p")).is_none());
        assert!(cache.get(&key("a", "p")).is_some());
    }
}
