//! `vouch audit dir` the way users run it: a release directory signed against `vouch up`
//! (keyless by the right and a wrong identity, with a long-lived key, unsigned, with and
//! without SLSA provenance, with provenance for another digest, an SBOM, a subdirectory),
//! audited against an ArtifactPolicy. The exact ratios are asserted in JSON and the table; the
//! PolicyReport YAML is checked against the wgpolicyk8s.io/v1alpha2 CRD's schema rules; the HTML
//! report is self-contained and, when Debian's chromium is installed, rendered headless and
//! screenshotted. `vouch audit registry` over 20 images in Debian's `docker-registry` (keyless,
//! key only, unsigned, wrong identity, provenance for the same and another digest, SBOM,
//! multi-arch indexes): exact ratios overall, per repository and per signer, and `--since`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::{oidc_token as token, start_up};
use common::{chromium, ok_stdout as ok, run, vouch};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(vouch_core::keys::HashKind::Sha256.digest(data))
}

struct Release {
    cwd: PathBuf,
    tc: String,
}

impl Release {
    fn file(&self, name: &str) -> PathBuf {
        let p = self.cwd.join("release").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, format!("contents of {name}")).unwrap();
        p
    }
    fn sign(&self, name: &str, cred: &[&str]) {
        ok(
            &run(vouch()
                .current_dir(&self.cwd)
                .arg("sign-blob")
                .arg(format!("release/{name}"))
                .args(["--bundle", &format!("release/{name}.sigstore.json"), "-y"])
                .args(["--trust-config", &self.tc])
                .args(cred)),
            &format!("sign {name}"),
        );
    }
    fn attest(&self, name: &str, kind: &str, ty: &str, token: &str, statement_about: Option<&str>) {
        let mut cmd = vouch();
        cmd.current_dir(&self.cwd).arg("attest-blob");
        let predicate = self.cwd.join("predicate.json");
        std::fs::write(
            &predicate,
            r#"{"buildDefinition":{"buildType":"https://example.com/build"},"runDetails":{"builder":{"id":"https://ci.example.com/builder"}}}"#,
        )
        .unwrap();
        match statement_about {
            None => {
                cmd.arg(format!("release/{name}")).args([
                    "--predicate",
                    "predicate.json",
                    "--type",
                    ty,
                ]);
            }
            Some(other) => {
                let digest =
                    sha256_hex(&std::fs::read(self.cwd.join("release").join(other)).unwrap());
                let st = self.cwd.join("statement.json");
                std::fs::write(
                    &st,
                    format!(
                        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"{other}","digest":{{"sha256":"{digest}"}}}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{{}}}}"#
                    ),
                )
                .unwrap();
                cmd.args(["--statement", "statement.json"]);
            }
        }
        ok(
            &run(cmd.args([
                "--bundle",
                &format!("release/{name}.{kind}.sigstore.json"),
                "--identity-token",
                token,
                "-y",
                "--trust-config",
                &self.tc,
            ])),
            &format!("attest {name} ({kind})"),
        );
    }
}

/// A P-256 key pair made with openssl: the PEM private key file and the PEM public key.
fn release_key(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("release-key.pem");
    ok(
        &run(Command::new("openssl").args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            key.to_str().unwrap(),
        ])),
        "openssl genpkey",
    );
    let pubkey = ok(
        &run(Command::new("openssl").args(["pkey", "-in", key.to_str().unwrap(), "-pubout"])),
        "openssl pkey -pubout",
    );
    (key, pubkey)
}

