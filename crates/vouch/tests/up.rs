//! `vouch up` end to end through the binary: the instance starts, `vouch sign-blob` and
//! `vouch attest-blob` sign against it (Rekor v2 and v1, TSA, CT-backed certificates),
//! `vouch verify-blob` accepts the bundles and rejects tampering and wrong identities, the
//! instance restarts with the same trust material — and, when `VOUCH_PYTHON` has the
//! `sigstore` package, sigstore-python signs against the instance, verifies our bundles, and
//! bootstraps trust through the instance's TUF repository.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::{Instance, start_up};
use common::{ok_stderr as ok, run_within as run, sigstore_python, vouch};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn fails(out: &Output, what: &str, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{what} unexpectedly succeeded: {err}"
    );
    assert!(
        err.contains(needle),
        "{what}: expected {needle:?} in: {err}"
    );
}

#[test]
fn up_sign_verify_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let inst = start_up(&data, 0, &dir.path().join("up.log"));
    for f in [
        "trust_config.json",
        "trusted_root.json",
        "signing_config.v0.2.json",
        "root.json",
    ] {
        assert!(data.join(f).exists(), "{f} missing");
    }
    let tok = inst.token("alice@example.com");
    let artifact = dir.path().join("release.tar.gz");
    std::fs::write(&artifact, b"release contents").unwrap();

    // Keyless, Rekor v2 (the signing config's default) + TSA.
    let b2 = dir.path().join("v2.sigstore.json");
    let err = ok(&inst.sign_blob(&artifact, &b2, &tok, &[]), "sign-blob v2");
    assert!(err.contains("Signed as alice@example.com"), "{err}");
    let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(&b2).unwrap()).unwrap();
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        bundle["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["version"],
        "0.0.2"
    );
    assert!(
        bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
            ["signedTimestamp"]
            .is_string()
    );
    ok(
        &inst.verify_blob(&artifact, &b2, "alice@example.com", &[]),
        "verify v2",
    );

    // Rekor v1.
    let b1 = dir.path().join("v1.sigstore.json");
    ok(
        &inst.sign_blob(&artifact, &b1, &tok, &["--rekor-version", "1"]),
        "sign-blob v1",
    );
    let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(&b1).unwrap()).unwrap();
    assert_eq!(
        bundle["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["version"],
        "0.0.1"
    );
    ok(
        &inst.verify_blob(&artifact, &b1, "alice@example.com", &[]),
        "verify v1",
    );

    // Failures name the check.
    fails(
        &inst.verify_blob(&artifact, &b2, "mallory@example.com", &[]),
        "wrong identity",
        "identity",
    );
    let tampered = dir.path().join("tampered.tar.gz");
    std::fs::write(&tampered, b"release contents, modified").unwrap();
    fails(
        &inst.verify_blob(&tampered, &b2, "alice@example.com", &[]),
        "tampered artifact",
        "error:",
    );

    // No log upload: verifiers must opt out of the log explicitly.
    let bn = dir.path().join("notlog.sigstore.json");
    let err = ok(
        &inst.sign_blob(&artifact, &bn, &tok, &["--tlog-upload=false"]),
        "sign-blob --tlog-upload=false",
    );
    assert!(err.contains("--insecure-ignore-tlog"), "{err}");
    fails(
        &inst.verify_blob(&artifact, &bn, "alice@example.com", &[]),
        "no tlog entry",
        "error:",
    );
    ok(
        &inst.verify_blob(
            &artifact,
            &bn,
            "alice@example.com",
            &["--insecure-ignore-tlog"],
        ),
        "verify with --insecure-ignore-tlog",
    );

    // Attestation.
    let predicate = dir.path().join("provenance.json");
    std::fs::write(
        &predicate,
        br#"{"buildDefinition":{"buildType":"https://example.com/b"}}"#,
    )
    .unwrap();
    let att = dir.path().join("att.sigstore.json");
    ok(
        &run(
            vouch()
                .arg("attest-blob")
                .arg(&artifact)
                .arg("--predicate")
                .arg(&predicate)
                .args(["--type", "slsaprovenance1", "--bundle"])
                .arg(&att)
                .args(["--identity-token", &tok, "-y", "--trust-config"])
                .arg(&inst.trust_config),
            Duration::from_secs(60),
        ),
        "attest-blob",
    );
    ok(
        &run(
            vouch()
                .arg("verify-blob-attestation")
                .arg(&artifact)
                .arg("--bundle")
                .arg(&att)
                .args([
                    "--type",
                    "slsaprovenance1",
                    "--certificate-identity",
                    "alice@example.com",
                    "--certificate-oidc-issuer",
                    &inst.urls["oidc"],
                    "--trusted-root",
                ])
                .arg(data.join("trusted_root.json")),
            Duration::from_secs(30),
        ),
        "verify-blob-attestation",
    );

    // Key-based: a cosign-format key pair, the public key in the bundle's place of a certificate.
    let prefix = dir.path().join("release");
    ok(
        &run(
            vouch()
                .arg("generate-key-pair")
                .arg("--output-key-prefix")
                .arg(&prefix)
                .env("COSIGN_PASSWORD", "correct horse"),
            Duration::from_secs(120),
        ),
        "generate-key-pair",
    );
    let bk = dir.path().join("key.sigstore.json");
    ok(
        &run(
            vouch()
                .arg("sign-blob")
                .arg(&artifact)
                .arg("--key")
                .arg(prefix.with_extension("key"))
                .arg("--bundle")
                .arg(&bk)
                .args(["-y", "--trust-config"])
                .arg(&inst.trust_config)
                .env("COSIGN_PASSWORD", "correct horse"),
            Duration::from_secs(120),
        ),
        "sign-blob --key",
    );
    let verify_key = |file: &Path| {
        run(
            vouch()
                .arg("verify-blob")
                .arg(file)
                .arg("--bundle")
                .arg(&bk)
                .arg("--key")
                .arg(prefix.with_extension("pub"))
                .arg("--trusted-root")
                .arg(data.join("trusted_root.json")),
            Duration::from_secs(30),
        )
    };
    ok(&verify_key(&artifact), "verify-blob --key");
    fails(
        &verify_key(&tampered),
        "verify-blob --key, tampered",
        "error:",
    );
    fails(
        &run(
            vouch()
                .arg("sign-blob")
                .arg(&artifact)
                .arg("--key")
                .arg(prefix.with_extension("key"))
                .arg("--bundle")
                .arg(dir.path().join("k2.json"))
                .args(["-y", "--trust-config"])
                .arg(&inst.trust_config)
                .env("COSIGN_PASSWORD", "wrong"),
            Duration::from_secs(120),
        ),
        "sign-blob --key, wrong password",
        "wrong password",
    );

    // The sigstore-conformance entrypoint signs (blob and in-toto statement) and verifies.
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/sigstore-conformance");
    let tr = data.join("trusted_root.json");
    let sc = data.join("signing_config.v0.2.json");
    let cb = dir.path().join("conf.sigstore.json");
    let conformance = |args: &[&std::ffi::OsStr]| {
        run(
            Command::new("bash")
                .arg(&conf)
                .args(args)
                .env("VOUCH_BIN", env!("CARGO_BIN_EXE_vouch")),
            Duration::from_secs(60),
        )
    };
    ok(
        &conformance(&[
            "sign-bundle".as_ref(),
            "--identity-token".as_ref(),
            tok.as_ref(),
            "--bundle".as_ref(),
            cb.as_os_str(),
            "--trusted-root".as_ref(),
            tr.as_os_str(),
            "--signing-config".as_ref(),
            sc.as_os_str(),
            artifact.as_os_str(),
        ]),
        "conformance sign-bundle",
    );
    let digest = format!(
        "sha256:{}",
        hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            b"release contents"
        ))
    );
    ok(
        &conformance(&[
            "verify-bundle".as_ref(),
            "--bundle".as_ref(),
            cb.as_os_str(),
            "--certificate-identity".as_ref(),
            "alice@example.com".as_ref(),
            "--certificate-oidc-issuer".as_ref(),
            inst.urls["oidc"].as_ref(),
            "--trusted-root".as_ref(),
            tr.as_os_str(),
            digest.as_ref(),
        ]),
        "conformance verify-bundle by digest",
    );
    let statement = dir.path().join("statement.json");
    std::fs::write(
        &statement,
        serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "release.tar.gz", "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {"buildDefinition": {}}
        })
        .to_string(),
    )
    .unwrap();
    let cd = dir.path().join("conf-dsse.sigstore.json");
    ok(
        &conformance(&[
            "sign-bundle".as_ref(),
            "--in-toto".as_ref(),
            "--identity-token".as_ref(),
            tok.as_ref(),
            "--bundle".as_ref(),
            cd.as_os_str(),
            "--trusted-root".as_ref(),
            tr.as_os_str(),
            "--signing-config".as_ref(),
            sc.as_os_str(),
            statement.as_os_str(),
        ]),
        "conformance sign-bundle --in-toto",
    );
    ok(
        &inst.verify_blob(&artifact, &cd, "alice@example.com", &[]),
        "verify the in-toto bundle",
    );

    // A bad token is refused by the CA with a clear message.
    fails(
        &inst.sign_blob(&artifact, &dir.path().join("x.json"), "not-a-jwt", &[]),
        "bad token",
        "identity token",
    );

    // sigstore-python against the instance.
    python_interop(&inst, dir.path(), &artifact, &b2, &att, &tok);
    js_interop(&inst, dir.path(), &artifact, &[&b2, &b1, &att], &tok);

    // Restarting on other ports is refused (the log is named after its URL), and the refused
    // start leaves the trust material alone.
    let before = std::fs::read(data.join("trusted_root.json")).unwrap();
    drop(inst);
    let out = run(
        vouch()
            .args(["up", "--data"])
            .arg(&data)
            .args(["--port", "0"]),
        Duration::from_secs(30),
    );
    fails(&out, "restart on other ports", "ports it was created with");
    let after = std::fs::read(data.join("trusted_root.json")).unwrap();
    assert_eq!(
        before, after,
        "a refused start must not rewrite the trust material"
    );
}

