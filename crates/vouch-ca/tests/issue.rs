//! End-to-end tests: config → identity → issued certificate → vouch-core parser, webpki chain
//! check, openssl -x509_strict, and a signature made with the leaf key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use common::{github_claims, object as claims};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;
use std::time::Duration;
use vouch_ca::cert::OID_SCT_LIST;
use vouch_ca::{
    CertIdentity, ConfigError, DevHierarchy, DevHierarchyOptions, FulcioConfig, IdentityError,
    IssuerType, LeafOptions, San, generate_dev_hierarchy,
};
use vouch_core::keys::pem_encode;
use vouch_core::time::Instant;
use vouch_core::x509::{Certificate, EKU_CODE_SIGNING, verify_leaf};

const CONFIG: &str = r#"{
  "OIDCIssuers": {
    "https://accounts.example.com": {"IssuerURL": "https://accounts.example.com", "ClientID": "sigstore", "Type": "email"},
    "https://oauth2.example.dev/auth": {"IssuerURL": "https://oauth2.example.dev/auth", "ClientID": "sigstore", "Type": "email", "IssuerClaim": "$.federated_claims.connector_id"},
    "http://127.0.0.1:3003": {"IssuerURL": "http://127.0.0.1:3003", "ClientID": "sigstore", "Type": "email"},
    "https://token.actions.githubusercontent.com": {"IssuerURL": "https://token.actions.githubusercontent.com", "ClientID": "sigstore", "Type": "github-workflow"},
    "https://gitlab.com": {"IssuerURL": "https://gitlab.com", "ClientID": "sigstore", "Type": "gitlab-pipeline"},
    "https://agent.buildkite.com": {"IssuerURL": "https://agent.buildkite.com", "ClientID": "sigstore", "Type": "buildkite-job"},
    "https://issuer.enforce.dev": {"IssuerURL": "https://issuer.enforce.dev", "ClientID": "sigstore", "Type": "chainguard-identity"},
    "https://spire.example.com": {"IssuerURL": "https://spire.example.com", "ClientID": "sigstore", "Type": "spiffe", "SPIFFETrustDomain": "example.com"},
    "https://id.example.com": {"IssuerURL": "https://id.example.com", "ClientID": "sigstore", "Type": "uri", "SubjectDomain": "https://ci.example.com"},
    "https://users.example.org": {"IssuerURL": "https://users.example.org", "ClientID": "sigstore", "Type": "username", "SubjectDomain": "example.org"}
  },
  "MetaIssuers": {
    "https://oidc.eks.*.amazonaws.com/id/*": {"ClientID": "sigstore", "Type": "kubernetes"}
  }
}"#;

fn config() -> FulcioConfig {
    FulcioConfig::from_json(CONFIG).unwrap()
}

fn ca() -> &'static DevHierarchy {
    static CA: OnceLock<DevHierarchy> = OnceLock::new();
    CA.get_or_init(|| generate_dev_hierarchy(&DevHierarchyOptions::default()).unwrap())
}

fn gitlab_claims() -> Map<String, Value> {
    claims(json!({
        "iss": "https://gitlab.com",
        "sub": "project_path:grp/proj:ref_type:branch:ref:main",
        "project_path": "grp/proj",
        "project_id": "17",
        "pipeline_source": "push",
        "pipeline_id": "3",
        "runner_id": 7,
        "ci_config_ref_uri": "gitlab.com/grp/proj//.gitlab-ci.yml@refs/heads/main",
        "ci_config_sha": "4444444444444444444444444444444444444444",
        "namespace_path": "grp",
        "namespace_id": "5",
        "job_id": "99",
        "ref": "main",
        "ref_type": "branch",
        "sha": "5555555555555555555555555555555555555555",
        "runner_environment": "gitlab-hosted",
        "project_visibility": "private"
    }))
}