#[test]
fn audit_release_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inst = start_up(&d.join("data"), 0, &d.join("up.log"));
    let cwd = d.join("work");
    std::fs::create_dir_all(&cwd).unwrap();
    let oidc = inst.urls["oidc"].clone();
    let token = |email: &str| token(&oidc, email);
    let alice = token("alice@example.com");
    let bob = token("bob@example.com");
    let rel = Release {
        cwd: cwd.clone(),
        tc: inst.trust_config.to_str().unwrap().to_string(),
    };
    // A long-lived key (PEM PKCS#8).
    let (key, pubkey) = release_key(&cwd);

    // a: keyless + provenance + SBOM; b: keyless; c: key only; d: unsigned; e: wrong
    // identity; f: keyless + provenance about another file; team-b/g: keyless.
    for f in [
        "a.tar.gz",
        "b.tar.gz",
        "c.tar.gz",
        "d.tar.gz",
        "e.tar.gz",
        "f.tar.gz",
        "team-b/g.tar.gz",
    ] {
        rel.file(f);
    }
    let keyless = ["--identity-token", alice.as_str()];
    rel.sign("a.tar.gz", &keyless);
    rel.attest("a.tar.gz", "provenance", "slsaprovenance1", &alice, None);
    rel.attest("a.tar.gz", "sbom", "spdxjson", &alice, None);
    rel.sign("b.tar.gz", &keyless);
    rel.sign("c.tar.gz", &["--key", key.to_str().unwrap()]);
    rel.sign("e.tar.gz", &["--identity-token", &bob]);
    rel.sign("f.tar.gz", &keyless);
    rel.attest("f.tar.gz", "provenance", "", &alice, Some("b.tar.gz"));
    rel.sign("team-b/g.tar.gz", &keyless);

    let key_block: String = pubkey.lines().map(|l| format!("        {l}\n")).collect();
    let policy = cwd.join("policies/release.yaml");
    std::fs::create_dir_all(policy.parent().unwrap()).unwrap();
    std::fs::write(
        &policy,
        format!(
            "apiVersion: policy.vouch.dev/v1alpha1\nkind: ArtifactPolicy\nmetadata:\n  name: releases\nspec:\n  artifacts:\n  - glob: \"**.tar.gz\"\n  authorities:\n  - name: ci\n    keyless:\n      url: https://ca.invalid\n      identities:\n      - issuer: {oidc}\n        subject: alice@example.com\n  - name: release-key\n    key:\n      data: |\n{key_block}"
        ),
    )
    .unwrap();
    let audit = |extra: &[&str]| {
        run(vouch()
            .current_dir(&cwd)
            .args(["audit", "dir", "release", "--policy", "policies"])
            .args(["--trust-config", &rel.tc])
            .args(extra))
    };

    // JSON: the exact ratios.
    let json: serde_json::Value =
        serde_json::from_str(&ok(&audit(&["-o", "json"]), "audit -o json")).unwrap();
    let ratio =
        |v: &serde_json::Value| (v["count"].as_u64().unwrap(), v["total"].as_u64().unwrap());
    let o = &json["summary"]["overall"];
    assert_eq!(o["artifacts"], 7);
    assert_eq!(ratio(&o["signed"]), (6, 7), "{o}");
    assert_eq!(ratio(&o["provenance"]), (1, 7), "{o}");
    assert_eq!(ratio(&o["sbom"]), (1, 7), "{o}");
    assert_eq!(ratio(&o["policy_pass"]), (5, 7), "{o}");
    assert_eq!(ratio(&o["old_keys"]), (1, 7), "{o}");
    let repos = &json["summary"]["by_repository"];
    assert_eq!(ratio(&repos["."]["signed"]), (5, 6));
    assert_eq!(ratio(&repos["team-b"]["policy_pass"]), (1, 1));
    let signers = &json["summary"]["by_signer"];
    assert_eq!(signers["alice@example.com"]["artifacts"], 4, "{signers}");
    assert_eq!(ratio(&signers["alice@example.com"]["provenance"]), (1, 4));
    assert_eq!(signers["bob@example.com"]["artifacts"], 1);
    assert_eq!(ratio(&signers["bob@example.com"]["policy_pass"]), (0, 1));
    let by_name = |n: &str| {
        json["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == n)
            .unwrap()
            .clone()
    };
    let c = by_name("c.tar.gz");
    assert_eq!(c["old_keys"], true);
    assert_eq!(c["signers"][0]["type"], "key");
    let dd = by_name("d.tar.gz");
    assert_eq!(dd["signed"], false);
    assert_eq!(dd["verdict"], "deny");
    assert!(dd["reason"].as_str().unwrap().contains("no"), "{dd}");
    let e = by_name("e.tar.gz");
    assert_eq!(e["signed"], true);
    assert_eq!(e["signers"][0]["identity"], "bob@example.com");
    assert_eq!(e["verdict"], "deny");
    assert!(
        e["reason"].as_str().unwrap().contains("bob@example.com"),
        "{e}"
    );
    let f = by_name("f.tar.gz");
    assert_eq!(f["provenance"]["present"], true);
    assert_eq!(f["provenance"]["bound"], false, "{f}");
    let a = by_name("a.tar.gz");
    assert_eq!(
        a["provenance"]["predicate_type"],
        "https://slsa.dev/provenance/v1"
    );
    assert_eq!(a["sbom"], true);
    assert_eq!(a["policies"][0], "releases");

    // The table names the same ratios.
    let table = ok(&audit(&[]), "audit (table)");
    assert!(
        table.contains("overall: 7 artifacts; signed 6/7 (86%); provenance 1/7 (14%)"),
        "{table}"
    );
    assert!(table.contains("(old keys)"), "{table}");

    // PolicyReport: one result per artifact, fields as the CRD's schema requires.
    let yaml = ok(&audit(&["-o", "policyreport"]), "audit -o policyreport");
    let pr: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(pr["apiVersion"].as_str(), Some("wgpolicyk8s.io/v1alpha2"));
    assert_eq!(pr["kind"].as_str(), Some("PolicyReport"));
    assert!(pr["metadata"]["name"].as_str().is_some());
    let results = pr["results"].as_sequence().unwrap();
    assert_eq!(results.len(), 7);
    for r in results {
        let result = r["result"].as_str().unwrap();
        assert!(
            ["pass", "fail", "warn", "error", "skip"].contains(&result),
            "{r:?}"
        );
        if let Some(sev) = r["severity"].as_str() {
            assert!(["critical", "high", "low", "medium", "info"].contains(&sev));
        }
        assert!(r["policy"].as_str().is_some());
        assert!(r["timestamp"]["seconds"].as_i64().unwrap() > 0);
        assert_eq!(r["resources"].as_sequence().unwrap().len(), 1);
        for (_, v) in r["properties"].as_mapping().unwrap() {
            assert!(v.is_string(), "properties are map[string]string");
        }
    }
    assert_eq!(pr["summary"]["pass"].as_u64(), Some(5));
    assert_eq!(pr["summary"]["fail"].as_u64(), Some(2));

    // HTML, self-contained, with history: two runs make a trend chart.
    let report = cwd.join("report.html");
    for _ in 0..2 {
        ok(
            &audit(&["-o", "html", "--out", "report.html", "--history", "history"]),
            "audit -o html",
        );
    }
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<svg"), "no chart");
    assert!(html.contains("Coverage by repository"));
    assert!(
        html.contains("signed artifacts over time"),
        "no trend chart"
    );
    for external in ["src=", "href=", "<script", "url(", "@import"] {
        assert!(
            !html.contains(external),
            "external reference {external:?} in the report"
        );
    }
    assert_eq!(std::fs::read_dir(cwd.join("history")).unwrap().count(), 2);
    // `audit trend` over the stored runs.
    let trend = ok(
        &run(vouch()
            .current_dir(&cwd)
            .args(["audit", "trend", "--history", "history"])),
        "audit trend",
    );
    assert_eq!(trend.lines().count(), 2, "{trend}");
    assert!(trend.contains("signed 6/7 (86%)"), "{trend}");
    let trend_html = ok(
        &run(vouch().current_dir(&cwd).args([
            "audit",
            "trend",
            "--history",
            "history",
            "-o",
            "html",
        ])),
        "audit trend -o html",
    );
    assert_eq!(trend_html.matches("<svg").count(), 4);

    // Rendered by a real browser, offline.
    let Some(browser) = chromium() else {
        vouch_testkit::skip(format_args!(
            "HTML report screenshot (apt-get install chromium)"
        ));
        return;
    };
    let shot = cwd.join("report.png");
    let profile = tempfile::tempdir().unwrap();
    let out = run(Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", report.display())));
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        png.len() > 10_000,
        "screenshot too small: {} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("VOUCH_AUDIT_SCREENSHOT") {
        std::fs::copy(&shot, Path::new(&keep)).unwrap();
    }
}

