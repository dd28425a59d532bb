//! The PostgreSQL + object store backend against a real PostgreSQL 15 and a real S3 API server
//! (moto_server), both started here on free loopback ports:
//! - it passes the backend-agnostic storage suite unchanged;
//! - two engines (front ends) on one database and bucket sequence concurrently: every entry gets
//!   one index, the same entry submitted to both gets one index, every acknowledged entry is
//!   covered by the checkpoint it came with, and all checkpoints are consistent;
//! - the schema version check refuses a database migrated by a newer vouch;
//! - the cosigned checkpoint row is swapped only by the integrator, by compare-and-swap, and
//!   only to a checkpoint the log published.
#![cfg(feature = "scale")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;
use vouch_core::merkle;
use vouch_log::entries::PreparedEntry;
use vouch_log::pg::{PgStorage, object_store_with_credentials};
use vouch_log::storage::{Storage, StoredCheckpoint};
use vouch_log::{KeyAlgorithm, Log, LogConfig, LogError, LogSigner};
use vouch_testkit::scale::{Moto, Postgres};

const ORIGIN: &str = "log.vouch.test/scale";
const CREATED: &str = "2026-01-01T00:00:00Z";

struct Peers {
    pg: Postgres,
    s3: Moto,
}

fn peers() -> Option<Peers> {
    let pg = Postgres::start()?;
    let s3 = Moto::start()?;
    Some(Peers { pg, s3 })
}

impl Peers {
    /// A fresh database and bucket named `name`; returns a function opening a new handle.
    fn log_store(&self, name: &str) -> impl Fn() -> PgStorage + use<> {
        self.pg.create_database(name).unwrap();
        let bucket = format!("{}-tiles", name.replace('_', "-"));
        self.s3.create_bucket(&bucket).unwrap();
        let db = self.pg.url_with_password(name);
        let tiles = format!(
            "s3://{bucket}/log?endpoint={}&region=us-east-1",
            self.s3.endpoint()
        );
        move || {
            let store = object_store_with_credentials(&tiles, "test", "test").unwrap();
            PgStorage::open_with_store(&db, store, &tiles, Some(ORIGIN), CREATED).unwrap()
        }
    }
}

#[test]
fn pg_s3_storage_passes_the_backend_suite() {
    let Some(p) = peers() else { return };
    let open = p.log_store("suite");
    vouch_log::storage::suite::run(&open, |s| {
        drop(s);
        Some(open())
    });
}

#[test]
fn schema_and_origin_checks_refuse_a_foreign_database() {
    let Some(p) = peers() else { return };
    let open = p.log_store("checks");
    drop(open());
    // Another origin on the same database.
    let store = object_store_with_credentials(
        "s3://checks-tiles/log?endpoint=http://127.0.0.1:1",
        "t",
        "t",
    )
    .unwrap();
    let err = PgStorage::open_with_store(
        &p.pg.url_with_password("checks"),
        store.clone(),
        "s3://checks-tiles",
        Some("other.example/log"),
        CREATED,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("holds the log \"log.vouch.test/scale\""),
        "{err}"
    );
    // A schema version from the future.
    let sql = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99, 'future', true, '\\x00', 0)";
    p.pg.psql_db("checks", sql).unwrap();
    let err = PgStorage::open_with_store(
        &p.pg.url_with_password("checks"),
        store,
        "s3://checks-tiles",
        Some(ORIGIN),
        CREATED,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("database schema version 99 is newer than this vouch supports (3)"),
        "{err}"
    );
}

fn entry(n: usize) -> PreparedEntry {
    let body = format!("{{\"entry\":{n}}}").into_bytes();
    PreparedEntry {
        leaf_hash: merkle::leaf_hash(&body),
        search_keys: vec![format!("test:{}", n % 7)],
        body,
        kind: "hashedrekord",
        version: "0.0.2",
    }
}