/// Issue a leaf for `id` with a fresh P-256 key, run every acceptance check, return the cert.
fn issue_and_check(id: &CertIdentity) -> Certificate {
    let dev = ca();
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let spki = key.public_key().as_der().unwrap();
    let der = dev
        .intermediate
        .issue_leaf(id, spki.as_ref(), &LeafOptions::default())
        .unwrap();
    let leaf = Certificate::from_der(&der).unwrap();
    let inter = Certificate::from_der(dev.intermediate.certificate_der()).unwrap();
    let root = Certificate::from_der(&dev.root_der).unwrap();

    // Profile (§1.6).
    assert!(leaf.inner().tbs_certificate().subject().is_empty());
    assert_eq!(leaf.issuer(), inter.subject());
    assert!(!leaf.is_ca());
    assert!(leaf.has_digital_signature_usage());
    assert!(leaf.has_eku("1.3.6.1.5.5.7.3.3"));
    assert_eq!(leaf.not_after().secs - leaf.not_before().secs, 600);
    let exts: Vec<(String, bool)> = leaf
        .extensions()
        .map(|(o, c, _)| (o.to_string(), c))
        .collect();
    assert_eq!(exts[0], ("2.5.29.15".into(), true));
    assert_eq!(exts[1], ("2.5.29.37".into(), false));
    assert_eq!(exts[2], ("2.5.29.14".into(), false));
    assert_eq!(exts[3], ("2.5.29.35".into(), false));
    assert_eq!(exts[4], ("2.5.29.17".into(), true));
    let arcs: Vec<u32> = exts[5..]
        .iter()
        .map(|(o, c)| {
            assert!(!c);
            o.strip_prefix("1.3.6.1.4.1.57264.1.")
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    let mut sorted = arcs.clone();
    sorted.sort();
    assert_eq!(arcs, sorted);
    let want_arcs: Vec<u32> = id.extensions.iter().map(|e| e.arc).collect();
    assert_eq!(arcs, want_arcs);
    // AKI = issuer SKI.
    let aki = leaf.extension_value("2.5.29.35").unwrap();
    let ski = inter.extension_value("2.5.29.14").unwrap();
    assert!(aki.ends_with(&ski[2..]));

    // Exact extension encodings (§1.7).
    for e in &id.extensions {
        let raw = leaf.extension_value(&e.oid()).unwrap();
        if e.arc <= 6 {
            assert_eq!(raw, e.value.as_bytes());
        } else {
            assert_eq!(raw[0], 0x0c);
            assert_eq!(&raw[raw.len() - e.value.len()..], e.value.as_bytes());
        }
    }

    // fulcio_identity round trip.
    let fid = leaf.fulcio_identity().unwrap();
    assert_eq!(fid.san.as_deref(), Some(id.san.value()));
    let kind = match id.san {
        San::Email(_) => "email",
        San::Uri(_) => "uri",
        San::Username(_) => "othername",
        _ => unreachable!(),
    };
    assert_eq!(fid.san_kind, Some(kind));
    assert_eq!(fid.issuer.as_deref(), id.extension(8));
    for e in &id.extensions {
        assert_eq!(
            fid.extension(e.arc),
            Some(e.value.as_str()),
            "arc {}",
            e.arc
        );
    }

    // Chain checks.
    verify_leaf(&leaf, &inter, Instant::now(), EKU_CODE_SIGNING).unwrap();
    inter.verify_signed_by(&root).unwrap();
    openssl_verify(&dev.root_der, dev.intermediate.certificate_der(), &der);

    // A Sigstore-style signature with the leaf key verifies with the certificate's key.
    let msg = b"hello, keyless world";
    let sig = key.sign(&SystemRandom::new(), msg).unwrap();
    leaf.public_key()
        .unwrap()
        .verify(msg, sig.as_ref())
        .unwrap();
    assert!(
        leaf.public_key()
            .unwrap()
            .verify(b"tampered", sig.as_ref())
            .is_err()
    );
    leaf
}

fn openssl_verify(root: &[u8], inter: &[u8], leaf: &[u8]) {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("openssl not found; skipping openssl verify");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, der: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, pem_encode("CERTIFICATE", der)).unwrap();
        p
    };
    let (r, i, l) = (
        w("root.pem", root),
        w("int.pem", inter),
        w("leaf.pem", leaf),
    );
    let out = std::process::Command::new("openssl")
        .arg("verify")
        .arg("-x509_strict")
        .arg("-CAfile")
        .arg(&r)
        .arg("-untrusted")
        .arg(&i)
        .arg(&l)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains(": OK"),
        "openssl verify: {text}"
    );
}