/// Push an OCI index of two one-layer images (pushed by digest, untagged) as `repo:tag`.
fn push_index(addr: &str, repo: &str, tag: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let reg = vouch_oci::Registry::new(vouch_oci::RegistryOptions::default()).unwrap();
        let r = vouch_oci::parse_reference(&format!("{addr}/{repo}:{tag}")).unwrap();
        let mut children = Vec::new();
        for arch in ["amd64", "arm64"] {
            let layer = reg.put_blob(&r, format!("{arch} layer").as_bytes()).await.unwrap();
            let config = format!(
                r#"{{"architecture":"{arch}","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
            );
            let config_digest = reg.put_blob(&r, config.as_bytes()).await.unwrap();
            let manifest = format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{}}}]}}"#,
                config.len(),
                format!("{arch} layer").len()
            );
            let digest = vouch_oci::registry::sha256_digest(manifest.as_bytes());
            reg.put_manifest(&r, &digest, manifest.as_bytes(), "application/vnd.oci.image.manifest.v1+json")
                .await
                .unwrap();
            children.push(format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":{},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#,
                manifest.len()
            ));
        }
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
            children.join(",")
        );
        let (d, _) = reg
            .put_manifest(&r, tag, index.as_bytes(), "application/vnd.oci.image.index.v1+json")
            .await
            .unwrap();
        d
    })
}

