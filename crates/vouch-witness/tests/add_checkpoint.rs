//! The witness over real HTTP: the spec's answers (200, 400, 403, 404, 409 with
//! `text/x.tlog.size`, 422), a forked history refused, malformed bodies answered 400 while the
//! server stays up, the monitoring endpoint, state surviving a restart, and an independent
//! Python client (pynacl, pyca/cryptography) checking both cosignature types.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use std::path::Path;
use std::sync::Arc;
use vouch_core::cosignature::CosignatureKind;
use vouch_core::encoding::b64_encode as b64;
use vouch_core::merkle::{self, Hash};
use vouch_core::note::{NoteSignature, NoteVerifier, SignedNote};
use vouch_core::witness::{AddCheckpointRequest, TLOG_SIZE_CONTENT_TYPE, parse_cosignature_lines};
use vouch_witness::{LogConfig, Witness, WitnessKeys, origin_hash};

const ORIGIN: &str = "log.vouch.test/witnessed";
const OTHER: &str = "other.vouch.test/log";
const PY_ORIGIN: &str = "python.vouch.test/log";
const PY_SEED: [u8; 32] = [42; 32];

struct TestLog {
    origin: &'static str,
    key: Ed25519KeyPair,
}

impl TestLog {
    fn new(origin: &'static str) -> Self {
        Self {
            origin,
            key: Ed25519KeyPair::generate().unwrap(),
        }
    }
    fn verifier(&self) -> NoteVerifier {
        NoteVerifier::ed25519(
            self.origin,
            self.key.public_key().as_ref().try_into().unwrap(),
        )
    }
    fn config(&self) -> LogConfig {
        LogConfig {
            origin: self.origin.into(),
            verifier: self.verifier(),
        }
    }
    fn checkpoint(&self, leaves: &[Hash]) -> SignedNote {
        let text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            leaves.len(),
            b64(&merkle::root_of_leaves(leaves))
        );
        let sig = self.key.sign(text.as_bytes());
        SignedNote {
            text,
            signatures: vec![NoteSignature {
                name: self.origin.into(),
                key_id: self.verifier().key_id,
                signature: sig.as_ref().to_vec(),
            }],
        }
    }
}

fn leaves(tag: &str, n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| merkle::leaf_hash(format!("{tag} {i}").as_bytes()))
        .collect()
}

fn body(old: usize, proof: Vec<Hash>, cp: &SignedNote) -> String {
    AddCheckpointRequest {
        old_size: old as u64,
        proof,
        checkpoint: cp.clone(),
    }
    .to_text()
}

fn py_log_verifier() -> NoteVerifier {
    let k = Ed25519KeyPair::from_seed_unchecked(&PY_SEED).unwrap();
    NoteVerifier::ed25519(PY_ORIGIN, k.public_key().as_ref().try_into().unwrap())
}

fn open(dir: &Path, logs: Vec<LogConfig>) -> Witness {
    let (keys, _) = WitnessKeys::load_or_generate(dir, "witness.vouch.test/w1").unwrap();
    Witness::open(dir, keys, logs).unwrap()
}