#[test]
fn email_identity() {
    let c = claims(json!({"iss": "https://accounts.example.com", "sub": "1234",
        "email": "alice@example.com", "email_verified": true}));
    let id = config().identity_for(&c).unwrap();
    assert_eq!(id.san, San::Email("alice@example.com".into()));
    assert_eq!(id.name, "alice@example.com");
    assert_eq!(id.extension(1), Some("https://accounts.example.com"));
    assert_eq!(id.extension(24), Some("1234"));
    let leaf = issue_and_check(&id);
    // 1.8 exact DER: 0C <len> "https://accounts.example.com".
    let mut want = vec![0x0c, 28];
    want.extend_from_slice(b"https://accounts.example.com");
    assert_eq!(
        leaf.extension_value("1.3.6.1.4.1.57264.1.8"),
        Some(&want[..])
    );
    assert_eq!(
        leaf.extension_value("1.3.6.1.4.1.57264.1.1"),
        Some(&b"https://accounts.example.com"[..])
    );
}

#[test]
fn email_verified_as_string_and_issuer_claim() {
    let c = claims(json!({"iss": "https://oauth2.example.dev/auth", "sub": "x",
        "email": "bob@example.com", "email_verified": "True",
        "federated_claims": {"connector_id": "https://github.com/login/oauth"}}));
    let id = config().identity_for(&c).unwrap();
    assert_eq!(id.extension(1), Some("https://github.com/login/oauth"));
    assert_eq!(id.extension(8), Some("https://github.com/login/oauth"));
    issue_and_check(&id);
}

#[test]
fn loopback_http_issuer() {
    let c = claims(json!({"iss": "http://127.0.0.1:3003", "sub": "u",
        "email": "dev@localhost.test", "email_verified": true}));
    issue_and_check(&config().identity_for(&c).unwrap());
}

#[test]
fn github_workflow_identity() {
    let id = config().identity_for(&github_claims()).unwrap();
    let base = "https://github.com/octo/hello";
    assert_eq!(
        id.san,
        San::Uri(format!(
            "{base}/.github/workflows/release.yml@refs/heads/main"
        ))
    );
    let want: &[(u32, &str)] = &[
        (1, "https://token.actions.githubusercontent.com"),
        (2, "push"),
        (3, "2222222222222222222222222222222222222222"),
        (4, "Release"),
        (5, "octo/hello"),
        (6, "refs/heads/main"),
        (8, "https://token.actions.githubusercontent.com"),
        (
            9,
            "https://github.com/octo/hello/.github/workflows/release.yml@refs/heads/main",
        ),
        (10, "1111111111111111111111111111111111111111"),
        (11, "github-hosted"),
        (12, base),
        (13, "2222222222222222222222222222222222222222"),
        (14, "refs/heads/main"),
        (15, "123456"),
        (16, "https://github.com/octo"),
        (17, "7890"),
        (
            18,
            "https://github.com/octo/hello/.github/workflows/release.yml@refs/heads/main",
        ),
        (19, "3333333333333333333333333333333333333333"),
        (20, "push"),
        (
            21,
            "https://github.com/octo/hello/actions/runs/42/attempts/1",
        ),
        (22, "public"),
        (24, "repo:octo/hello:ref:refs/heads/main"),
    ];
    let got: Vec<(u32, &str)> = id
        .extensions
        .iter()
        .map(|e| (e.arc, e.value.as_str()))
        .collect();
    assert_eq!(got, want);
    let leaf = issue_and_check(&id);
    // Legacy 1.2 is raw bytes, no DER wrapper.
    assert_eq!(
        leaf.extension_value("1.3.6.1.4.1.57264.1.2"),
        Some(&b"push"[..])
    );
}