/// Copy `from`'s legacy `.att` tag so that it is stored for `to` too (same repository): an
/// attestation attached to an image but about another digest.
fn copy_attestation(addr: &str, repo: &str, from: &str, to: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let reg = vouch_oci::Registry::new(vouch_oci::RegistryOptions::default()).unwrap();
        let tag = |d: &str| format!("{}.att", d.replace(':', "-"));
        let src = vouch_oci::parse_reference(&format!("{addr}/{repo}:{}", tag(from))).unwrap();
        let m = reg
            .get_manifest(&src)
            .await
            .unwrap()
            .expect("the .att manifest");
        reg.put_manifest(&src, &tag(to), &m.bytes, &m.media_type)
            .await
            .unwrap();
    })
}

#[test]
fn audit_registry_images() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some((reg, inst)) = common::registry::registry_and_up("audit registry", d) else {
        return;
    };
    let addr = reg.addr.clone();
    let oidc = inst.urls["oidc"].clone();
    let tc = inst.trust_config.to_str().unwrap().to_string();
    let token = |email: &str| token(&oidc, email);
    let alice = token("alice@example.com");
    let mallory = token("mallory@example.com");
    let (key, pubkey) = release_key(d);
    let push = |repo: &str, tag: &str| {
        let digest =
            common::registry::push_image(&addr, repo, tag, format!("{repo}:{tag}").as_bytes());
        format!("{addr}/{repo}@{digest}")
    };
    let sign = |image: &str, extra: &[&str]| {
        ok(
            &run(vouch()
                .arg("sign")
                .arg(image)
                .args(["-y", "--trust-config", &tc])
                .args(extra)),
            &format!("sign {image}"),
        );
    };
    let predicate = d.join("provenance.json");
    std::fs::write(
        &predicate,
        r#"{"buildDefinition":{"buildType":"https://example.com/ci@v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://ci.example.com/builder"}}}"#,
    )
    .unwrap();
    let attest = |image: &str, ty: &str, extra: &[&str]| {
        ok(
            &run(vouch()
                .arg("attest")
                .arg(image)
                .arg("--predicate")
                .arg(&predicate)
                .args([
                    "--type",
                    ty,
                    "--identity-token",
                    &alice,
                    "-y",
                    "--trust-config",
                    &tc,
                ])
                .args(extra)),
            &format!("attest {image} {ty}"),
        );
    };
    let keyless_alice = ["--identity-token", alice.as_str()];
    // team-a: app1 keyless + provenance; app2 keyless; app3 keyless + SBOM, two tags; old: key
    // only; unsigned.
    let app1 = push("team-a/app1", "v1");
    sign(&app1, &keyless_alice);
    attest(&app1, "slsaprovenance1", &[]);
    sign(&push("team-a/app2", "v1"), &keyless_alice);
    let app3 = push("team-a/app3", "v1");
    common::registry::push_image(&addr, "team-a/app3", "latest", b"team-a/app3:v1");
    sign(&app3, &keyless_alice);
    attest(&app3, "spdxjson", &[]);
    sign(&push("team-a/old", "v1"), &["--key", key.to_str().unwrap()]);
    push("team-a/unsigned", "v1");
    // team-b: svc1 by the wrong identity; svc2 keyless with provenance about `other` (a second
    // image of the same repository, with its own valid provenance); a multi-arch index.
    sign(&push("team-b/svc1", "v1"), &["--identity-token", &mallory]);
    let svc2 = push("team-b/svc2", "v1");
    let other = push("team-b/svc2", "other");
    sign(&svc2, &keyless_alice);
    sign(&other, &keyless_alice);
    attest(
        &other,
        "slsaprovenance1",
        &["--legacy", "--rekor-version", "1"],
    );
    let digest_of = |image: &str| image.rsplit('@').next().unwrap().to_string();
    copy_attestation(&addr, "team-b/svc2", &digest_of(&other), &digest_of(&svc2));
    let multi = push_index(&addr, "team-b/multi", "v1");
    sign(&format!("{addr}/team-b/multi@{multi}"), &keyless_alice);
    // Outside the audited prefix.
    sign(&push("elsewhere/x", "v1"), &keyless_alice);
    // team-c (a fresh token: the steps above may take minutes): keyless with provenance and
    // SBOM, keyless (2), key only (2, "still on old keys"), unsigned (2), the wrong identity,
    // a key-signed multi-arch index, keyless plus key, and an SBOM attestation but no
    // signature. 20 images under `team-` in all.
    let alice = token("alice@example.com");
    let keyless_alice = ["--identity-token", alice.as_str()];
    let key_arg = ["--key", key.to_str().unwrap()];
    let attest = |image: &str, ty: &str| {
        ok(
            &run(vouch()
                .arg("attest")
                .arg(image)
                .arg("--predicate")
                .arg(&predicate)
                .args(["--type", ty, "--identity-token", &alice, "-y"])
                .args(["--trust-config", &tc])),
            &format!("attest {image} {ty}"),
        );
    };
    let c1 = push("team-c/full", "v1");
    sign(&c1, &keyless_alice);
    attest(&c1, "slsaprovenance1");
    attest(&c1, "cyclonedx");
    sign(&push("team-c/keyless1", "v1"), &keyless_alice);
    sign(&push("team-c/keyless2", "v1"), &keyless_alice);
    sign(&push("team-c/legacy1", "v1"), &key_arg);
    sign(&push("team-c/legacy2", "v1"), &key_arg);
    push("team-c/unsigned1", "v1");
    push("team-c/unsigned2", "v1");
    sign(
        &push("team-c/wrong", "v1"),
        &["--identity-token", &token("mallory@example.com")],
    );
    let multi_c = push_index(&addr, "team-c/multi", "v1");
    sign(&format!("{addr}/team-c/multi@{multi_c}"), &key_arg);
    let both = push("team-c/both", "v1");
    sign(&both, &keyless_alice);
    sign(&both, &key_arg);
    attest(&push("team-c/sbom-only", "v1"), "spdxjson");

    let key_block: String = pubkey.lines().map(|l| format!("        {l}\n")).collect();
    let policies = d.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("teams.yaml"),
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: teams\nspec:\n  images:\n  - glob: \"{addr}/team-*/**\"\n  authorities:\n  - name: ci\n    keyless:\n      url: https://ca.invalid\n      identities:\n      - issuer: {oidc}\n        subject: alice@example.com\n  - name: release-key\n    key:\n      data: |\n{key_block}"
        ),
    )
    .unwrap();
    let audit = |prefix: &str, extra: &[&str]| {
        run(vouch()
            .current_dir(d)
            .args(["audit", "registry", prefix, "--policy", "policies"])
            .args(["--trust-config", &tc])
            .args(extra))
    };
    let out = audit(&format!("{addr}/team-"), &["-o", "json"]);
    let json: serde_json::Value = serde_json::from_str(&ok(&out, "audit registry")).unwrap();
    let ratio =
        |v: &serde_json::Value| (v["count"].as_u64().unwrap(), v["total"].as_u64().unwrap());
    let o = &json["summary"]["overall"];
    assert_eq!(
        o["artifacts"],
        20,
        "{}",
        serde_json::to_string_pretty(&json["artifacts"]).unwrap()
    );
    assert_eq!(ratio(&o["signed"]), (16, 20), "{o}");
    assert_eq!(ratio(&o["provenance"]), (3, 20), "{o}");
    assert_eq!(ratio(&o["sbom"]), (3, 20), "{o}");
    assert_eq!(ratio(&o["policy_pass"]), (14, 20), "{o}");
    assert_eq!(ratio(&o["old_keys"]), (4, 20), "{o}");
    let repos = &json["summary"]["by_repository"];
    let svc2_repo = &repos[format!("{addr}/team-b/svc2")];
    assert_eq!(svc2_repo["artifacts"], 2);
    assert_eq!(ratio(&svc2_repo["provenance"]), (1, 2));
    assert_eq!(
        ratio(&repos[format!("{addr}/team-c/legacy1")]["old_keys"]),
        (1, 1)
    );
    assert_eq!(
        ratio(&repos[format!("{addr}/team-c/both")]["old_keys"]),
        (0, 1)
    );
    assert_eq!(
        ratio(&repos[format!("{addr}/team-c/sbom-only")]["sbom"]),
        (1, 1)
    );
    assert_eq!(
        ratio(&repos[format!("{addr}/team-c/sbom-only")]["signed"]),
        (0, 1)
    );
    assert_eq!(
        ratio(&repos[format!("{addr}/team-c/full")]["provenance"]),
        (1, 1)
    );
    let signers = &json["summary"]["by_signer"];
    assert_eq!(signers["alice@example.com"]["artifacts"], 10, "{signers}");
    assert_eq!(
        ratio(&signers["alice@example.com"]["policy_pass"]),
        (10, 10)
    );
    assert_eq!(ratio(&signers["alice@example.com"]["provenance"]), (3, 10));
    let key_signer = signers
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.starts_with("key "))
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(key_signer["artifacts"], 5, "{signers}");
    assert_eq!(ratio(&key_signer["old_keys"]), (4, 5));
    assert_eq!(
        ratio(&signers["mallory@example.com"]["policy_pass"]),
        (0, 2)
    );
    assert!(json["registry_requests"].as_u64().unwrap() > 0);
    let find = |pred: &dyn Fn(&serde_json::Value) -> bool| {
        json["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| pred(a))
            .unwrap()
            .clone()
    };
    let a3 = find(&|a| a["name"].as_str().unwrap().contains("team-a/app3"));
    let tags: Vec<&str> = a3["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tags, ["latest", "v1"]);
    let s2 = find(&|a| a["name"] == format!("{addr}/team-b/svc2@{}", digest_of(&svc2)));
    assert_eq!(s2["provenance"]["present"], true);
    assert_eq!(s2["provenance"]["bound"], false, "{s2}");
    let m = find(&|a| a["name"].as_str().unwrap().contains("team-b/multi"));
    assert_eq!(m["signed"], true);
    assert_eq!(m["verdict"], "allow");
    let s1 = find(&|a| a["name"].as_str().unwrap().contains("team-b/svc1"));
    assert!(
        s1["reason"]
            .as_str()
            .unwrap()
            .contains("mallory@example.com"),
        "{s1}"
    );

    // A prefix narrows it; PolicyReport has one result per image.
    let yaml = ok(
        &audit(&format!("{addr}/team-a/"), &["-o", "policyreport"]),
        "audit team-a",
    );
    let pr: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(pr["results"].as_sequence().unwrap().len(), 5);
    assert_eq!(pr["summary"]["fail"].as_u64(), Some(1));
    assert!(
        pr["results"]
            .as_sequence()
            .unwrap()
            .iter()
            .all(|r| r["resources"][0]["kind"].as_str() == Some("Image"))
    );

    // --since: a window covering every signing keeps all 20; a window that ends after the
    // last signing keeps only the images with no verified signing time (the unsigned ones).
    let within = |window: &str| -> serde_json::Value {
        let out = audit(&format!("{addr}/team-"), &["-o", "json", "--since", window]);
        serde_json::from_str(&ok(&out, "audit --since")).unwrap()
    };
    assert_eq!(within("1h")["summary"]["overall"]["artifacts"], 20);
    std::thread::sleep(Duration::from_secs(3));
    let recent = within("2s");
    let kept: Vec<&str> = recent["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(kept.iter().all(|n| n.contains("unsigned")), "{kept:?}");
}