async fn post(
    c: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, String, String) {
    let r = c
        .post(format!("{url}/add-checkpoint"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

/// The note with the witness's answer appended, verified with both of its keys.
fn verify_answer(w: &Witness, cp: &SignedNote, lines: &str) {
    let mut note = cp.clone();
    note.signatures
        .extend(parse_cosignature_lines(lines).unwrap());
    let keys = w.keys().public_keys();
    assert_eq!(keys[0].kind, CosignatureKind::Ed25519);
    assert_eq!(keys[1].kind, CosignatureKind::MlDsa44);
    for k in keys {
        let c = k.verify(&note).unwrap().expect("cosigned");
        assert!(c.timestamp > 1_700_000_000);
    }
}

#[test]
fn add_checkpoint_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let log = TestLog::new(ORIGIN);
    let other = TestLog::new(OTHER);
    let impostor = TestLog::new(ORIGIN);
    let logs = vec![
        log.config(),
        other.config(),
        LogConfig {
            origin: PY_ORIGIN.into(),
            verifier: py_log_verifier(),
        },
    ];
    let witness = Arc::new(open(dir.path(), logs.clone()));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let server = vouch_server::Server::bind("127.0.0.1:0").await.unwrap();
        let url = server.url();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = vouch_witness::api::router(witness.clone());
        let task = tokio::spawn(server.serve(app, async {
            let _ = stopped.await;
        }));
        let c = reqwest::Client::new();

        // First checkpoint: old 0, no proof.
        let l = leaves("entry", 5);
        let cp5 = log.checkpoint(&l);
        let (st, ct, lines) = post(&c, &url, body(0, vec![], &cp5)).await;
        assert_eq!(st, 200, "{lines}");
        assert!(ct.starts_with("text/plain"));
        assert_eq!(lines.lines().count(), 2);
        verify_answer(&witness, &cp5, &lines);

        // The same old size again: 409 with the latest size.
        let (st, ct, b) = post(&c, &url, body(0, vec![], &cp5)).await;
        assert_eq!(
            (st, ct.as_str(), b.as_str()),
            (409, TLOG_SIZE_CONTENT_TYPE, "5\n")
        );

        // Growing with a consistency proof; the same checkpoint again is cosigned too.
        let l = leaves("entry", 12);
        let cp12 = log.checkpoint(&l);
        let proof = merkle::consistency_proof(&l, 5);
        let (st, _, lines) = post(&c, &url, body(5, proof.clone(), &cp12)).await;
        assert_eq!(st, 200, "{lines}");
        verify_answer(&witness, &cp12, &lines);
        let (st, _, _) = post(&c, &url, body(12, vec![], &cp12)).await;
        assert_eq!(st, 200);

        // A forked history: same key and origin, different entries.
        let fork = leaves("forked", 12);
        let (st, _, b) = post(&c, &url, body(12, vec![], &log.checkpoint(&fork))).await;
        assert_eq!(st, 422, "same size, other root: {b}");
        let fork20 = leaves("forked", 20);
        let (st, _, b) = post(
            &c,
            &url,
            body(
                12,
                merkle::consistency_proof(&fork20, 12),
                &log.checkpoint(&fork20),
            ),
        )
        .await;
        assert_eq!(st, 422, "proof from another tree: {b}");
        // A correct proof over the real tree, but a bad proof hash.
        let l20 = leaves("entry", 20);
        let mut bad = merkle::consistency_proof(&l20, 12);
        bad[0][0] ^= 1;
        let (st, _, _) = post(&c, &url, body(12, bad, &log.checkpoint(&l20))).await;
        assert_eq!(st, 422);
        // Nothing was recorded by the refusals.
        assert_eq!(witness.latest_size(ORIGIN), Some(12));

        // The other log is independent: old 0 works there.
        let (st, _, _) = post(
            &c,
            &url,
            body(0, vec![], &other.checkpoint(&leaves("o", 3))),
        )
        .await;
        assert_eq!(st, 200);

        // 404 unknown origin, 403 wrong key (same name, other key ID) and forged signature.
        let unknown = TestLog::new("unknown.vouch.test");
        let (st, _, _) = post(&c, &url, body(0, vec![], &unknown.checkpoint(&l))).await;
        assert_eq!(st, 404);
        let (st, _, _) = post(&c, &url, body(12, vec![], &impostor.checkpoint(&l))).await;
        assert_eq!(st, 403);
        let mut forged = log.checkpoint(&leaves("entry", 13));
        forged.signatures[0].signature[0] ^= 1;
        let (st, _, _) = post(
            &c,
            &url,
            body(
                12,
                merkle::consistency_proof(&leaves("entry", 13), 12),
                &forged,
            ),
        )
        .await;
        assert_eq!(st, 403);

        // 400: old above the checkpoint size (the 422s of size 0 are checked on a fresh log
        // below).
        let (st, _, _) = post(&c, &url, body(13, vec![], &cp12)).await;
        assert_eq!(st, 400);

        // Malformed bodies: 400 each, and the server stays up.
        let cp_text = cp12.to_text();
        for bad in [
            String::new(),
            "garbage".into(),
            format!("old 012\n\n{cp_text}"),
            format!("old 12\n{cp_text}"),
            format!("old 12\nAAAA\n\n{cp_text}"),
            format!("old 12\n\n{}", cp12.text),
            format!(
                "old 12\n\nnot a checkpoint\n\n{}",
                &cp_text[cp12.text.len() + 1..]
            ),
            format!(
                "old 12\n{}\n{cp_text}",
                format!("{}\n", b64(&[0; 32])).repeat(64)
            ),
        ] {
            let (st, _, b) = post(&c, &url, bad.clone()).await;
            assert_eq!(st, 400, "{bad:?}: {b}");
        }
        let (st, _, _) = post(&c, &url, vec![0xffu8, 0xfe, b'\n']).await;
        assert_eq!(st, 400);
        let (st, _, _) = post(
            &c,
            &url,
            vec![b'x'; vouch_core::witness::MAX_ADD_CHECKPOINT_LEN + 1],
        )
        .await;
        assert_eq!(st, 413);
        let h = c.get(format!("{url}/healthz")).send().await.unwrap();
        assert_eq!(h.status().as_u16(), 200);

        // Monitoring: the latest cosigned checkpoint with the log's and the witness's lines.
        let m = c
            .get(format!("{url}/{}/checkpoint", origin_hash(ORIGIN)))
            .send()
            .await
            .unwrap();
        assert_eq!(m.status().as_u16(), 200);
        let served = SignedNote::parse(&m.text().await.unwrap()).unwrap();
        assert_eq!(served.text, cp12.text);
        served.verify(&log.verifier()).unwrap();
        for k in witness.keys().public_keys() {
            assert!(k.verify(&served).unwrap().is_some());
        }
        let m = c
            .get(format!(
                "{url}/{}/checkpoint",
                origin_hash("unknown.vouch.test")
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(m.status().as_u16(), 404);
        let metrics = c
            .get(format!("{url}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("vouch_witness_add_checkpoint_requests_total{outcome=\"conflict\"} 1"),
            "{metrics}"
        );

        // The independent client.
        python_peer(&url, &witness);

        let _ = stop.send(());
        task.await.unwrap();
    });

    // 422 for an empty tree with another root, and for a proof from size 0.
    let zero = TestLog::new("zero.vouch.test");
    let w2dir = tempfile::tempdir().unwrap();
    let w2 = open(w2dir.path(), vec![zero.config()]);
    let cp0 = zero.checkpoint(&[]);
    assert!(w2.add_checkpoint(body(0, vec![], &cp0).as_bytes()).is_ok());
    let not_empty = {
        let text = format!("zero.vouch.test\n0\n{}\n", b64(&[1; 32]));
        SignedNote {
            signatures: vec![NoteSignature {
                name: "zero.vouch.test".into(),
                key_id: zero.verifier().key_id,
                signature: zero.key.sign(text.as_bytes()).as_ref().to_vec(),
            }],
            text,
        }
    };
    let e = w2
        .add_checkpoint(body(0, vec![], &not_empty).as_bytes())
        .unwrap_err();
    assert_eq!(e.status(), 422, "{e}");
    let l3 = leaves("z", 3);
    let e = w2
        .add_checkpoint(body(0, vec![l3[0]], &zero.checkpoint(&l3)).as_bytes())
        .unwrap_err();
    assert_eq!(e.status(), 422, "{e}");

    // The state survives a restart (and the keys are kept).
    let before = witness.keys().public_keys().map(|k| k.to_vkey());
    drop(witness);
    let reopened = open(dir.path(), logs);
    assert_eq!(reopened.latest_size(ORIGIN), Some(12));
    assert_eq!(reopened.latest_size(OTHER), Some(3));
    assert_eq!(reopened.keys().public_keys().map(|k| k.to_vkey()), before);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [
            vouch_witness::keys::ED25519_KEY_FILE,
            vouch_witness::keys::MLDSA44_KEY_FILE,
        ] {
            let mode = std::fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }
}

fn python_peer(url: &str, witness: &Witness) {
    let Some(py) = std::env::var_os("VOUCH_PYTHON") else {
        vouch_testkit::skip("VOUCH_PYTHON is not set (needs a venv with pynacl)");
        return;
    };
    let probe = std::process::Command::new(&py)
        .args(["-c", "import nacl.signing"])
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        vouch_testkit::skip("VOUCH_PYTHON lacks pynacl (pip install pynacl)");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/witness_peer.py");
    let mut args = vec![
        script.display().to_string(),
        url.to_string(),
        hex::encode(PY_SEED),
        PY_ORIGIN.to_string(),
        py_log_verifier().to_vkey().unwrap(),
    ];
    args.extend(witness.keys().public_keys().iter().map(|k| k.to_vkey()));
    let out = std::process::Command::new(&py)
        .args(&args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python peer failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if !stdout.starts_with("OK\n") {
        // pyca/cryptography without ML-DSA: the ML-DSA-44 half is not independently checked.
        vouch_testkit::skip(format_args!("python peer: {}", stdout.trim()));
    }
    eprintln!("python peer: {}", stdout.trim());
}