#[test]
fn gitlab_pipeline_identity() {
    let id = config().identity_for(&gitlab_claims()).unwrap();
    let uri = "https://gitlab.com/grp/proj//.gitlab-ci.yml@refs/heads/main";
    assert_eq!(id.san, San::Uri(uri.into()));
    assert_eq!(id.extension(9), Some(uri));
    assert_eq!(id.extension(12), Some("https://gitlab.com/grp/proj"));
    assert_eq!(id.extension(14), Some("refs/heads/main"));
    assert_eq!(id.extension(16), Some("https://gitlab.com/grp"));
    assert_eq!(
        id.extension(21),
        Some("https://gitlab.com/grp/proj/-/jobs/99")
    );
    assert_eq!(id.extension(22), Some("private"));
    assert_eq!(id.extension(2), None);
    issue_and_check(&id);
}

#[test]
fn buildkite_chainguard_kubernetes_spiffe_uri_username() {
    let cfg = config();
    let cases = [
        (
            json!({"iss": "https://agent.buildkite.com", "sub": "organization:acme:pipeline:app",
                   "organization_slug": "acme", "pipeline_slug": "app"}),
            San::Uri("https://buildkite.com/acme/app".into()),
        ),
        (
            json!({"iss": "https://issuer.enforce.dev", "sub": "abc/def"}),
            San::Uri("https://issuer.enforce.dev/abc/def".into()),
        ),
        (
            json!({"iss": "https://oidc.eks.us-west-2.amazonaws.com/id/B02C93B6A2D30341AD01E1B6D48164CB",
                   "sub": "system:serviceaccount:prod:builder",
                   "kubernetes.io": {"namespace": "prod", "serviceaccount": {"name": "builder", "uid": "u"}}}),
            San::Uri("https://kubernetes.io/namespaces/prod/serviceaccounts/builder".into()),
        ),
        (
            json!({"iss": "https://spire.example.com", "sub": "spiffe://example.com/ns/prod/sa/web"}),
            San::Uri("spiffe://example.com/ns/prod/sa/web".into()),
        ),
        (
            json!({"iss": "https://id.example.com", "sub": "https://ci.example.com/jobs/7"}),
            San::Uri("https://ci.example.com/jobs/7".into()),
        ),
        (
            json!({"iss": "https://users.example.org", "sub": "carol"}),
            San::Username("carol!example.org".into()),
        ),
    ];
    for (c, san) in cases {
        let c = claims(c);
        let id = cfg.identity_for(&c).unwrap();
        assert_eq!(id.san, san);
        assert_eq!(id.extension(8), c["iss"].as_str());
        let leaf = issue_and_check(&id);
        if let San::Username(u) = &san {
            // §1.6 OtherName SAN bytes.
            let san_der = leaf.extension_value("2.5.29.17").unwrap();
            let mut want = vec![0x30, (18 + u.len()) as u8, 0xa0, (16 + u.len()) as u8];
            want.extend_from_slice(&[0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf]);
            want.extend_from_slice(&[0x30, 0x01, 0x07, 0xa0, (2 + u.len()) as u8, 0x0c]);
            want.push(u.len() as u8);
            want.extend_from_slice(u.as_bytes());
            assert_eq!(san_der, &want[..]);
        }
    }
}

