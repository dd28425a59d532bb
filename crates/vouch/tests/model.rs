//! `vouch sign-model` / `vouch verify-model` against the real peer, PyPI `model-signing` 1.1.1
//! (OpenSSF Model Signing), both ways, against a `vouch up` instance:
//!
//! * `model_signing sign sigstore` signs (Rekor v1 from the trust config), `vouch verify-model`
//!   verifies; `vouch sign-model` signs (Rekor v1 and v2), `model_signing verify sigstore`
//!   verifies;
//! * the same with keys (`model_signing sign key` / `verify key`, `vouch … --key`);
//! * both verifiers reject a modified weight file, an added file and a wrong identity, and
//!   vouch names the file;
//! * a legacy v0.1 statement is accepted; `vouch policy check` gates the model directory.
//!
//! Needs `model_signing` (and `pyopenssl`) in the venv of `$VOUCH_PYTHON`; prints SKIP without
//! it, fails instead under `VOUCH_REQUIRE_PEERS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::{Instance, start_up};
use common::vouch;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Run to completion, three minutes at most (the peer signs a whole model directory).
fn run(cmd: &mut Command) -> Output {
    common::run_within(cmd, Duration::from_secs(180))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed:\n{}", text(out));
    text(out)
}

fn fails(out: &Output, what: &str, needles: &[&str]) {
    let t = text(out);
    assert!(!out.status.success(), "{what} unexpectedly succeeded:\n{t}");
    for n in needles {
        assert!(t.contains(n), "{what}: expected {n:?} in:\n{t}");
    }
}

/// `model_signing` next to `$VOUCH_PYTHON` (CI's venv), if installed.
fn model_signing() -> Option<PathBuf> {
    let py = std::env::var_os("VOUCH_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            Some(Path::new(&home).join(".cache/vouch-venv/bin/python"))
        })?;
    let cli = py.with_file_name("model_signing");
    cli.exists().then_some(cli)
}

struct Peer {
    cli: PathBuf,
    home: PathBuf,
    cwd: PathBuf,
}

impl Peer {
    /// `model_signing verify sigstore my-model --signature SIG --trust_config TC --identity ID
    /// --identity_provider ISS`.
    fn verify(&self, sig: &str, tc: &str, identity: &str, issuer: &str) -> Output {
        self.run(&[
            "verify",
            "sigstore",
            "my-model",
            "--signature",
            sig,
            "--trust_config",
            tc,
            "--identity",
            identity,
            "--identity_provider",
            issuer,
        ])
    }

    fn run(&self, args: &[&str]) -> Output {
        run(Command::new(&self.cli)
            .args(args)
            .current_dir(&self.cwd)
            .env("HOME", &self.home)
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .env("XDG_DATA_HOME", self.home.join("data")))
    }
}

/// A small model: weights, config, a nested tokenizer, git files that are left out.
fn make_model(dir: &Path) {
    std::fs::create_dir_all(dir.join("tokenizer")).unwrap();
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    let weights: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("model.safetensors"), &weights).unwrap();
    std::fs::write(dir.join("config.json"), br#"{"hidden_size":64}"#).unwrap();
    std::fs::write(dir.join("tokenizer/vocab.json"), br#"{"a":1}"#).unwrap();
    std::fs::write(dir.join("tokenizer-extra.txt"), b"x").unwrap();
    std::fs::write(dir.join(".gitignore"), b"*.tmp\n").unwrap();
    std::fs::write(dir.join(".git/HEAD"), b"ref: refs/heads/main\n").unwrap();
}

/// Change one byte of the weights, run `check`, and restore them.
fn with_modified_weights(model: &Path, check: impl FnOnce()) {
    let p = model.join("model.safetensors");
    let orig = std::fs::read(&p).unwrap();
    let mut bad = orig.clone();
    bad[1_234_567] ^= 1;
    std::fs::write(&p, &bad).unwrap();
    check();
    std::fs::write(&p, &orig).unwrap();
}

/// Add a file, run `check`, and remove it.
fn with_added_file(model: &Path, check: impl FnOnce()) {
    let p = model.join("tokenizer/backdoor.py");
    std::fs::write(&p, b"import os\n").unwrap();
    check();
    std::fs::remove_file(&p).unwrap();
}

struct Ctx<'a> {
    inst: &'a Instance,
    cwd: PathBuf,
}

