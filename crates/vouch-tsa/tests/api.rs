//! The TSA over HTTP, checked by real peers: `openssl ts`, `openssl verify` and vouch-core's
//! `TsaVerifier` (which follows sigstore-go / timestamp-authority verification).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use vouch_core::tsa::{TsaVerifier, parse_timestamp_response};
use vouch_tsa::{HashAlgorithm, TimestampRequest, TsaKeyAlgorithm, TsaOptions, TsaService, router};

struct Server {
    url: String,
    svc: Arc<TsaService>,
    _task: tokio::task::JoinHandle<()>,
}

async fn start(dir: &Path, opts: &TsaOptions) -> Server {
    let svc = Arc::new(TsaService::load_or_generate(dir, opts).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(svc.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        url: format!("http://{addr}"),
        svc,
        _task: task,
    }
}

async fn post(url: &str, ct: &str, body: Vec<u8>) -> (u16, String, Vec<u8>) {
    let r = reqwest::Client::new()
        .post(format!("{url}/api/v1/timestamp"))
        .header("content-type", ct)
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
    (status, ct, r.bytes().await.unwrap().to_vec())
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        vouch_testkit::skip(format_args!(
            "openssl is not on PATH; the openssl interop checks did not run"
        ));
    }
    ok
}

fn openssl(args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn write_chain_files(svc: &TsaService, dir: &Path) {
    let chain = svc.chain_der();
    std::fs::write(
        dir.join("leaf.pem"),
        vouch_core::keys::pem_encode("CERTIFICATE", &chain[0]),
    )
    .unwrap();
    std::fs::write(
        dir.join("root.pem"),
        vouch_core::keys::pem_encode("CERTIFICATE", &chain[1]),
    )
    .unwrap();
}

async fn openssl_round_trip(alg: TsaKeyAlgorithm) {
    if !have_openssl() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut opts = TsaOptions::default();
    opts.key_algorithm = alg;
    let srv = start(data.path(), &opts).await;
    let w = work.path();
    write_chain_files(&srv.svc, w);

    // The generated chain is RFC 5280-strict and fit for timestamping.
    let (ok, out) = openssl(
        &[
            "verify",
            "-x509_strict",
            "-purpose",
            "timestampsign",
            "-CAfile",
            "root.pem",
            "leaf.pem",
        ],
        w,
    );
    assert!(ok, "openssl verify rejected the chain: {out}");

    std::fs::write(w.join("artifact.txt"), b"hello timestamp\n").unwrap();
    for (name, extra) in [
        ("cert_nonce", vec!["-cert"]),
        ("cert_no_nonce", vec!["-cert", "-no_nonce"]),
        ("nocert_nonce", vec![]),
        ("sha512", vec!["-cert", "-sha512"]),
    ] {
        let tsq = format!("{name}.tsq");
        let tsr = format!("{name}.tsr");
        let mut args = vec!["ts", "-query", "-data", "artifact.txt"];
        if !extra.contains(&"-sha512") {
            args.push("-sha256");
        }
        args.extend(extra.iter().copied());
        args.extend(["-out", tsq.as_str()]);
        let (ok, out) = openssl(&args, w);
        assert!(ok, "openssl ts -query failed: {out}");
        let query = std::fs::read(w.join(&tsq)).unwrap();
        let (status, ct, body) = post(&srv.url, "application/timestamp-query", query).await;
        assert_eq!(status, 200, "{name}: {}", String::from_utf8_lossy(&body));
        assert_eq!(ct, "application/timestamp-reply");
        std::fs::write(w.join(&tsr), &body).unwrap();

        let (ok, out) = openssl(
            &[
                "ts",
                "-verify",
                "-in",
                &tsr,
                "-queryfile",
                &tsq,
                "-CAfile",
                "root.pem",
                "-untrusted",
                "leaf.pem",
            ],
            w,
        );
        assert!(
            ok && out.contains("Verification: OK"),
            "{name}: openssl ts -verify: {out}"
        );

        // Verification against the data itself, too.
        let (ok, out) = openssl(
            &[
                "ts",
                "-verify",
                "-in",
                &tsr,
                "-data",
                "artifact.txt",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "leaf.pem",
            ],
            w,
        );
        assert!(ok, "{name}: openssl ts -verify -data: {out}");

        let (ok, text) = openssl(&["ts", "-reply", "-in", &tsr, "-text"], w);
        assert!(ok, "{name}: openssl ts -reply -text: {text}");
        assert!(text.contains("Status: Granted."), "{text}");
        assert!(text.contains("Policy OID: 1.3.6.1.4.1.57264.2"), "{text}");
        if extra.contains(&"-no_nonce") {
            assert!(text.contains("Nonce: unspecified"), "{text}");
        }
        let info = parse_timestamp_response(&body).unwrap();
        let expect_certs = if extra.contains(&"-cert") { 2 } else { 0 };
        assert_eq!(info.embedded_certificates, expect_certs, "{name}");
    }

    // A response to one query does not verify against another.
    let (ok, _) = openssl(
        &[
            "ts",
            "-verify",
            "-in",
            "cert_nonce.tsr",
            "-queryfile",
            "nocert_nonce.tsq",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "leaf.pem",
        ],
        w,
    );
    assert!(!ok, "openssl accepted a response for another query");
}

#[tokio::test]
async fn openssl_interop_p256() {
    openssl_round_trip(TsaKeyAlgorithm::EcdsaP256).await;
}

#[tokio::test]
async fn openssl_interop_p384() {
    openssl_round_trip(TsaKeyAlgorithm::EcdsaP384).await;
}

#[tokio::test]
async fn vouch_core_verifies_der_and_json() {
    let data = tempfile::tempdir().unwrap();
    let srv = start(data.path(), &TsaOptions::default()).await;
    // The verifier is built from the served chain, as a client with the trusted root would.
    let r = reqwest::get(format!("{}/api/v1/timestamp/certchain", srv.url))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers().get("content-type").unwrap(),
        "application/pem-certificate-chain"
    );
    let chain = vouch_tsa::parse_pem_chain(&r.text().await.unwrap()).unwrap();
    assert_eq!(chain.len(), 2);
    let verifier = TsaVerifier::new(&chain).unwrap();

    let signature = b"pretend this is a signature";
    let digest = sha256(signature);

    // DER, certReq, nonce.
    let mut req = TimestampRequest::new(HashAlgorithm::Sha256, digest.clone()).unwrap();
    req.nonce = Some(vec![0x01, 0x23, 0x45, 0x67, 0x89]);
    req.cert_req = true;
    let (status, _, der_resp) = post(
        &srv.url,
        "application/timestamp-query",
        req.to_der().unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let v = verifier.verify(&der_resp, signature).unwrap();
    assert_eq!(v.nonce, Some(vec![0x01, 0x23, 0x45, 0x67, 0x89]));
    assert_eq!(v.policy, "1.3.6.1.4.1.57264.2");
    assert!(!v.serial.is_empty() && v.serial.len() <= 20);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - v.gen_time_unix).abs() < 60);
    let info = parse_timestamp_response(&der_resp).unwrap();
    assert_eq!(info.embedded_certificates, 2);
    assert_eq!(info.imprint, digest);
    assert_eq!(info.imprint_algorithm, "sha256");

    // JSON (sigstore/timestamp-authority's form), no certificates, big nonce.
    let body = serde_json::json!({
        "artifactHash": vouch_core::encoding::b64_encode(&digest),
        "hashAlgorithm": "sha256",
        "certificates": false,
        "tsaPolicyOID": "1.3.6.1.4.1.57264.2",
    });
    let mut text = serde_json::to_string(&body).unwrap();
    text.pop();
    text.push_str(r#","nonce":340282366920938463463374607431768211457}"#); // 2^128 + 1
    let (status, ct, json_resp) = post(&srv.url, "application/json", text.into_bytes()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&json_resp));
    assert_eq!(ct, "application/timestamp-reply");
    let v = verifier.verify(&json_resp, signature).unwrap();
    let mut two128_plus_1 = vec![0x01];
    two128_plus_1.extend([0u8; 15]);
    two128_plus_1.push(0x01);
    assert_eq!(v.nonce, Some(two128_plus_1));
    assert_eq!(
        parse_timestamp_response(&json_resp)
            .unwrap()
            .embedded_certificates,
        0
    );

    // SHA-384 and SHA-512 imprints.
    for (name, alg) in [
        ("sha384", &aws_lc_rs::digest::SHA384),
        ("sha512", &aws_lc_rs::digest::SHA512),
    ] {
        let d = aws_lc_rs::digest::digest(alg, signature);
        let body = serde_json::json!({
            "artifactHash": vouch_core::encoding::b64_encode(d.as_ref()),
            "hashAlgorithm": name,
        });
        let (status, _, resp) = post(
            &srv.url,
            "application/json",
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{name}");
        verifier.verify(&resp, signature).unwrap();
    }

    // Wrong data: imprint mismatch.
    assert!(verifier.verify(&der_resp, b"other signature").is_err());
    // Tampering anywhere in the TSTInfo or signature breaks verification.
    // Everything from eContentType on (the TSTInfo, signed attributes, signer identifier and
    // signature) is covered; the outer status and digestAlgorithms are not signed by design.
    let econtent_type = [
        0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
    ];
    let start = json_resp
        .windows(econtent_type.len())
        .position(|w| w == econtent_type)
        .unwrap();
    let mut accepted = Vec::new();
    for i in start..json_resp.len() {
        let mut t = json_resp.clone();
        t[i] ^= 0x01;
        if verifier.verify(&t, signature).is_ok() {
            accepted.push(i);
        }
    }
    // The SignerInfo version INTEGER (1) is not checked by verifiers.
    accepted.retain(|&i| {
        !(json_resp[i - 2] == 0x02 && json_resp[i - 1] == 0x01 && json_resp[i] == 0x01)
    });
    assert!(
        accepted.is_empty(),
        "tampered responses verified at offsets {accepted:?} of {}",
        hex::encode(&json_resp)
    );
    // A token from another authority does not verify here.
    let other_dir = tempfile::tempdir().unwrap();
    let other = TsaService::load_or_generate(other_dir.path(), &TsaOptions::default()).unwrap();
    let foreign = other
        .issue(&TimestampRequest::new(HashAlgorithm::Sha256, digest.clone()).unwrap())
        .unwrap();
    assert!(verifier.verify(&foreign.response_der, signature).is_err());
    assert!(
        srv.svc
            .verifier()
            .verify(&foreign.response_der, signature)
            .is_err()
    );
}