#[test]
fn precertificate_and_embedded_scts() {
    let dev = ca();
    let c = claims(json!({"iss": "https://accounts.example.com", "sub": "1",
        "email": "alice@example.com", "email_verified": true}));
    let id = config().identity_for(&c).unwrap();
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let spki = key.public_key().as_der().unwrap();
    let precert = dev
        .intermediate
        .issue_precertificate(&id, spki.as_ref(), &LeafOptions::default())
        .unwrap();
    let pre_der = precert.der().to_vec();
    let pre = Certificate::from_der(&pre_der).unwrap();
    let (poid, pcrit, pval) = pre.extensions().last().unwrap();
    assert_eq!(poid.to_string(), "1.3.6.1.4.1.11129.2.4.3");
    assert!(pcrit);
    assert_eq!(pval, [0x05, 0x00]);

    // An SCT list with one (opaque, for this test) SCT.
    let sct = [0u8; 47];
    let mut list = vec![0x00, 49, 0x00, 47];
    list.extend_from_slice(&sct);
    let final_der = dev.intermediate.embed_scts(&precert, &list).unwrap();
    let fin = Certificate::from_der(&final_der).unwrap();
    assert!(fin.extension_value("1.3.6.1.4.1.11129.2.4.3").is_none());
    let (soid, scrit, sval) = fin.extensions().last().unwrap();
    assert_eq!(*soid, OID_SCT_LIST);
    assert!(!scrit);
    assert_eq!(&sval[..2], &[0x04, 51]);
    assert_eq!(&sval[2..], &list[..]);
    // Same serial, names, validity and other extensions as the precertificate.
    assert_eq!(fin.serial_hex(), pre.serial_hex());
    assert_eq!(fin.not_before(), pre.not_before());
    let strip = |c: &Certificate, oid: &str| -> Vec<(String, bool, Vec<u8>)> {
        c.extensions()
            .filter(|(o, _, _)| o.to_string() != oid)
            .map(|(o, cr, v)| (o.to_string(), cr, v.to_vec()))
            .collect()
    };
    assert_eq!(
        strip(&fin, "1.3.6.1.4.1.11129.2.4.2"),
        strip(&pre, "1.3.6.1.4.1.11129.2.4.3")
    );
    let inter = Certificate::from_der(dev.intermediate.certificate_der()).unwrap();
    verify_leaf(&fin, &inter, Instant::now(), EKU_CODE_SIGNING).unwrap();
    openssl_verify(
        &dev.root_der,
        dev.intermediate.certificate_der(),
        &final_der,
    );
    // Another CA (same names, another key) does not finish this CA's precertificate.
    let other = generate_dev_hierarchy(&DevHierarchyOptions::default()).unwrap();
    let err = other.intermediate.embed_scts(&precert, &list).unwrap_err();
    assert!(err.to_string().contains("issued by another CA"), "{err}");
}

#[test]
fn configurable_validity_and_p256_hierarchy() {
    let mut opts = DevHierarchyOptions::default();
    opts.root_algorithm = vouch_ca::CaKeyAlgorithm::EcdsaP256;
    opts.intermediate_algorithm = vouch_ca::CaKeyAlgorithm::EcdsaP256;
    let dev = generate_dev_hierarchy(&opts).unwrap();
    let c = claims(json!({"iss": "https://users.example.org", "sub": "dave"}));
    let id = config().identity_for(&c).unwrap();
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let spki = key.public_key().as_der().unwrap();
    let der = dev
        .intermediate
        .issue_leaf(
            &id,
            spki.as_ref(),
            &LeafOptions::new(None, Duration::from_secs(60)),
        )
        .unwrap();
    let leaf = Certificate::from_der(&der).unwrap();
    assert_eq!(leaf.not_after().secs - leaf.not_before().secs, 60);
    let inter = Certificate::from_der(dev.intermediate.certificate_der()).unwrap();
    verify_leaf(&leaf, &inter, Instant::now(), EKU_CODE_SIGNING).unwrap();
    openssl_verify(&dev.root_der, dev.intermediate.certificate_der(), &der);
    // Reloading the key from PKCS#8 gives a working CA.
    let pk = dev.intermediate.signer().to_pkcs8().unwrap();
    let again = vouch_ca::IssuingCa::new(
        vouch_ca::CaSigner::from_pkcs8(&pk).unwrap(),
        dev.intermediate.certificate_der(),
    )
    .unwrap();
    again
        .issue_leaf(&id, spki.as_ref(), &LeafOptions::default())
        .unwrap();
    // A key that does not match the certificate is refused.
    let other = vouch_ca::CaSigner::generate(vouch_ca::CaKeyAlgorithm::EcdsaP256).unwrap();
    assert!(vouch_ca::IssuingCa::new(other, dev.intermediate.certificate_der()).is_err());
    // Garbage public keys are refused.
    assert!(matches!(
        dev.intermediate
            .issue_leaf(&id, b"not a key", &LeafOptions::default()),
        Err(vouch_ca::CaError::BadPublicKey(_))
    ));
}

// ---- negative tests ----