fn cp_of(c: &StoredCheckpoint) -> (u64, [u8; 32]) {
    (c.size, c.root)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_front_ends_share_one_log() {
    let Some(p) = tokio::task::spawn_blocking(peers).await.unwrap() else {
        return;
    };
    let p = Arc::new(p);
    let open = {
        let p = p.clone();
        tokio::task::spawn_blocking(move || p.log_store("multi"))
            .await
            .unwrap()
    };
    let open = Arc::new(open);
    let key_dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        origin: ORIGIN.into(),
        batch_interval: Duration::from_millis(20),
        max_batch: 64,
        max_pending: 4096,
    };
    let mut fronts = Vec::new();
    for _ in 0..2 {
        let signer =
            LogSigner::load_or_generate(key_dir.path(), ORIGIN, KeyAlgorithm::Ed25519).unwrap();
        let o = open.clone();
        let storage = tokio::task::spawn_blocking(move || o()).await.unwrap();
        fronts.push(Log::open(storage, signer, cfg.clone()).unwrap());
    }
    // 400 distinct entries, alternating front ends, all at once; entry 0 goes to both.
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..400usize {
        let log = fronts[n % 2].clone();
        tasks.spawn(async move { (n, log.submit(entry(n)).await) });
    }
    let twin = fronts[1].clone();
    tasks.spawn(async move { (0, twin.submit(entry(0)).await) });
    let mut index_of = std::collections::HashMap::new();
    let mut dup_answers = Vec::new();
    let mut checkpoints = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (n, res) = r.unwrap();
        match res {
            Ok(i) => {
                // The proof verifies against the checkpoint it came with.
                merkle::verify_inclusion(
                    i.index,
                    i.checkpoint.size,
                    &merkle::leaf_hash(&entry(n).body),
                    &i.proof,
                    &i.checkpoint.root,
                )
                .unwrap_or_else(|e| panic!("entry {n} at {}: {e}", i.index));
                assert!(
                    index_of.insert(n, i.index).is_none(),
                    "entry {n} was acknowledged twice as new"
                );
                checkpoints.push(cp_of(&i.checkpoint));
            }
            Err(LogError::AlreadyExists(i)) => dup_answers.push((n, i)),
            Err(e) => panic!("entry {n}: {e}"),
        }
    }
    assert_eq!(index_of.len(), 400, "every distinct entry got an index");
    assert_eq!(
        dup_answers,
        vec![(0, index_of[&0])],
        "the twin got the first copy's index"
    );
    let mut indexes: Vec<u64> = index_of.values().copied().collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..400).collect::<Vec<_>>(), "indexes are 0..400");

    // Both front ends converge on one checkpoint; every checkpoint seen is consistent with it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fronts.iter().any(|f| f.checkpoint().size < 400) {
        assert!(
            std::time::Instant::now() < deadline,
            "front ends did not converge"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let last = fronts[0].checkpoint();
    let (a, b) = (fronts[0].clone(), fronts[1].clone());
    let seen = checkpoints.clone();
    tokio::task::spawn_blocking(move || {
        for (size, root) in seen {
            for f in [&a, &b] {
                let proof = f.consistency_proof(size, last.size).unwrap();
                merkle::verify_consistency(size, last.size, &root, &last.root, &proof).unwrap();
            }
        }
        assert_eq!(b.checkpoint(), last, "both front ends serve one checkpoint");
        // Dedup and search through the database, entries through the object store.
        assert_eq!(
            a.storage().lookup_leaf(&entry(7).leaf_hash).unwrap(),
            Some(index_of[&7])
        );
        assert_eq!(b.entry(index_of[&399]).unwrap(), Some(entry(399).body));
        assert_eq!(
            b.storage()
                .search("test:3", 0..u64::MAX, true, 1000)
                .unwrap()
                .len(),
            57
        );
    })
    .await
    .unwrap();

    // A third handle opens from the tiles alone and finds the same root.
    drop(fronts);
    let o = open.clone();
    let reopened = tokio::task::spawn_blocking(move || o()).await.unwrap();
    let signer =
        LogSigner::load_or_generate(key_dir.path(), ORIGIN, KeyAlgorithm::Ed25519).unwrap();
    let log = Log::open(reopened, signer, cfg).unwrap();
    assert_eq!(log.checkpoint().size, 400);
}