impl Ctx<'_> {
    fn oidc(&self) -> &str {
        &self.inst.urls["oidc"]
    }
    fn tc(&self) -> &str {
        self.inst.trust_config.to_str().unwrap()
    }
    fn verify(&self, bundle: &str, identity: &str, extra: &[&str]) -> Output {
        run(vouch()
            .current_dir(&self.cwd)
            .args(["verify-model", "my-model", "--bundle", bundle])
            .args([
                "--certificate-identity",
                identity,
                "--certificate-oidc-issuer",
            ])
            .arg(self.oidc())
            .args(["--trust-config", self.tc()])
            .args(extra))
    }
    fn sign(&self, bundle: &str, token: &str, extra: &[&str]) -> Output {
        run(vouch()
            .current_dir(&self.cwd)
            .args(["sign-model", "my-model", "--bundle", bundle])
            .args(["--identity-token", token, "-y", "--trust-config", self.tc()])
            .args(extra))
    }
}

#[test]
fn model_signing_interop() {
    let Some(cli) = model_signing() else {
        vouch_testkit::skip(format_args!(
            "model-signing interop (pip install model-signing==1.1.1 pyopenssl into the venv of $VOUCH_PYTHON)"
        ));
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inst = start_up(&d.join("data"), 0, &d.join("up.log"));
    let cwd = d.join("work");
    std::fs::create_dir_all(&cwd).unwrap();
    make_model(&cwd.join("my-model"));
    let model = cwd.join("my-model");
    let home = d.join("pyhome");
    std::fs::create_dir_all(&home).unwrap();
    let peer = Peer {
        cli,
        home,
        cwd: cwd.clone(),
    };
    let ctx = Ctx {
        inst: &inst,
        cwd: cwd.clone(),
    };
    let alice = inst.token("alice@example.com");
    let oidc = ctx.oidc().to_string();
    let tc = ctx.tc().to_string();

    // 1. model_signing signs (keyless, against vouch up), with the signature inside the
    //    model directory (so it must be left out of the manifest).
    let out = peer.run(&[
        "sign",
        "sigstore",
        "my-model",
        "--signature",
        "my-model/model.sig",
        "--trust_config",
        &tc,
        "--identity_token",
        &alice,
    ]);
    ok(&out, "model_signing sign sigstore");
    // vouch up offers Rekor v2 first: model-signing (sigstore-python) logs the DSSE envelope
    // there as a hashedrekord over H(PAE), and vouch must do the same (checked below).
    assert_eq!(kind_version(&model.join("model.sig")), "hashedrekord 0.0.2");
    // With a Rekor v1-only trust config it logs a `dsse` entry.
    let mut tc_v1: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&inst.trust_config).unwrap()).unwrap();
    tc_v1["signingConfig"]["rekorTlogUrls"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["majorApiVersion"] == 1);
    std::fs::write(cwd.join("tc-v1.json"), serde_json::to_vec(&tc_v1).unwrap()).unwrap();
    ok(
        &peer.run(&[
            "sign",
            "sigstore",
            "my-model",
            "--signature",
            "peer-v1.sig",
            "--trust_config",
            "tc-v1.json",
            "--identity_token",
            &alice,
        ]),
        "model_signing sign sigstore (Rekor v1)",
    );
    assert_eq!(kind_version(&cwd.join("peer-v1.sig")), "dsse 0.0.1");
    ok(
        &ctx.verify("peer-v1.sig", "alice@example.com", &[]),
        "vouch verify-model of a model_signing signature (Rekor v1)",
    );
    // vouch verifies it, and names the identity.
    let t = ok(
        &ctx.verify("my-model/model.sig", "alice@example.com", &[]),
        "vouch verify-model of a model_signing signature",
    );
    assert!(t.contains("Verified signer: alice@example.com"), "{t}");
    assert!(t.contains("4 files match"), "{t}");
    // The peer's own verifier agrees (a sanity check of the set-up).
    ok(
        &peer.verify("my-model/model.sig", &tc, "alice@example.com", &oidc),
        "model_signing verify of its own signature",
    );
    with_modified_weights(&model, || {
        fails(
            &ctx.verify("my-model/model.sig", "alice@example.com", &[]),
            "vouch verify-model, modified weights",
            &["model file model.safetensors differs", "sha256:"],
        )
    });
    with_added_file(&model, || {
        fails(
            &ctx.verify("my-model/model.sig", "alice@example.com", &[]),
            "vouch verify-model, added file",
            &["tokenizer/backdoor.py", "not in the signature"],
        );
        // … unless unsigned files are accepted on purpose.
        ok(
            &ctx.verify(
                "my-model/model.sig",
                "alice@example.com",
                &["--ignore-unsigned-files"],
            ),
            "vouch verify-model --ignore-unsigned-files",
        );
    });
    fails(
        &ctx.verify("my-model/model.sig", "mallory@example.com", &[]),
        "vouch verify-model, wrong identity",
        &["mallory@example.com", "alice@example.com"],
    );
    std::fs::remove_file(model.join("model.sig")).unwrap();
    fails(
        &ctx.verify("my-model/model.sig", "alice@example.com", &[]),
        "vouch verify-model, no signature",
        &["cannot read model signature"],
    );

    // 2. vouch signs (Rekor v1 and v2), model_signing verifies.
    for (rekor, bundle) in [("1", "vouch-v1.sig"), ("2", "vouch-v2.sig")] {
        let t = ok(
            &ctx.sign(bundle, &alice, &["--rekor-version", rekor]),
            &format!("vouch sign-model (Rekor v{rekor})"),
        );
        assert!(t.contains("4 files"), "{t}");
        let peer_verify = |identity: &str| peer.verify(bundle, &tc, identity, &oidc);
        let t = ok(
            &peer_verify("alice@example.com"),
            &format!("model_signing verify of a vouch signature (Rekor v{rekor})"),
        );
        assert!(t.contains("Verification succeeded"), "{t}");
        ok(
            &ctx.verify(bundle, "alice@example.com", &[]),
            "vouch verify-model of its own signature",
        );
        with_modified_weights(&model, || {
            fails(
                &peer_verify("alice@example.com"),
                "model_signing verify, modified weights",
                &["Hash mismatch for 'model.safetensors'"],
            )
        });
        with_added_file(&model, || {
            fails(
                &peer_verify("alice@example.com"),
                "model_signing verify, added file",
                &["Extra files", "tokenizer/backdoor.py"],
            )
        });
        fails(
            &peer_verify("mallory@example.com"),
            "model_signing verify, wrong identity",
            &["Verification failed"],
        );
    }
    assert_eq!(kind_version(&cwd.join("vouch-v1.sig")), "dsse 0.0.1");
    assert_eq!(
        kind_version(&cwd.join("vouch-v2.sig")),
        "hashedrekord 0.0.2"
    );
    // The statement is the v1.0 one: one subject (the model), every file in the predicate.
    let b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cwd.join("vouch-v1.sig")).unwrap()).unwrap();
    let payload = base64_decode(b["dsseEnvelope"]["payload"].as_str().unwrap());
    let st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(st["predicateType"], "https://model_signing/signature/v1.0");
    assert_eq!(st["subject"].as_array().unwrap().len(), 1);
    assert_eq!(st["subject"][0]["name"], "my-model");
    let names: Vec<&str> = st["predicate"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "config.json",
            "model.safetensors",
            "tokenizer/vocab.json",
            "tokenizer-extra.txt"
        ]
    );
    assert_eq!(st["predicate"]["serialization"]["method"], "files");
    assert_eq!(st["predicate"]["serialization"]["hash_type"], "sha256");

    // 3. Keys: model_signing signs with a PEM key, vouch verifies with --key (its bundles carry
    //    no log entry); vouch signs with the key, model_signing verifies.
    let key = cwd.join("key.pem");
    let pubkey = cwd.join("key.pub");
    let keygen = run(Command::new("openssl").args([
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        key.to_str().unwrap(),
    ]));
    ok(&keygen, "openssl genpkey");
    ok(
        &run(Command::new("openssl").args([
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-pubout",
            "-out",
            pubkey.to_str().unwrap(),
        ])),
        "openssl pkey -pubout",
    );
    ok(
        &peer.run(&[
            "sign",
            "key",
            "my-model",
            "--signature",
            "peer-key.sig",
            "--private_key",
            "key.pem",
        ]),
        "model_signing sign key",
    );
    let vouch_key_verify = |bundle: &str, extra: &[&str]| {
        run(vouch()
            .current_dir(&cwd)
            .args([
                "verify-model",
                "my-model",
                "--bundle",
                bundle,
                "--key",
                "key.pub",
            ])
            .args(["--trust-config", &tc])
            .args(extra))
    };
    fails(
        &vouch_key_verify("peer-key.sig", &[]),
        "vouch verify-model --key without a log entry",
        &["transparency log"],
    );
    ok(
        &vouch_key_verify("peer-key.sig", &["--insecure-ignore-tlog"]),
        "vouch verify-model --key of a model_signing key signature",
    );
    with_modified_weights(&model, || {
        fails(
            &vouch_key_verify("peer-key.sig", &["--insecure-ignore-tlog"]),
            "vouch verify-model --key, modified weights",
            &["model.safetensors differs"],
        )
    });
    ok(
        &run(vouch()
            .current_dir(&cwd)
            .args([
                "sign-model",
                "my-model",
                "--bundle",
                "vouch-key.sig",
                "--key",
                "key.pem",
            ])
            .args(["-y", "--trust-config", &tc])),
        "vouch sign-model --key",
    );
    let peer_key_verify = || {
        peer.run(&[
            "verify",
            "key",
            "my-model",
            "--signature",
            "vouch-key.sig",
            "--public_key",
            "key.pub",
        ])
    };
    let t = ok(
        &peer_key_verify(),
        "model_signing verify key of a vouch signature",
    );
    assert!(t.contains("Verification succeeded"), "{t}");
    assert!(!t.contains("older verification material"), "{t}");
    with_added_file(&model, || {
        fails(
            &peer_key_verify(),
            "model_signing verify key, added file",
            &["Extra files"],
        )
    });
    ok(
        &vouch_key_verify("vouch-key.sig", &[]),
        "vouch verify-model --key of its own (logged) signature",
    );

    // 4. A legacy v0.1 statement (one subject per file), signed keyless with attest-blob.
    let mut subjects = Vec::new();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer/vocab.json",
        "tokenizer-extra.txt",
    ] {
        let digest = sha256_hex(&std::fs::read(model.join(f)).unwrap());
        subjects.push(format!(
            r#"{{"name":"{f}","digest":{{"sha256":"{digest}"}},"annotations":{{"actual_hash_algorithm":"file-sha256"}}}}"#
        ));
    }
    let legacy = cwd.join("legacy-statement.json");
    std::fs::write(
        &legacy,
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{}],"predicateType":"https://model_signing/Digests/v0.1","predicate":{{"unused":"Unused, just passed due to API requirements"}}}}"#,
            subjects.join(",")
        ),
    )
    .unwrap();
    ok(
        &run(vouch()
            .current_dir(&cwd)
            .args(["attest-blob", "--statement", "legacy-statement.json"])
            .args(["--bundle", "legacy.sig", "--identity-token", &alice, "-y"])
            .args(["--trust-config", &tc])),
        "attest-blob of a legacy model statement",
    );
    let t = ok(
        &ctx.verify("legacy.sig", "alice@example.com", &[]),
        "vouch verify-model of a legacy v0.1 signature",
    );
    assert!(t.contains("legacy model-signing v0.1"), "{t}");
    with_modified_weights(&model, || {
        fails(
            &ctx.verify("legacy.sig", "alice@example.com", &[]),
            "legacy, modified weights",
            &["model.safetensors differs"],
        )
    });
    ok(
        &peer.verify("legacy.sig", &tc, "alice@example.com", &oidc),
        "model_signing verify of a legacy statement signed by vouch",
    );

    // 5. policy check gates the model directory (ArtifactPolicy, predicate type `model`).
    let policy = |name: &str, subject: &str| {
        let p = cwd.join(format!("{name}.yaml"));
        std::fs::write(
            &p,
            format!(
                "apiVersion: policy.vouch.dev/v1alpha1\nkind: ArtifactPolicy\nmetadata:\n  name: {name}\nspec:\n  artifacts:\n  - glob: \"my-*\"\n  authorities:\n  - name: ml-team\n    keyless:\n      url: https://ca.invalid\n      identities:\n      - issuer: {oidc}\n        subject: {subject}\n    attestations:\n    - name: model-signature\n      predicateType: model\n"
            ),
        )
        .unwrap();
        p
    };
    let check = |p: &Path| {
        run(vouch()
            .current_dir(&cwd)
            .args([
                "policy",
                "check",
                "my-model",
                "--bundle",
                "vouch-v1.sig",
                "--policy",
            ])
            .arg(p)
            .args(["--trust-config", &tc]))
    };
    let t = ok(
        &check(&policy("models", "alice@example.com")),
        "policy check of a model",
    );
    assert!(t.contains("authority ml-team: passed"), "{t}");
    fails(
        &check(&policy("models-bob", "bob@example.com")),
        "policy check of a model, other signer",
        &["denied", "authority ml-team"],
    );
    with_modified_weights(&model, || {
        fails(
            &check(&policy("models", "alice@example.com")),
            "policy check of a modified model",
            &["model.safetensors differs"],
        )
    });
}

/// The kind and version of a bundle's first log entry.
fn kind_version(bundle: &Path) -> String {
    let b: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    let kv = &b["verificationMaterial"]["tlogEntries"][0]["kindVersion"];
    format!(
        "{} {}",
        kv["kind"].as_str().unwrap_or_default(),
        kv["version"].as_str().unwrap_or_default()
    )
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(vouch_core::keys::HashKind::Sha256.digest(data))
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