#[test]
fn missing_claims_are_named() {
    let cfg = config();
    for claim in ["run_id", "job_workflow_ref", "repository_visibility"] {
        let mut c = github_claims();
        c.remove(claim);
        assert_eq!(
            cfg.identity_for(&c),
            Err(IdentityError::MissingClaim(claim.into()))
        );
    }
    // GitLab as Fulcio's gitlabcom principal: pipeline_id and runner_id (an integer) are
    // required, ci_config_sha and project_visibility are not.
    for claim in ["pipeline_id", "runner_id", "namespace_id"] {
        let mut c = gitlab_claims();
        c.remove(claim);
        assert_eq!(
            cfg.identity_for(&c),
            Err(IdentityError::MissingClaim(claim.into()))
        );
    }
    let mut c = gitlab_claims();
    c.insert("runner_id".into(), json!("7"));
    assert!(
        matches!(cfg.identity_for(&c), Err(IdentityError::InvalidClaim { claim, .. }) if claim == "runner_id")
    );
    let mut c = gitlab_claims();
    c.remove("ci_config_sha");
    c.remove("project_visibility");
    let id = cfg.identity_for(&c).unwrap();
    assert_eq!(id.extension(10), None);
    assert_eq!(id.extension(19), None);
    assert_eq!(id.extension(22), None);
    assert_eq!(id.extension(12), Some("https://gitlab.com/grp/proj"));
    let mut c = gitlab_claims();
    c.insert("ref_type".into(), json!("weird"));
    assert!(
        matches!(cfg.identity_for(&c), Err(IdentityError::InvalidClaim { claim, .. }) if claim == "ref_type")
    );
    let c = claims(json!({"iss": "https://accounts.example.com", "email_verified": true}));
    assert_eq!(
        cfg.identity_for(&c),
        Err(IdentityError::MissingClaim("email".into()))
    );
    let c = claims(json!({"sub": "x"}));
    assert_eq!(
        cfg.identity_for(&c),
        Err(IdentityError::MissingClaim("iss".into()))
    );
    let c = claims(
        json!({"iss": "https://oidc.eks.eu-west-1.amazonaws.com/id/AB", "sub": "s",
        "kubernetes.io": {"namespace": "prod"}}),
    );
    assert_eq!(
        cfg.identity_for(&c),
        Err(IdentityError::MissingClaim(
            "kubernetes.io.serviceaccount.name".into()
        ))
    );
    let c = claims(json!({"iss": "https://oauth2.example.dev/auth", "sub": "x",
        "email": "bob@example.com", "email_verified": true}));
    assert_eq!(
        cfg.identity_for(&c),
        Err(IdentityError::MissingClaim(
            "$.federated_claims.connector_id".into()
        ))
    );
}

#[test]
fn email_must_be_verified() {
    let cfg = config();
    for v in [json!(false), json!("false"), json!("False"), Value::Null] {
        let c = claims(json!({"iss": "https://accounts.example.com", "sub": "1",
            "email": "alice@example.com", "email_verified": v}));
        assert_eq!(
            cfg.identity_for(&c),
            Err(IdentityError::EmailNotVerified("alice@example.com".into()))
        );
    }
    let c = claims(json!({"iss": "https://accounts.example.com", "sub": "1",
        "email": "not-an-email", "email_verified": true}));
    assert!(
        matches!(cfg.identity_for(&c), Err(IdentityError::InvalidClaim { claim, .. }) if claim == "email")
    );
}

#[test]
fn wrong_issuer() {
    let cfg = config();
    let c = claims(json!({"iss": "https://evil.example.net", "sub": "1",
        "email": "alice@example.com", "email_verified": true}));
    assert_eq!(
        cfg.identity_for(&c),
        Err(IdentityError::UnknownIssuer(
            "https://evil.example.net".into()
        ))
    );
    // Claims from one issuer presented against another issuer's config.
    let google = cfg.lookup("https://accounts.example.com").unwrap();
    assert!(matches!(
        vouch_ca::identity_from_claims(&github_claims(), &google),
        Err(IdentityError::IssuerMismatch { .. })
    ));
    // Meta-issuer wildcards do not cross path segments.
    let c = claims(json!({"iss": "https://oidc.eks.a/b.amazonaws.com/id/x", "sub": "s"}));
    assert!(matches!(
        cfg.identity_for(&c),
        Err(IdentityError::UnknownIssuer(_))
    ));
}