#[test]
fn up_restart_same_ports() {
    let base = common::up::free_port_base(6);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let inst = start_up(&data, base, &dir.path().join("up1.log"));
    let tok = inst.token("bob@example.com");
    let artifact = dir.path().join("a.txt");
    std::fs::write(&artifact, b"a").unwrap();
    let b = dir.path().join("a.sigstore.json");
    ok(&inst.sign_blob(&artifact, &b, &tok, &[]), "sign");
    let tr1 = std::fs::read(data.join("trusted_root.json")).unwrap();
    drop(inst);
    let inst = start_up(&data, base, &dir.path().join("up2.log"));
    let tr2 = std::fs::read(data.join("trusted_root.json")).unwrap();
    assert_eq!(tr1, tr2, "restart changed the trusted root");
    ok(
        &inst.verify_blob(&artifact, &b, "bob@example.com", &[]),
        "verify after restart",
    );
    // Trust bootstrapped through the instance's TUF repository, then carried to an
    // "air-gapped" directory by export/import, verifies the bundle.
    let t1 = dir.path().join("trust1");
    ok(
        &run(
            vouch()
                .args(["trust", "init", "--mirror", &inst.urls["tuf"], "--root"])
                .arg(data.join("root.json"))
                .arg("--out")
                .arg(&t1),
            Duration::from_secs(30),
        ),
        "trust init",
    );
    let exported = dir.path().join("exported");
    ok(
        &run(
            vouch()
                .args(["trust", "export"])
                .arg(&exported)
                .arg("--from")
                .arg(&t1),
            Duration::from_secs(30),
        ),
        "trust export",
    );
    let t2 = dir.path().join("trust2");
    ok(
        &run(
            vouch()
                .args(["trust", "import"])
                .arg(&exported)
                .arg("--root")
                .arg(data.join("root.json"))
                .arg("--out")
                .arg(&t2),
            Duration::from_secs(30),
        ),
        "trust import",
    );
    let via_tuf = run(
        vouch()
            .arg("verify-blob")
            .arg(&artifact)
            .arg("--bundle")
            .arg(&b)
            .args([
                "--certificate-identity",
                "bob@example.com",
                "--certificate-oidc-issuer",
                &inst.urls["oidc"],
                "--trust-config",
            ])
            .arg(t2.join("trust_config.json")),
        Duration::from_secs(30),
    );
    ok(&via_tuf, "verify with trust from TUF export/import");
    // A tampered export is refused.
    let target = std::fs::read_dir(exported.join("targets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("trusted_root.json"))
        .unwrap();
    let mut bytes = std::fs::read(&target).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&target, bytes).unwrap();
    let out = run(
        vouch()
            .args(["trust", "import"])
            .arg(&exported)
            .arg("--root")
            .arg(data.join("root.json"))
            .arg("--out")
            .arg(dir.path().join("trust3")),
        Duration::from_secs(30),
    );
    assert!(!out.status.success(), "a tampered export was imported");

    // The log continues where it was.
    let b2 = dir.path().join("a2.sigstore.json");
    ok(
        &inst.sign_blob(&artifact, &b2, &tok, &[]),
        "sign after restart",
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&b2).unwrap()).unwrap();
    assert_eq!(v["verificationMaterial"]["tlogEntries"][0]["logIndex"], "1");
}

