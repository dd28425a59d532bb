//! TUF metadata as vouch's TUF client ([`vouch_tuf::TufClient`], `sigstore-tuf`'s updater)
//! reads it from a mirror it does not trust: the bootstrap root, then `2.root.json` (a root
//! rotation), `timestamp.json`, `N.snapshot.json` and `N.targets.json`, each checked for
//! signatures, thresholds, versions, expiry, lengths and hashes before the next is read.
//!
//! Input: the documents separated by NUL bytes (JSON never contains a raw NUL), in the order
//! root, timestamp, snapshot, targets, new root; missing parts are absent from the mirror. The
//! clock is fixed, so expiry decisions are deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigstore_tuf::{MetadataStore, StoreRepository, Updater};

/// A mirror serving the fuzzed documents under every name of their role.
struct Mirror {
    timestamp: Option<Vec<u8>>,
    snapshot: Option<Vec<u8>>,
    targets: Option<Vec<u8>>,
    new_root: Option<Vec<u8>>,
}

impl MetadataStore for Mirror {
    fn load(&self, name: &str) -> sigstore_tuf::Result<Option<Vec<u8>>> {
        let part = if name == "timestamp.json" {
            &self.timestamp
        } else if name == "2.root.json" {
            &self.new_root
        } else if name.ends_with(".snapshot.json") || name == "snapshot.json" {
            &self.snapshot
        } else if name.ends_with(".targets.json") || name == "targets.json" {
            &self.targets
        } else {
            return Ok(None);
        };
        Ok(part.clone())
    }

    fn store(&self, _name: &str, _bytes: &[u8]) -> sigstore_tuf::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let root = parts.next().unwrap_or_default();
    let mut next = || parts.next().map(<[u8]>::to_vec);
    let mirror = Mirror {
        timestamp: next(),
        snapshot: next(),
        targets: next(),
        new_root: next(),
    };
    let Ok(mut updater) = Updater::new(StoreRepository::new(mirror), root) else {
        return;
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    // 2026-01-01T00:00:00Z.
    let Ok(now) = jiff::Timestamp::from_second(1_767_225_600) else {
        return;
    };
    rt.block_on(async {
        if updater.refresh(now).await.is_ok() {
            let _ = updater
                .get_target(vouch_tuf::TRUSTED_ROOT_TARGET, now)
                .await;
        }
    });
});