#[test]
fn per_type_subject_rules() {
    let cfg = config();
    let bad = [
        json!({"iss": "https://spire.example.com", "sub": "spiffe://other.org/ns/x"}),
        json!({"iss": "https://spire.example.com", "sub": "https://example.com/x"}),
        json!({"iss": "https://users.example.org", "sub": "a!b"}),
        json!({"iss": "https://users.example.org", "sub": "a@b.org"}),
        json!({"iss": "https://id.example.com", "sub": "https://evil.example.net/x"}),
        json!({"iss": "https://id.example.com", "sub": "http://ci.example.com/x"}),
        json!({"iss": "https://id.example.com", "sub": "a@example.com"}),
    ];
    for c in bad {
        let r = cfg.identity_for(&claims(c.clone()));
        assert!(
            matches!(r, Err(IdentityError::InvalidClaim { ref claim, .. }) if claim == "sub"),
            "{c}: {r:?}"
        );
    }
}

#[test]
fn config_validation() {
    let one = |entry: &str| format!(r#"{{"OIDCIssuers": {{ {entry} }} }}"#);
    // Plain http only on loopback.
    let e = FulcioConfig::from_json(&one(
        r#""http://idp.example.com": {"IssuerURL": "http://idp.example.com", "ClientID": "sigstore", "Type": "email"}"#,
    ));
    assert!(matches!(e, Err(ConfigError::BadIssuerUrl { .. })), "{e:?}");
    for ok in [
        "http://localhost:8080",
        "http://[::1]:9000",
        "http://127.0.0.5",
    ] {
        FulcioConfig::from_json(&one(&format!(
            r#""{ok}": {{"IssuerURL": "{ok}", "ClientID": "sigstore", "Type": "email"}}"#
        )))
        .unwrap();
    }
    let e = FulcioConfig::from_json(
        r#"{"MetaIssuers": {"http://*.example.com": {"ClientID": "sigstore", "Type": "kubernetes"}}}"#,
    );
    assert!(matches!(e, Err(ConfigError::BadIssuerUrl { .. })), "{e:?}");
    // Unknown type.
    let e = FulcioConfig::from_json(&one(
        r#""https://a.example.com": {"IssuerURL": "https://a.example.com", "ClientID": "sigstore", "Type": "magic"}"#,
    ));
    assert!(
        matches!(e, Err(ConfigError::Parse { ref source }) if source.to_string().contains("magic")),
        "{e:?}"
    );
    assert!(
        matches!("magic".parse::<IssuerType>(), Err(ConfigError::UnknownType(ref t)) if t == "magic")
    );
    // Per-type required fields.
    let cases = [
        r#""https://a.example.com": {"ClientID": "sigstore", "Type": "spiffe"}"#,
        r#""https://a.example.com": {"ClientID": "sigstore", "Type": "username"}"#,
        r#""https://a.example.com": {"ClientID": "sigstore", "Type": "username", "SubjectDomain": "other.org"}"#,
        r#""https://a.example.com": {"ClientID": "sigstore", "Type": "uri", "SubjectDomain": "example.com"}"#,
        r#""https://a.example.com": {"ClientID": "sigstore", "Type": "ci-provider"}"#,
        r#""https://a.example.com": {"ClientID": "sigstore", "Type": "github-workflow", "IssuerClaim": "$.x"}"#,
        r#""https://a.example.com": {"Type": "email"}"#,
        r#""https://a.example.com": {"IssuerURL": "https://b.example.com", "ClientID": "sigstore", "Type": "email"}"#,
    ];
    for c in cases {
        assert!(FulcioConfig::from_json(&one(c)).is_err(), "{c}");
    }
    let e = FulcioConfig::from_json(
        r#"{"MetaIssuers": {"https://*.example.com": {"ClientID": "sigstore", "Type": "spiffe", "SPIFFETrustDomain": "x"}}}"#,
    );
    assert!(e.is_err());
    // Codefresh needs its claims (account_id, pipeline_id, workflow_id).
    let cfg = FulcioConfig::from_json(&one(
        r#""https://a.example.com": {"ClientID": "sigstore", "Type": "codefresh-workflow"}"#,
    ))
    .unwrap();
    let c = claims(json!({"iss": "https://a.example.com", "sub": "x"}));
    assert_eq!(
        cfg.identity_for(&c),
        Err(IdentityError::MissingClaim("account_id".into()))
    );
}