fn python_interop(
    inst: &Instance,
    dir: &Path,
    artifact: &Path,
    our_bundle: &Path,
    our_attestation: &Path,
    tok: &str,
) {
    let Some(cli) = sigstore_python() else {
        vouch_testkit::skip(format_args!(
            "sigstore-python interop (set VOUCH_PYTHON to a venv with sigstore==4.5.1)"
        ));
        return;
    };
    let home = dir.join("pyhome");
    std::fs::create_dir_all(&home).unwrap();
    let py = |args: &[&std::ffi::OsStr]| {
        run(
            Command::new(&cli)
                .args(args)
                .env("HOME", &home)
                .env("XDG_CACHE_HOME", home.join("cache"))
                .env("XDG_DATA_HOME", home.join("data")),
            Duration::from_secs(120),
        )
    };
    let tc = inst.trust_config.as_os_str();
    let oidc = inst.urls["oidc"].clone();
    // sigstore-python verifies our bundles (Rekor v2 + TSA, and DSSE).
    for b in [our_bundle, our_attestation] {
        let out = py(&[
            "--trust-config".as_ref(),
            tc,
            "verify".as_ref(),
            "identity".as_ref(),
            "--bundle".as_ref(),
            b.as_os_str(),
            "--cert-identity".as_ref(),
            "alice@example.com".as_ref(),
            "--cert-oidc-issuer".as_ref(),
            oidc.as_ref(),
            artifact.as_os_str(),
        ]);
        ok(&out, "sigstore-python verify of a vouch bundle");
    }
    // sigstore-python signs against the instance (CSR + Bearer shape), Rekor v2 and v1.
    for (ver, name) in [("2", "py2.sigstore.json"), ("1", "py1.sigstore.json")] {
        let b = dir.join(name);
        let out = py(&[
            "--trust-config".as_ref(),
            tc,
            "sign".as_ref(),
            "--rekor-version".as_ref(),
            ver.as_ref(),
            "--identity-token".as_ref(),
            tok.as_ref(),
            "--bundle".as_ref(),
            b.as_os_str(),
            artifact.as_os_str(),
        ]);
        ok(&out, &format!("sigstore-python sign (Rekor v{ver})"));
        ok(
            &inst.verify_blob(artifact, &b, "alice@example.com", &[]),
            &format!("vouch verify of a sigstore-python bundle (Rekor v{ver})"),
        );
    }
    // Trust through the instance's TUF repository.
    let tuf = inst.urls["tuf"].clone();
    let root = inst.trust_config.with_file_name("root.json");
    ok(
        &py(&[
            "--instance".as_ref(),
            tuf.as_ref(),
            "trust-instance".as_ref(),
            root.as_os_str(),
        ]),
        "sigstore-python trust-instance",
    );
    ok(
        &py(&[
            "--instance".as_ref(),
            tuf.as_ref(),
            "verify".as_ref(),
            "identity".as_ref(),
            "--bundle".as_ref(),
            our_bundle.as_os_str(),
            "--cert-identity".as_ref(),
            "alice@example.com".as_ref(),
            "--cert-oidc-issuer".as_ref(),
            oidc.as_ref(),
            artifact.as_os_str(),
        ]),
        "sigstore-python verify through TUF",
    );
}

