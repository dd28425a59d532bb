//! `vouch policy check` and `vouch exception` the way users run them: images in a real
//! registry (Debian's `docker-registry`), signed keyless against `vouch up` and with a key,
//! with SLSA provenance attestations; policies in policy-controller's ClusterImagePolicy format
//! and vouch's ArtifactPolicy. Prints SKIP without `docker-registry`; fails instead under
//! `VOUCH_REQUIRE_PEERS=1`.
//!
//! Cases: tag and digest; JSON output; wrong identity; missing attestation; Rego allow and
//! deny (attestation and CIP-level `authorityMatches`); warn mode; no match (deny, allow,
//! warn); threshold 2 (keyless + key) met and not met; exceptions valid (keyless and key
//! approver), expired, signed by a non-approver, tampered with; ArtifactPolicy on a blob with
//! its bundle (and a modified blob); CUE refused; malformed YAML; an unknown field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use base64::Engine as _;
use common::registry::{push_image, registry_and_up};
use common::up::oidc_token;
use common::{cip, cosign_key_pair, ok_stderr as ok, run, vouch};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

fn fails(out: &Output, what: &str, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: exit code; stderr: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "{what}: expected {n:?} in:\n{err}");
    }
    assert!(
        err.contains("\nerror: ") || err.starts_with("error: "),
        "{what}: {err}"
    );
    err
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A keyless authority block for `subject` at `issuer`.
fn keyless(name: &str, subject: &str, issuer: &str) -> String {
    format!(
        "  - name: {name}\n    keyless:\n      url: https://ca.invalid\n      identities:\n      - issuer: {issuer}\n        subject: {subject}\n"
    )
}

/// A key authority block.
fn key_authority(name: &str, pem: &str) -> String {
    let indented: String = pem.lines().map(|l| format!("        {l}\n")).collect();
    format!("  - name: {name}\n    key:\n      data: |\n{indented}")
}

struct Ctx {
    tc: PathBuf,
    oidc: String,
}

impl Ctx {
    fn check(&self, policy: &Path, subject: &str, extra: &[&str]) -> Output {
        run(vouch()
            .args(["policy", "check", "--policy"])
            .arg(policy)
            .arg("--trust-config")
            .arg(&self.tc)
            .arg(subject)
            .args(extra))
    }
    fn token(&self, email: &str) -> String {
        oidc_token(&self.oidc, email)
    }
}