#[test]
fn search_pages_through_the_database() {
    use vouch_log::search::{Matches, intersect};
    use vouch_log::shared::{NewEntry, SharedBackend};
    use vouch_log::storage::{CommitBatch, EntryRecord};
    let Some(p) = peers() else { return };
    let s = p.log_store("paging")();
    // 3,000 entries of one identity (several of the explorer's 512-match chunks), every 4th
    // also under a digest; published by one checkpoint.
    let n = 3_000u64;
    let entries = (0..n)
        .map(|i| {
            let mut keys = vec!["subject:https://ci.example/w.yml@refs/heads/main".to_string()];
            if i % 4 == 0 {
                keys.push("sha256:dd".into());
            }
            EntryRecord {
                leaf_hash: merkle::leaf_hash(format!("paged entry {i}").as_bytes()),
                integrated_time: 1_700_000_000,
                search_keys: keys,
            }
        })
        .collect();
    s.commit(&CommitBatch {
        first_index: 0,
        entries,
        tiles: vec![],
        entry_bundles: vec![],
        checkpoint: StoredCheckpoint {
            size: n,
            root: [1; 32],
            note: "paging\n".into(),
        },
    })
    .unwrap();
    // One more sequenced but not published: no search may answer with it yet.
    let keys = vec!["subject:https://ci.example/w.yml@refs/heads/main".to_string()];
    let body = b"sequenced, not published".to_vec();
    s.sequence(
        &[NewEntry {
            leaf_hash: merkle::leaf_hash(&body),
            body: &body,
            search_keys: &keys,
        }],
        1_700_000_001,
    )
    .unwrap();
    let id = keys[0].clone();
    assert_eq!(
        s.search(&id, 0..u64::MAX, true, 3).unwrap(),
        vec![2999, 2998, 2997],
        "newest published first; the sequenced entry {n} is not published"
    );
    // Newest first through every match, a page of 100 at a time, each page below the last.
    let mut seen = Vec::new();
    let mut end = n;
    loop {
        let page = Matches::new(&s, std::slice::from_ref(&id), &[], 0..end, true)
            .take(100)
            .unwrap();
        let Some(&last) = page.last() else { break };
        seen.extend(page);
        end = last;
    }
    assert_eq!(seen, (0..n).rev().collect::<Vec<_>>());
    // Both terms merged (the digest's entries are the identity's too): each entry once.
    let both = [id.clone(), "sha256:dd".to_string()];
    let mut m = Matches::new(&s, &both, &[], 0..u64::MAX, false);
    assert_eq!(m.count_up_to(10_000).unwrap(), (3000, true));
    let mut m = Matches::new(&s, &both, &[], 0..u64::MAX, false);
    assert_eq!(m.count_up_to(1_000).unwrap(), (1000, false));
    // Oldest first from a cursor, and an intersection that seeks.
    let mut m = Matches::new(&s, &both, &[], 2_001..n, false);
    assert_eq!(m.take(3).unwrap(), vec![2001, 2002, 2003]);
    let mut streams = vec![
        Matches::new(&s, std::slice::from_ref(&id), &[], 0..n, false),
        Matches::new(&s, &["sha256:dd".to_string()], &[], 1_000..n, false),
    ];
    assert_eq!(intersect(&mut streams, 3).unwrap(), vec![1000, 1004, 1008]);
}

/// The cosigned checkpoint row: only the integrator swaps it, by compare-and-swap, and only to
/// a checkpoint the log published (its size and root, or one the log has grown past).
#[test]
fn cosigned_checkpoint_is_swapped_by_the_integrator_only() {
    use vouch_log::shared::{PublishedCheckpoints, SharedBackend};
    use vouch_log::storage::CommitBatch;
    let Some(p) = peers() else { return };
    let open = p.log_store("cosigned");
    let (a, b) = (open(), open());
    let published = StoredCheckpoint {
        size: 2,
        root: [7; 32],
        note: "checkpoint 2\n".into(),
    };
    a.commit(&CommitBatch {
        first_index: 0,
        entries: vec![],
        tiles: vec![],
        entry_bundles: vec![],
        checkpoint: published.clone(),
    })
    .unwrap();
    let cosigned = |size, root, note: &str| StoredCheckpoint {
        size,
        root,
        note: note.into(),
    };
    assert!(a.try_lead().unwrap(), "the first handle leads");
    assert!(!b.try_lead().unwrap(), "the second does not");
    let one = cosigned(2, [7; 32], "checkpoint 2\n\n— w1 cosig\n");
    let err = b.publish_cosigned(None, &one).unwrap_err();
    assert!(err.to_string().contains("not the integrator"), "{err}");
    assert!(
        !a.publish_cosigned(None, &cosigned(3, [7; 32], "beyond"))
            .unwrap(),
        "a size the log has not published"
    );
    assert!(
        !a.publish_cosigned(None, &cosigned(2, [8; 32], "other root"))
            .unwrap(),
        "another root at the published size"
    );
    assert!(a.publish_cosigned(None, &one).unwrap());
    assert_eq!(
        b.load_checkpoints().unwrap(),
        PublishedCheckpoints {
            checkpoint: Some(published),
            cosigned: Some(one.clone()),
        },
        "every handle reads both rows"
    );
    let two = cosigned(2, [7; 32], "checkpoint 2\n\n— w1 cosig\n— w2 cosig\n");
    assert!(
        !a.publish_cosigned(None, &two).unwrap(),
        "insert over an existing row"
    );
    assert!(
        !a.publish_cosigned(Some(&two), &two).unwrap(),
        "swap from a row that is not the stored one"
    );
    assert!(a.publish_cosigned(Some(&one), &two).unwrap());
    assert_eq!(b.load_checkpoints().unwrap().cosigned, Some(two));
}