/// sigstore-js (npm `sigstore@5.0.1`, installed where `VOUCH_NODE_MODULES` points) verifies our
/// bundles offline from the instance's trusted root, and signs against the instance from its
/// signing config (publicKeyRequest CA shape, JSON TSA request, Rekor v2), and its TUF client
/// (@sigstore/tuf) reads the instance's TUF repository.
fn js_interop(inst: &Instance, dir: &Path, artifact: &Path, bundles: &[&Path], tok: &str) {
    let Some(modules) = std::env::var_os("VOUCH_NODE_MODULES") else {
        vouch_testkit::skip(format_args!(
            "sigstore-js interop (set VOUCH_NODE_MODULES to a node_modules with sigstore@5.0.1)"
        ));
        return;
    };
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    let node = |script: &str, args: &[&std::ffi::OsStr]| {
        run(
            Command::new("node")
                .arg(js.join(script))
                .args(args)
                .env("NODE_PATH", &modules)
                .env("SIGSTORE_ID_TOKEN", tok),
            Duration::from_secs(120),
        )
    };
    let root = inst.trust_config.with_file_name("trusted_root.json");
    let oidc = inst.urls["oidc"].clone();
    for b in bundles {
        let out = node(
            "verify.js",
            &[
                root.as_os_str(),
                b.as_os_str(),
                artifact.as_os_str(),
                "alice@example.com".as_ref(),
                oidc.as_ref(),
            ],
        );
        ok(&out, &format!("sigstore-js verify of {}", b.display()));
    }
    let out = node(
        "verify.js",
        &[
            root.as_os_str(),
            bundles[0].as_os_str(),
            artifact.as_os_str(),
            "mallory@example.com".as_ref(),
            oidc.as_ref(),
        ],
    );
    assert!(
        !out.status.success(),
        "sigstore-js accepted a wrong identity"
    );
    // sigstore-js's TUF client reads the instance's repository; a bundle verifies against the
    // trusted root it fetched.
    let via_tuf = dir.join("js-tuf-trusted_root.json");
    let bootstrap = inst.trust_config.with_file_name("root.json");
    let cache = dir.join("js-tuf-cache");
    ok(
        &node(
            "tuf.js",
            &[
                inst.urls["tuf"].as_ref(),
                bootstrap.as_os_str(),
                cache.as_os_str(),
                via_tuf.as_os_str(),
            ],
        ),
        "sigstore-js TUF refresh from the instance",
    );
    ok(
        &node(
            "verify.js",
            &[
                via_tuf.as_os_str(),
                bundles[0].as_os_str(),
                artifact.as_os_str(),
                "alice@example.com".as_ref(),
                oidc.as_ref(),
            ],
        ),
        "sigstore-js verify with the trusted root from TUF",
    );
    let js_bundle = dir.join("js.sigstore.json");
    let sc = inst.trust_config.with_file_name("signing_config.v0.2.json");
    ok(
        &node(
            "sign.js",
            &[sc.as_os_str(), artifact.as_os_str(), js_bundle.as_os_str()],
        ),
        "sigstore-js sign against the instance",
    );
    ok(
        &inst.verify_blob(artifact, &js_bundle, "alice@example.com", &[]),
        "vouch verify of a sigstore-js bundle",
    );
}