#[test]
fn policy_gate_and_exceptions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some((reg, inst)) = registry_and_up("policy_gate_and_exceptions", d) else {
        return;
    };
    let ctx = Ctx {
        tc: inst.trust_config.clone(),
        oidc: inst.urls["oidc"].clone(),
    };
    let oidc = ctx.oidc.clone();
    let alice = ctx.token("alice@example.com");
    let lead = ctx.token("lead@example.com");
    let mallory = ctx.token("mallory@example.com");
    let addr = reg.addr.clone();

    // Images: app (keyless + key signatures, SLSA provenance), keyonly-less "half" (keyless
    // signature only), legacy (unsigned).
    let app = push_image(&addr, "team/app", "v1", b"app layer");
    let half = push_image(&addr, "team/half", "v1", b"half layer");
    let legacy = push_image(&addr, "legacy/old", "v1", b"legacy layer");
    let app_digest = format!("{addr}/team/app@{app}");
    let app_tag = format!("{addr}/team/app:v1");
    let half_digest = format!("{addr}/team/half@{half}");
    let legacy_digest = format!("{addr}/legacy/old@{legacy}");
    let (key, pubkey) = cosign_key_pair(&d.join("keys"));
    let pem = std::fs::read_to_string(&pubkey).unwrap();
    let sign = |image: &str, extra: &[&str]| {
        let out = run(vouch()
            .arg("sign")
            .arg(image)
            .args(["-y", "--trust-config"])
            .arg(&ctx.tc)
            .args(extra)
            .env("COSIGN_PASSWORD", "pw"));
        ok(&out, &format!("sign {image} {extra:?}"));
    };
    sign(&app_digest, &["--identity-token", &alice]);
    sign(&app_digest, &["--key", key.to_str().unwrap()]);
    sign(&half_digest, &["--identity-token", &alice]);
    let provenance = write(
        d,
        "provenance.json",
        r#"{"buildDefinition":{"buildType":"https://example.com/ci@v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://ci.example.com/builder"}}}"#,
    );
    ok(
        &run(vouch()
            .arg("attest")
            .arg(&app_digest)
            .arg("--predicate")
            .arg(&provenance)
            .args([
                "--type",
                "slsaprovenance1",
                "--identity-token",
                &alice,
                "-y",
                "--trust-config",
            ])
            .arg(&ctx.tc)),
        "attest SLSA provenance",
    );

    let pol = d.join("policies");
    let alice_auth = keyless("ci", "alice@example.com", &oidc);

    // 1. Keyless: by tag and by digest; JSON output.
    let p = write(
        &pol.join("keyless"),
        "cip.yaml",
        &cip("release", &format!("{addr}/team/**"), "", &alice_auth),
    );
    let err = ok(&ctx.check(&p, &app_tag, &[]), "keyless by tag");
    assert!(err.contains("Resolved tag v1 to"), "{err}");
    assert!(
        err.contains("authority ci: passed (alice@example.com"),
        "{err}"
    );
    assert!(err.contains(": allowed"), "{err}");
    ok(&ctx.check(&p, &app_digest, &[]), "keyless by digest");
    let out = ctx.check(&p, &app_digest, &["--output", "json"]);
    ok(&out, "json output");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "allow", "{v}");
    assert_eq!(v["policies"][0]["name"], "release", "{v}");
    assert_eq!(v["policies"][0]["authorities"][0]["passed"], true, "{v}");

    // 1a. signatureFormat, rfc3161timestamp and ctlog: vouch up timestamps every signature
    //     and logs it, and vouch signs in the bundle layout by default.
    let extra = format!(
        "{alice_auth}    ctlog:\n      url: {}\n    rfc3161timestamp: {{}}\n    signatureFormat: bundle\n",
        inst.urls["log"]
    );
    let p = write(
        &pol.join("tsa"),
        "cip.yaml",
        &cip("release", &format!("{addr}/team/**"), "", &extra),
    );
    ok(
        &ctx.check(&p, &app_digest, &[]),
        "rfc3161timestamp + ctlog + bundle format",
    );
    let p = write(
        &pol.join("legacy-format"),
        "cip.yaml",
        &cip(
            "release",
            &format!("{addr}/team/**"),
            "",
            &extra.replace("signatureFormat: bundle", "signatureFormat: legacy"),
        ),
    );
    fails(
        &ctx.check(&p, &app_digest, &[]),
        "signatureFormat legacy",
        &["no signatures in the legacy", "in the other layout"],
    );

    // 1b. TrustRoot documents instead of --trust-config (the default root is then the
    //     public-good one, which does not know this instance): sigstoreKeys converted from
    //     the instance's trusted root, and `remote` through the instance's TUF repository.
    let tr: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("data/trusted_root.json")).unwrap()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let to_pem = |label: &str, der_b64: &str| {
        let lines: Vec<String> = der_b64
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    };
    let cas = |key: &str| -> String {
        tr[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let chain: String = c["certChain"]["certificates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| to_pem("CERTIFICATE", x["rawBytes"].as_str().unwrap()))
                    .collect();
                format!(
                    "    - uri: {}\n      certChain: {}\n",
                    c["uri"].as_str().unwrap_or(""),
                    b64.encode(chain)
                )
            })
            .collect()
    };
    let logs = |key: &str| -> String {
        tr[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                format!(
                    "    - baseURL: {}\n      hashAlgorithm: sha-256\n      publicKey: {}\n",
                    l["baseUrl"].as_str().unwrap(),
                    b64.encode(to_pem(
                        "PUBLIC KEY",
                        l["publicKey"]["rawBytes"].as_str().unwrap()
                    ))
                )
            })
            .collect()
    };
    let keys_doc = format!(
        "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata:\n  name: private\nspec:\n  sigstoreKeys:\n    certificateAuthorities:\n{}    tLogs:\n{}    ctLogs:\n{}    timestampAuthorities:\n{}",
        cas("certificateAuthorities"),
        logs("tlogs"),
        logs("ctlogs"),
        cas("timestampAuthorities")
    );
    let tuf_doc = format!(
        "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata:\n  name: private\nspec:\n  remote:\n    mirror: {}\n    root: {}\n",
        inst.urls["tuf"],
        b64.encode(std::fs::read(d.join("data/root.json")).unwrap())
    );
    let with_ref = alice_auth.replace(
        "      url: https://ca.invalid\n",
        "      url: https://ca.invalid\n      trustRootRef: private\n",
    );
    for (label, doc) in [("sigstoreKeys", &keys_doc), ("remote", &tuf_doc)] {
        let p = write(
            &pol.join(format!("trustroot-{label}")),
            "cip.yaml",
            &format!(
                "{doc}---\n{}",
                cip("release", &format!("{addr}/team/**"), "", &with_ref)
            ),
        );
        let out = run(vouch()
            .args(["policy", "check", "--policy"])
            .arg(&p)
            .arg(&app_digest)
            .env_remove("VOUCH_TRUST_CONFIG"));
        let err = ok(&out, &format!("TrustRoot {label}"));
        assert!(err.contains("authority ci: passed"), "{err}");
        // Without the reference, the public-good root does not trust this instance.
        let p = write(
            &pol.join(format!("no-trustroot-{label}")),
            "cip.yaml",
            &format!(
                "{doc}---\n{}",
                cip("release", &format!("{addr}/team/**"), "", &alice_auth)
            ),
        );
        let out = run(vouch()
            .args(["policy", "check", "--policy"])
            .arg(&p)
            .arg(&app_digest)
            .env_remove("VOUCH_TRUST_CONFIG"));
        fails(
            &out,
            &format!("without trustRootRef ({label})"),
            &["authority ci"],
        );
    }

    // 2. Wrong identity: named policy, authority, check and values.
    let p = write(
        &pol.join("wrong"),
        "cip.yaml",
        &cip(
            "release",
            &format!("{addr}/team/**"),
            "",
            &keyless("ci", "bob@example.com", &oidc),
        ),
    );
    fails(
        &ctx.check(&p, &app_digest, &[]),
        "wrong identity",
        &[
            "policy release",
            "authority ci",
            "certificate identity mismatch",
            "bob@example.com",
            "alice@example.com",
            "DENIED",
        ],
    );
    // JSON on deny: still printed, exit 1.
    let out = ctx.check(&p, &app_digest, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "deny");
    assert!(
        v["denials"][0]
            .as_str()
            .unwrap()
            .contains("certificate identity mismatch"),
        "{v}"
    );

    // 3. Attestations with Rego (policy-controller's `package sigstore` / isCompliant), and a
    //    CIP-level policy over authorityMatches.
    let att_auth = |rego: &str| {
        let rego: String = rego.lines().map(|l| format!("            {l}\n")).collect();
        format!(
            "{alice_auth}    attestations:\n    - name: provenance\n      predicateType: https://slsa.dev/provenance/v1\n      policy:\n        type: rego\n        data: |\n{rego}"
        )
    };
    let allow_builder = "package sigstore\ndefault isCompliant = false\nisCompliant {\n  input.predicate.runDetails.builder.id == \"https://ci.example.com/builder\"\n}";
    let cip_level = "  policy:\n    type: rego\n    data: |\n      package sigstore\n      default isCompliant = false\n      isCompliant {\n        input.authorityMatches.ci.attestations.provenance[0].subject == \"alice@example.com\"\n      }\n";
    let p = write(
        &pol.join("att"),
        "cip.yaml",
        &cip(
            "provenance",
            &format!("{addr}/team/**"),
            cip_level,
            &att_auth(allow_builder),
        ),
    );
    let err = ok(&ctx.check(&p, &app_digest, &[]), "attestation + Rego allow");
    assert!(err.contains("policy provenance (enforce): passed"), "{err}");
    // Missing attestation: team/half has a signature but no provenance.
    fails(
        &ctx.check(&p, &half_digest, &[]),
        "missing attestation",
        &["policy provenance", "authority ci", "no attestations found"],
    );
    // Rego deny.
    let deny_builder = allow_builder.replace(
        "https://ci.example.com/builder",
        "https://other.example.com",
    );
    let p = write(
        &pol.join("rego-deny"),
        "cip.yaml",
        &cip(
            "provenance",
            &format!("{addr}/team/**"),
            "",
            &att_auth(&deny_builder),
        ),
    );
    fails(
        &ctx.check(&p, &app_digest, &[]),
        "Rego deny",
        &[
            "policy provenance",
            "authority ci",
            "Rego policy denied",
            "isCompliant",
        ],
    );
    // CIP-level deny over authorityMatches.
    let p = write(
        &pol.join("cip-deny"),
        "cip.yaml",
        &cip(
            "provenance",
            &format!("{addr}/team/**"),
            &cip_level.replace("alice@", "bob@"),
            &att_auth(allow_builder),
        ),
    );
    fails(
        &ctx.check(&p, &app_digest, &[]),
        "CIP-level Rego deny",
        &["spec.policy (Rego) denied"],
    );

    // 4. Warn mode: a failing policy allows with a warning.
    let p = write(
        &pol.join("warn"),
        "cip.yaml",
        &cip(
            "release",
            &format!("{addr}/team/**"),
            "  mode: warn\n",
            &keyless("ci", "bob@example.com", &oidc),
        ),
    );
    let err = ok(&ctx.check(&p, &app_digest, &[]), "warn mode");
    assert!(
        err.contains("warning: ")
            && err.contains("(warn mode)")
            && err.contains("certificate identity mismatch"),
        "{err}"
    );
    assert!(err.contains("allowed with warnings"), "{err}");

    // 5. No matching policy: deny by default, allow / warn on request.
    let p = write(
        &pol.join("nomatch"),
        "cip.yaml",
        &cip("other", "ghcr.io/elsewhere/**", "", &alice_auth),
    );
    fails(
        &ctx.check(&p, &app_digest, &[]),
        "no match",
        &["no matching policies"],
    );
    ok(
        &ctx.check(&p, &app_digest, &["--no-match-policy", "allow"]),
        "no match allow",
    );
    let err = ok(
        &ctx.check(&p, &app_digest, &["--no-match-policy", "warn"]),
        "no match warn",
    );
    assert!(
        err.contains("warning: ") && err.contains("no matching policies"),
        "{err}"
    );

    // 6. Threshold 2: keyless + key.
    let both = format!("{alice_auth}{}", key_authority("hsm", &pem));
    let p = write(
        &pol.join("threshold"),
        "cip.yaml",
        &cip(
            "dual",
            &format!("{addr}/team/**"),
            "  threshold: 2\n",
            &both,
        ),
    );
    let err = ok(&ctx.check(&p, &app_digest, &[]), "threshold 2 met");
    assert!(err.contains("authority hsm: passed"), "{err}");
    fails(
        &ctx.check(&p, &half_digest, &[]),
        "threshold 2 not met",
        &[
            "policy dual",
            "1 of 2 authorities passed, threshold is 2",
            "authority hsm",
        ],
    );
    // Without the threshold, one authority is enough.
    let p = write(
        &pol.join("any"),
        "cip.yaml",
        &cip("dual", &format!("{addr}/team/**"), "", &both),
    );
    ok(&ctx.check(&p, &half_digest, &[]), "any authority");

    // 7. Exceptions.
    let legacy_pol = write(
        &pol.join("legacy"),
        "cip.yaml",
        &cip("release-builder", &format!("{addr}/**"), "", &alice_auth),
    );
    fails(
        &ctx.check(&legacy_pol, &legacy_digest, &[]),
        "unsigned legacy image",
        &["no signatures found"],
    );
    let exc = d.join("exceptions");
    std::fs::create_dir_all(&exc).unwrap();
    let grant = |out: &Path, token: Option<&str>, expires: &str, extra: &[&str]| {
        let mut cmd = vouch();
        cmd.args(["exception", "grant", "--image"])
            .arg(format!("{addr}/legacy/*"))
            .args([
                "--namespace",
                "prod",
                "--policy",
                "release-builder",
                "--reason",
                "vendor image, signing lands in Q3",
                "--ticket",
                "CHG-1234",
                "--expires",
                expires,
                "-y",
                "--out",
            ])
            .arg(out)
            .arg("--trust-config")
            .arg(&ctx.tc)
            .args(extra)
            .env("COSIGN_PASSWORD", "pw");
        if let Some(t) = token {
            cmd.args(["--identity-token", t]);
        }
        run(&mut cmd)
    };
    let approver = [
        "--exceptions",
        exc.to_str().unwrap(),
        "--approver-identity",
        "lead@example.com",
        "--approver-oidc-issuer",
        oidc.as_str(),
    ];
    let with_ns = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = approver.iter().map(|s| s.to_string()).collect();
        v.extend(["--namespace".to_string(), "prod".to_string()]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let valid = exc.join("valid.sigstore.json");
    let err = ok(&grant(&valid, Some(&lead), "72h", &[]), "grant");
    assert!(
        err.contains("Exception signed by lead@example.com"),
        "{err}"
    );
    assert!(err.contains("Transparency log entry"), "{err}");
    let args = with_ns(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = ok(
        &ctx.check(&legacy_pol, &legacy_digest, &args),
        "valid exception",
    );
    assert!(err.contains("exception used: exc-"), "{err}");
    assert!(err.contains("approved by lead@example.com"), "{err}");
    assert!(
        err.contains("CHG-1234") && err.contains("allowed with warnings"),
        "{err}"
    );
    let out = ctx.check(
        &legacy_pol,
        &legacy_digest,
        &[&args[..], &["-o", "json"]].concat(),
    );
    ok(&out, "valid exception json");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "warn");
    assert!(
        v["auditAnnotations"]["exception-0"]
            .as_str()
            .unwrap()
            .contains("ticket=CHG-1234"),
        "{v}"
    );
    // Another namespace: not covered.
    fails(
        &ctx.check(
            &legacy_pol,
            &legacy_digest,
            &[&approver[..], &["--namespace", "dev"]].concat(),
        ),
        "exception in another namespace",
        &["no signatures found"],
    );
    // exception list, with uses counted from a decision log of two checks.
    let log = d.join("decisions.jsonl");
    for _ in 0..2 {
        ok(
            &ctx.check(
                &legacy_pol,
                &legacy_digest,
                &[&args[..], &["--decision-log", log.to_str().unwrap()]].concat(),
            ),
            "valid exception, logged",
        );
    }
    let out = run(vouch()
        .args(["exception", "list"])
        .args(approver)
        .arg("--trust-config")
        .arg(&ctx.tc)
        .arg("--decision-log")
        .arg(&log));
    let err = ok(&out, "exception list");
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = listing
        .lines()
        .find(|l| l.starts_with("exc-"))
        .unwrap_or_default();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols.get(4), Some(&"2"), "USED column: {listing}");
    assert!(err.contains("USED counts the decisions"), "{err}");
    assert!(
        listing.contains("open")
            && listing.contains("lead@example.com")
            && listing.contains("CHG-1234"),
        "{listing}"
    );
    assert!(
        listing.contains("2d23h") || listing.contains("3d0h") || listing.contains("2d"),
        "{listing}"
    );
    let out = run(vouch()
        .args(["exception", "list"])
        .args(approver)
        .arg("--trust-config")
        .arg(&ctx.tc));
    let err = ok(&out, "exception list without a decision log");
    assert!(err.contains("Times used"), "{err}");
    // Without approvers, list still verifies signatures but says approvers are not checked.
    let out = run(vouch()
        .args(["exception", "list", "--exceptions"])
        .arg(&exc)
        .arg("--trust-config")
        .arg(&ctx.tc));
    let err = ok(&out, "exception list without approvers");
    assert!(err.contains("approvers are NOT checked"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("lead@example.com"));
    std::fs::remove_file(&valid).unwrap();

    // Expired: granted for 2 s, checked after 3 s.
    let expired = exc.join("expired.sigstore.json");
    ok(&grant(&expired, Some(&lead), "2s", &[]), "grant 2s");
    std::thread::sleep(Duration::from_secs(3));
    fails(
        &ctx.check(&legacy_pol, &legacy_digest, &args),
        "expired exception",
        &["expired at", "no signatures found"],
    );
    std::fs::remove_file(&expired).unwrap();

    // Signed by a non-approver: refused, deny.
    let foreign = exc.join("mallory.sigstore.json");
    ok(
        &grant(&foreign, Some(&mallory), "72h", &[]),
        "grant by mallory",
    );
    let err = fails(
        &ctx.check(&legacy_pol, &legacy_digest, &args),
        "non-approver exception",
        &["no signatures found"],
    );
    assert!(
        err.contains("warning: exception")
            && err.contains("not approved")
            && err.contains("mallory@example.com"),
        "{err}"
    );
    std::fs::remove_file(&foreign).unwrap();

    // Tampered with: a valid exception whose statement is edited after signing.
    let tampered = exc.join("tampered.sigstore.json");
    ok(
        &grant(
            &tampered,
            Some(&lead),
            "72h",
            &["--image", &format!("{addr}/other/*")],
        ),
        "grant to tamper",
    );
    let mut b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&tampered).unwrap()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64
        .decode(b["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let edited = String::from_utf8(payload)
        .unwrap()
        .replace("/other/*", "/legacy/*");
    b["dsseEnvelope"]["payload"] = serde_json::Value::String(b64.encode(edited));
    std::fs::write(&tampered, serde_json::to_vec(&b).unwrap()).unwrap();
    let err = fails(
        &ctx.check(&legacy_pol, &legacy_digest, &args),
        "tampered exception",
        &["no signatures found"],
    );
    assert!(
        err.contains("warning: exception") && err.contains("not approved"),
        "{err}"
    );
    std::fs::remove_file(&tampered).unwrap();

    // Key-signed exception with --approver-key.
    let keyed = exc.join("keyed.sigstore.json");
    ok(
        &grant(&keyed, None, "1h", &["--key", key.to_str().unwrap()]),
        "grant with key",
    );
    let err = ok(
        &ctx.check(
            &legacy_pol,
            &legacy_digest,
            &[
                "--exceptions",
                exc.to_str().unwrap(),
                "--approver-key",
                pubkey.to_str().unwrap(),
                "--namespace",
                "prod",
            ],
        ),
        "key-approved exception",
    );
    assert!(err.contains("exception used"), "{err}");
    // Without configured approvers, exceptions are refused outright.
    fails(
        &ctx.check(
            &legacy_pol,
            &legacy_digest,
            &["--exceptions", exc.to_str().unwrap()],
        ),
        "exceptions without approvers",
        &["exceptions need approvers"],
    );
    std::fs::remove_file(&keyed).unwrap();

    // 8. ArtifactPolicy on a blob and its bundle.
    let blob = write(d, "release-1.2.tar.gz", "release contents");
    let bundle = d.join("release-1.2.tar.gz.sigstore.json");
    ok(
        &run(vouch()
            .arg("sign-blob")
            .arg(&blob)
            .arg("--bundle")
            .arg(&bundle)
            .args(["--identity-token", &alice, "-y", "--trust-config"])
            .arg(&ctx.tc)),
        "sign-blob",
    );
    let ap = write(
        &pol.join("artifact"),
        "artifact.yaml",
        &format!(
            "apiVersion: policy.vouch.dev/v1alpha1\nkind: ArtifactPolicy\nmetadata:\n  name: releases\nspec:\n  artifacts:\n  - glob: \"release-*.tar.gz\"\n  authorities:\n{alice_auth}"
        ),
    );
    let err = ok(
        &ctx.check(
            &ap,
            blob.to_str().unwrap(),
            &["--bundle", bundle.to_str().unwrap()],
        ),
        "artifact policy",
    );
    assert!(err.contains("policy releases (enforce): passed"), "{err}");
    let other = write(d, "release-1.3.tar.gz", "other contents");
    fails(
        &ctx.check(
            &ap,
            other.to_str().unwrap(),
            &["--bundle", bundle.to_str().unwrap()],
        ),
        "artifact modified",
        &[
            "policy releases",
            "authority ci",
            "none of the signature bundles verified",
        ],
    );

    // 9. Load errors: CUE refused, malformed YAML, unknown field.
    let p = write(
        &pol.join("cue"),
        "cip.yaml",
        &cip(
            "cue",
            "**",
            "  policy:\n    type: cue\n    data: 'predicateType: \"x\"'\n",
            &alice_auth,
        ),
    );
    let err = fails(
        &ctx.check(&p, &app_digest, &[]),
        "CUE",
        &[
            "CUE policies are not supported",
            "spec.policy.type",
            "hint:",
        ],
    );
    assert!(err.contains("cip.yaml"), "{err}");
    let p = write(
        &pol.join("malformed"),
        "bad.yaml",
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nspec: [unclosed\n",
    );
    fails(
        &ctx.check(&p, &app_digest, &[]),
        "malformed YAML",
        &["bad.yaml", "document 0"],
    );
    let p = write(
        &pol.join("unknown"),
        "cip.yaml",
        &cip(
            "release",
            "**",
            "",
            &alice_auth.replace("subject:", "subjekt:"),
        ),
    );
    fails(
        &ctx.check(&p, &app_digest, &[]),
        "unknown field",
        &["cip.yaml", "unknown field `subjekt`"],
    );
}