#[tokio::test]
async fn bad_requests() {
    let data = tempfile::tempdir().unwrap();
    let srv = start(data.path(), &TsaOptions::default()).await;
    let msg = |b: &[u8]| -> String {
        let v: serde_json::Value = serde_json::from_slice(b).unwrap();
        v["message"].as_str().unwrap().to_string()
    };
    let code = |b: &[u8]| -> i64 {
        let v: serde_json::Value = serde_json::from_slice(b).unwrap();
        v["code"].as_i64().unwrap()
    };

    // SHA-1, DER: a hand-made TimeStampReq { 1, { sha1, NULL }, 20 bytes }.
    let mut sha1_req = vec![
        0x30, 0x24, 0x02, 0x01, 0x01, 0x30, 0x1f, 0x30, 0x07, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02,
        0x1a, 0x05, 0x00, 0x04, 0x14,
    ];
    sha1_req.extend([0xab; 20]);
    // Fix the inner lengths: imprint = 2+7(alg)+2 +20 = 31 → 0x1f; alg seq = 0x09 content.
    sha1_req[8] = 0x09;
    sha1_req[6] = (sha1_req.len() - 7) as u8;
    sha1_req[1] = (sha1_req.len() - 2) as u8;
    let (status, ct, body) = post(&srv.url, "application/timestamp-query", sha1_req).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(ct.starts_with("application/json"));
    assert_eq!(code(&body), 400);
    assert!(msg(&body).contains("SHA-1"), "{}", msg(&body));

    // SHA-1, JSON.
    let body = serde_json::json!({"artifactHash": vouch_core::encoding::b64_encode(&[1u8; 20]), "hashAlgorithm": "sha1"});
    let (status, _, body) = post(
        &srv.url,
        "application/json",
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(msg(&body).contains("SHA-1"));

    // Wrong digest length.
    let body = serde_json::json!({"artifactHash": vouch_core::encoding::b64_encode(&[1u8; 20]), "hashAlgorithm": "sha256"});
    let (status, _, body) = post(
        &srv.url,
        "application/json",
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(msg(&body).contains("20 bytes"), "{}", msg(&body));

    // Garbage.
    for ct in ["application/timestamp-query", "application/json"] {
        let (status, _, body) = post(&srv.url, ct, b"\x30\x03garbage".to_vec()).await;
        assert_eq!(status, 400, "{ct}");
        assert!(msg(&body).contains("malformed"), "{}", msg(&body));
        let (status, _, _) = post(&srv.url, ct, Vec::new()).await;
        assert_eq!(status, 400, "{ct} empty");
    }

    // Wrong media type.
    let (status, _, body) = post(&srv.url, "text/plain", b"hello".to_vec()).await;
    assert_eq!(status, 415);
    assert_eq!(code(&body), 415);

    // Oversized JSON (> 1 KiB) and oversized body (> body limit).
    let big = format!(
        r#"{{"artifactHash":"{}","hashAlgorithm":"sha256","pad":"{}"}}"#,
        vouch_core::encoding::b64_encode(&[0u8; 32]),
        "x".repeat(2000)
    );
    let (status, _, body) = post(&srv.url, "application/json", big.into_bytes()).await;
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = post(
        &srv.url,
        "application/timestamp-query",
        vec![0x30; vouch_tsa::MAX_BODY_BYTES + 1],
    )
    .await;
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert_eq!(code(&body), 413);

    // Another policy.
    let mut req = TimestampRequest::new(HashAlgorithm::Sha256, vec![9; 32]).unwrap();
    req.policy = Some("1.2.3.4".into());
    let (status, _, body) = post(
        &srv.url,
        "application/timestamp-query",
        req.to_der().unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(msg(&body).contains("policy"), "{}", msg(&body));
    // Our own policy is fine.
    req.policy = Some(vouch_tsa::DEFAULT_POLICY_OID.into());
    let (status, _, _) = post(
        &srv.url,
        "application/timestamp-query",
        req.to_der().unwrap(),
    )
    .await;
    assert_eq!(status, 200);

    // Version 2 and a critical extension are refused.
    let mut der = TimestampRequest::new(HashAlgorithm::Sha256, vec![9; 32])
        .unwrap()
        .to_der()
        .unwrap();
    assert_eq!(&der[2..5], &[0x02, 0x01, 0x01]);
    der[4] = 2;
    let (status, _, body) = post(&srv.url, "application/timestamp-query", der.clone()).await;
    assert_eq!(status, 400);
    assert!(msg(&body).contains("version"));
    der[4] = 1;
    // extensions [0] { Extension { 1.2.3, critical TRUE, OCTET STRING {} } }
    let ext = [
        0xa0, 0x0c, 0x30, 0x0a, 0x06, 0x02, 0x2a, 0x03, 0x01, 0x01, 0xff, 0x04, 0x01, 0x00,
    ];
    der.extend(ext);
    der[1] += ext.len() as u8;
    let (status, _, body) = post(&srv.url, "application/timestamp-query", der.clone()).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(msg(&body).contains("critical"), "{}", msg(&body));
    // A non-critical extension is ignored.
    let mut der = TimestampRequest::new(HashAlgorithm::Sha256, vec![9; 32])
        .unwrap()
        .to_der()
        .unwrap();
    let ext = [
        0xa0, 0x09, 0x30, 0x07, 0x06, 0x02, 0x2a, 0x03, 0x04, 0x01, 0x00,
    ];
    der.extend(ext);
    der[1] += ext.len() as u8;
    let (status, _, body) = post(&srv.url, "application/timestamp-query", der).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    // Metrics count outcomes; health answers.
    let m = reqwest::get(format!("{}/metrics", srv.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("vouch_tsa_timestamp_requests_total{"), "{m}");
    assert!(m.contains(r#"outcome="bad_request""#), "{m}");
    assert!(m.contains(r#"outcome="unsupported_media_type""#), "{m}");
    assert!(m.contains(r#"outcome="too_large""#), "{m}");
    assert!(m.contains(r#"outcome="issued""#), "{m}");
    assert!(
        m.contains("vouch_tsa_timestamp_request_duration_seconds_bucket"),
        "{m}"
    );
    let h = reqwest::get(format!("{}/healthz", srv.url)).await.unwrap();
    assert_eq!(h.status().as_u16(), 200);
}

#[tokio::test]
async fn restart_reloads_key_and_chain() {
    let data = tempfile::tempdir().unwrap();
    let mut opts = TsaOptions::default();
    opts.key_algorithm = TsaKeyAlgorithm::EcdsaP384;
    let first = start(data.path(), &opts).await;
    let chain1 = reqwest::get(format!("{}/api/v1/timestamp/certchain", first.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.path().join(vouch_tsa::KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key1 = std::fs::read(data.path().join(vouch_tsa::KEY_FILE)).unwrap();
    assert!(String::from_utf8_lossy(&key1).starts_with("-----BEGIN PRIVATE KEY-----"));
    first._task.abort();

    // Restart (the requested algorithm is ignored once a key exists).
    let second = start(data.path(), &TsaOptions::default()).await;
    assert_eq!(second.svc.key_algorithm(), TsaKeyAlgorithm::EcdsaP384);
    let chain2 = reqwest::get(format!("{}/api/v1/timestamp/certchain", second.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(chain1, chain2);
    assert_eq!(
        std::fs::read(data.path().join(vouch_tsa::KEY_FILE)).unwrap(),
        key1
    );
    // Tokens of the restarted service verify against the first chain.
    let verifier = TsaVerifier::new(&vouch_tsa::parse_pem_chain(&chain1).unwrap()).unwrap();
    let req = TimestampRequest::new(HashAlgorithm::Sha256, sha256(b"sig")).unwrap();
    let (status, _, resp) = post(
        &second.url,
        "application/timestamp-query",
        req.to_der().unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    verifier.verify(&resp, b"sig").unwrap();

    // Half a data directory is an error, not a silent new authority.
    let half = tempfile::tempdir().unwrap();
    std::fs::copy(
        data.path().join(vouch_tsa::KEY_FILE),
        half.path().join(vouch_tsa::KEY_FILE),
    )
    .unwrap();
    assert!(TsaService::load_or_generate(half.path(), &TsaOptions::default()).is_err());
}

#[test]
fn from_parts_checks_the_key_and_chain() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let sa = TsaService::load_or_generate(a.path(), &TsaOptions::default()).unwrap();
    let _sb = TsaService::load_or_generate(b.path(), &TsaOptions::default()).unwrap();
    let key_a = vouch_core::keys::pem_decode(
        &std::fs::read_to_string(a.path().join(vouch_tsa::KEY_FILE)).unwrap(),
        &["PRIVATE KEY"],
    )
    .unwrap();
    let key_b = vouch_core::keys::pem_decode(
        &std::fs::read_to_string(b.path().join(vouch_tsa::KEY_FILE)).unwrap(),
        &["PRIVATE KEY"],
    )
    .unwrap();
    let opts = TsaOptions::default();
    assert!(TsaService::from_parts(&key_a, sa.chain_der(), &opts).is_ok());
    // Someone else's key.
    assert!(TsaService::from_parts(&key_b, sa.chain_der(), &opts).is_err());
    // Root first: the "leaf" is a CA without the timestamping EKU / wrong key.
    let reversed: Vec<Vec<u8>> = sa.chain_der().iter().rev().cloned().collect();
    assert!(TsaService::from_parts(&key_a, &reversed, &opts).is_err());
    assert!(TsaService::from_parts(&key_a, &[], &opts).is_err());
    assert!(TsaService::from_parts(b"junk", sa.chain_der(), &opts).is_err());
    let mut bad_policy = TsaOptions::default();
    bad_policy.policy = "not an oid".into();
    assert!(TsaService::from_parts(&key_a, sa.chain_der(), &bad_policy).is_err());
    // A custom policy ends up in the token.
    let mut custom = TsaOptions::default();
    custom.policy = "1.3.6.1.4.1.57264.2.99".into();
    let s = TsaService::from_parts(&key_a, sa.chain_der(), &custom).unwrap();
    let t = s
        .issue(&TimestampRequest::new(HashAlgorithm::Sha256, sha256(b"x")).unwrap())
        .unwrap();
    assert_eq!(
        parse_timestamp_response(&t.response_der).unwrap().policy,
        "1.3.6.1.4.1.57264.2.99"
    );
}

#[test]
fn trusted_root_entry_shape() {
    let d = tempfile::tempdir().unwrap();
    let s = TsaService::load_or_generate(d.path(), &TsaOptions::default()).unwrap();
    let e = serde_json::to_value(s.trusted_root_entry(
        "https://tsa.example.test/api/v1/timestamp",
        "2026-11-22T00:00:00Z",
    ))
    .unwrap();
    assert_eq!(e["uri"], "https://tsa.example.test/api/v1/timestamp");
    let vf = s.valid_from();
    assert!(
        vf.len() == 20 && vf.ends_with('Z') && vf.starts_with("20"),
        "{vf}"
    );
    assert_eq!(e["validFor"]["start"], "2026-11-22T00:00:00Z");
    assert_eq!(e["subject"]["organization"], "vouch");
    assert_eq!(e["subject"]["commonName"], "vouch TSA root");
    let certs = e["certChain"]["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    let leaf = vouch_core::encoding::b64_decode(certs[0]["rawBytes"].as_str().unwrap()).unwrap();
    assert_eq!(leaf, s.chain_der()[0]);
    // The entry parses as a TrustedRoot timestamp authority in vouch-core.
    let root = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [], "certificateAuthorities": [], "ctlogs": [],
        "timestampAuthorities": [e],
    });
    let parsed =
        vouch_core::trust::TrustRoot::from_json(&serde_json::to_vec(&root).unwrap()).unwrap();
    assert_eq!(parsed.tsas.len(), 1);
}

#[test]
fn parsers_never_panic() {
    let mut req = TimestampRequest::new(HashAlgorithm::Sha512, vec![3; 64]).unwrap();
    req.nonce = Some(vec![0x7f; 16]);
    req.cert_req = true;
    req.policy = Some(vouch_tsa::DEFAULT_POLICY_OID.into());
    req.hash_params_null = true;
    let der = req.to_der().unwrap();
    for cut in 0..der.len() {
        let _ = TimestampRequest::from_der(&der[..cut]);
    }
    for i in 0..der.len() {
        for bit in 0..8 {
            let mut t = der.clone();
            t[i] ^= 1 << bit;
            let _ = TimestampRequest::from_der(&t);
        }
    }
    let json = br#"{"artifactHash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","hashAlgorithm":"sha256","nonce":123456789012345678901234567890,"certificates":true,"tsaPolicyOID":"1.3.6.1.4.1.57264.2"}"#;
    assert!(TimestampRequest::from_json(json).is_ok());
    for cut in 0..json.len() {
        let _ = TimestampRequest::from_json(&json[..cut]);
    }
    for i in 0..json.len() {
        let mut t = json.to_vec();
        t[i] = b"0-9e.\"{}[]x"[i % 11];
        let _ = TimestampRequest::from_json(&t);
    }
    for bad in [
        &br#"{"nonce":-1,"artifactHash":"","hashAlgorithm":"sha256"}"#[..],
        br#"{"nonce":1e3}"#,
        br#"{"nonce":"12"}"#,
        br#"{"nonce":[1]}"#,
        br#"[]"#,
        br#"null"#,
        b"\xff\xfe",
    ] {
        assert!(TimestampRequest::from_json(bad).is_err());
    }
}