/// Keyless signing with no token: `--oidc-device-flow` prints a code; a "user" approves it on
/// the identity provider's device page; sign-blob gets the token and signs.
#[test]
fn sign_with_device_flow_login() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let inst = start_up(&data, 0, &dir.path().join("up.log"));
    let artifact = dir.path().join("a.txt");
    std::fs::write(&artifact, b"device flow").unwrap();
    let bundle = dir.path().join("a.sigstore.json");
    let mut child = vouch()
        .arg("sign-blob")
        .arg(&artifact)
        .arg("--bundle")
        .arg(&bundle)
        .args(["-y", "--oidc-device-flow", "--trust-config"])
        .arg(&inst.trust_config)
        .env_remove("SIGSTORE_ID_TOKEN")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = common::drained_lines(child.stderr.take().unwrap());
    let mut page = None;
    let mut seen = Vec::new();
    while page.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no device prompt; stderr so far: {seen:?}"));
        if let Some(u) = line.trim().strip_prefix("(or open ") {
            page = Some(u.trim_end_matches(')').to_string());
        }
        seen.push(line);
    }
    let page = page.unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let html = http.get(&page).send().await.unwrap().text().await.unwrap();
        let field = |name: &str| {
            html.split(&format!("name=\"{name}\""))
                .nth(1)
                .and_then(|p| p.split("value=\"").nth(1))
                .and_then(|p| p.split('"').next())
                .unwrap_or_else(|| panic!("no {name} field in the device page"))
                .to_string()
        };
        let (csrf, user_code) = (field("csrf"), field("user_code"));
        let r = http
            .post(format!("{}/device", inst.urls["oidc"]))
            .form(&[
                ("csrf", csrf.as_str()),
                ("user_code", user_code.as_str()),
                ("email", "dana@example.com"),
                ("action", "approve"),
            ])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "device approval: {}", r.status());
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "sign-blob did not finish after approval"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(status.success(), "sign-blob failed: {seen:?} {rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains("Signed as dana@example.com")),
        "{rest:?}"
    );
    ok(
        &inst.verify_blob(&artifact, &bundle, "dana@example.com", &[]),
        "verify device-flow bundle",
    );
}

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// PKCS#11 keys on SoftHSM2: `vouch pkcs11 generate-key`, `sign-blob --key pkcs11:…` against
/// `vouch up`, and `vouch serve ca` issuing certificates with an intermediate key that lives on
/// the token (chain made with openssl for the token's public key).
#[test]
fn pkcs11_keys_on_softhsm() {
    if !Path::new(SOFTHSM).exists()
        || Command::new("softhsm2-util")
            .arg("--version")
            .output()
            .is_err()
    {
        vouch_testkit::skip(format_args!(
            "PKCS#11 tests need SoftHSM2 (apt-get install softhsm2)"
        ));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\n", tokens.display()),
    )
    .unwrap();
    let with_hsm = |c: &mut Command| {
        c.env("SOFTHSM2_CONF", &conf);
    };
    let mut init = Command::new("softhsm2-util");
    init.args([
        "--init-token",
        "--free",
        "--label",
        "vouch-test",
        "--pin",
        "1234",
        "--so-pin",
        "5678",
    ]);
    with_hsm(&mut init);
    ok(
        &run(&mut init, Duration::from_secs(30)),
        "softhsm2-util --init-token",
    );
    let uri = |object: &str, pin: &str| {
        format!("pkcs11:token=vouch-test;object={object}?module-path={SOFTHSM}&pin-value={pin}")
    };

    // A signing key on the token.
    let mut gen_key = vouch();
    gen_key.args(["pkcs11", "generate-key", &uri("signer", "1234")]);
    with_hsm(&mut gen_key);
    let out = run(&mut gen_key, Duration::from_secs(30));
    ok(&out, "vouch pkcs11 generate-key");
    let pub_pem = dir.path().join("signer.pub");
    std::fs::write(&pub_pem, &out.stdout).unwrap();

    let data = dir.path().join("data");
    let inst = start_up(&data, 0, &dir.path().join("up.log"));
    let artifact = dir.path().join("a.txt");
    std::fs::write(&artifact, b"hsm").unwrap();
    let bundle = dir.path().join("a.sigstore.json");
    let mut sign = vouch();
    sign.arg("sign-blob")
        .arg(&artifact)
        .args(["--key", &uri("signer", "1234"), "--bundle"])
        .arg(&bundle)
        .args(["-y", "--trust-config"])
        .arg(&inst.trust_config);
    with_hsm(&mut sign);
    let err = ok(
        &run(&mut sign, Duration::from_secs(60)),
        "sign-blob --key pkcs11:",
    );
    assert!(!err.contains("1234"), "the PIN was printed: {err}");
    ok(
        &run(
            vouch()
                .arg("verify-blob")
                .arg(&artifact)
                .arg("--bundle")
                .arg(&bundle)
                .arg("--key")
                .arg(&pub_pem)
                .arg("--trusted-root")
                .arg(data.join("trusted_root.json")),
            Duration::from_secs(30),
        ),
        "verify-blob of a PKCS#11-signed bundle",
    );
    let mut bad_pin = vouch();
    bad_pin
        .arg("sign-blob")
        .arg(&artifact)
        .args(["--key", &uri("signer", "9999"), "--bundle"])
        .arg(dir.path().join("x.json"))
        .args(["-y", "--trust-config"])
        .arg(&inst.trust_config);
    with_hsm(&mut bad_pin);
    fails(
        &run(&mut bad_pin, Duration::from_secs(60)),
        "wrong PIN",
        "C_Login",
    );

    // A CA whose intermediate key is on the token.
    if Command::new("openssl").arg("version").output().is_err() {
        vouch_testkit::skip(format_args!("HSM-backed CA part needs openssl"));
        return;
    }
    let mut gen_ca = vouch();
    gen_ca.args([
        "pkcs11",
        "generate-key",
        &uri("ca", "1234"),
        "--curve",
        "p384",
    ]);
    with_hsm(&mut gen_ca);
    let out = run(&mut gen_ca, Duration::from_secs(30));
    ok(&out, "generate the CA key on the token");
    let ca_pub = dir.path().join("ca.pub");
    std::fs::write(&ca_pub, &out.stdout).unwrap();
    let d = dir.path();
    let ext = d.join("ext.cnf");
    std::fs::write(
        &ext,
        "[root]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n\
         [int]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nextendedKeyUsage=codeSigning\n\
         subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        ok(
            &run(
                Command::new("openssl").args(args).current_dir(d),
                Duration::from_secs(30),
            ),
            &format!("openssl {}", args.join(" ")),
        );
    };
    openssl(&[
        "ecparam",
        "-name",
        "secp384r1",
        "-genkey",
        "-noout",
        "-out",
        "root.key",
    ]);
    openssl(&[
        "req",
        "-new",
        "-x509",
        "-key",
        "root.key",
        "-subj",
        "/O=vouch-test/CN=root",
        "-days",
        "30",
        "-config",
        "ext.cnf",
        "-extensions",
        "root",
        "-out",
        "root.pem",
    ]);
    openssl(&[
        "x509",
        "-new",
        "-force_pubkey",
        "ca.pub",
        "-subj",
        "/O=vouch-test/CN=hsm intermediate",
        "-CA",
        "root.pem",
        "-CAkey",
        "root.key",
        "-days",
        "30",
        "-extfile",
        "ext.cnf",
        "-extensions",
        "int",
        "-out",
        "int.pem",
    ]);
    let chain = [
        std::fs::read_to_string(d.join("int.pem")).unwrap(),
        std::fs::read_to_string(d.join("root.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(d.join("chain.pem"), chain).unwrap();

    let mut ca = vouch();
    ca.args(["serve", "ca", "--config"])
        .arg(data.join("oidc/issuer.json"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(d.join("ca-data"))
        .arg("--ca-cert")
        .arg(d.join("chain.pem"))
        .args(["--ca-key", &uri("ca", "1234")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    with_hsm(&mut ca);
    let mut child = ca.spawn().unwrap();
    let first = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .and_then(Result::ok)
        .unwrap_or_default();
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(child);
    let ca_url = first
        .strip_prefix("vouch ca listening on ")
        .unwrap_or_else(|| panic!("vouch serve ca with a PKCS#11 key did not start: {first:?}"))
        .trim()
        .to_string();
    // A certificate from the HSM-backed CA, requested with the public-key shape.
    let tok = inst.token("hsm@example.com");
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &rng,
    )
    .unwrap();
    let kp = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        pkcs8.as_ref(),
    )
    .unwrap();
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair;
    use base64::Engine;
    let spki = kp.public_key().as_der().unwrap();
    let pop = kp.sign(&rng, b"hsm@example.com").unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = serde_json::json!({
        "credentials": {"oidcIdentityToken": tok},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": vouch_core::keys::pem_encode("PUBLIC KEY", spki.as_ref())},
            "proofOfPossession": b64.encode(pop.as_ref()),
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer: serde_json::Value = rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{ca_url}/api/v2/signingCert"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            200,
            "signingCert from the HSM-backed CA"
        );
        r.json().await.unwrap()
    });
    let leaf_pem = answer["signedCertificateEmbeddedSct"]["chain"]["certificates"][0]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(d.join("leaf.pem"), leaf_pem).unwrap();
    // openssl checks the leaf against the root through the intermediate signed by the token.
    openssl(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "any",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "int.pem",
        "leaf.pem",
    ]);
}

/// `vouch up --tuf-root-key-offline FILE` (issue 12, item 8): the TUF root key is written only
/// to FILE, outside the data directory; clients bootstrap from root v1; `vouch trust
/// sign-root` signs v2 with the offline key, and a client bootstrapped from v1 walks to it.
#[test]
fn up_tuf_root_key_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let key = tmp.path().join("root-key.pem");
    // Inside the data directory: refused before anything starts.
    let inside = data.join("root.pem");
    let out = run(
        vouch()
            .args(["up", "--port", "0", "--data"])
            .arg(&data)
            .arg("--tuf-root-key-offline")
            .arg(&inside),
        Duration::from_secs(60),
    );
    fails(
        &out,
        "up with the root key inside --data",
        "an offline root key must live outside",
    );

    assert!(
        !data.join("log").exists(),
        "state created before the refusal"
    );
    let mut inst = common::up::start_up_with(
        &data,
        0,
        &tmp.path().join("up.log"),
        &["--tuf-root-key-offline", key.to_str().unwrap()],
    );
    assert!(key.is_file(), "offline root key not written");
    assert!(
        !data.join("tuf/keys/root.pem").exists(),
        "root key left in --data"
    );
    let root1 = data.join("tuf/metadata/1.root.json");
    let init = |out: &str| {
        ok(
            &run(
                vouch()
                    .args(["trust", "init", "--mirror", &inst.urls["tuf"], "--root"])
                    .arg(&root1)
                    .arg("--out")
                    .arg(tmp.path().join(out)),
                Duration::from_secs(60),
            ),
            "trust init",
        );
        let root: serde_json::Value = serde_json::from_slice(
            &std::fs::read(tmp.path().join(out).join("tuf/root.json")).unwrap(),
        )
        .unwrap();
        root["signed"]["version"].as_u64().unwrap()
    };
    assert_eq!(init("t1"), 1);

    // Another key is refused; the offline key signs root v2, served at once.
    let wrong = data.join("tuf/keys/targets.pem");
    let out = run(
        vouch()
            .args(["trust", "sign-root", "--repo"])
            .arg(data.join("tuf"))
            .arg("--root-key")
            .arg(&wrong),
        Duration::from_secs(60),
    );
    fails(
        &out,
        "sign-root with the targets key",
        "is not the root key",
    );
    let out = run(
        vouch()
            .args(["trust", "sign-root", "--repo"])
            .arg(data.join("tuf"))
            .arg("--root-key")
            .arg(&key),
        Duration::from_secs(60),
    );
    ok(&out, "trust sign-root");
    assert!(String::from_utf8_lossy(&out.stdout).contains("version 2"));
    assert_eq!(init("t2"), 2);

    inst.stop();
}
