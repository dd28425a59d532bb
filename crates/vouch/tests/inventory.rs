//! `vouch inventory` over a log with known entries: blobs signed against `vouch up` by
//! alice (3), bob (2) and carol (1), then the log read through its tiles and through the Rekor
//! v1 API, grouped by identity, issuer and repository, with the counts asserted in JSON and CSV;
//! and blobs signed with CI-style tokens (`vouch up --allow-ci-tokens`: GitHub Actions for two
//! repositories and two workflows, GitLab CI) beside an email identity, grouped by the Fulcio
//! CI extensions of their certificates, which are checked with `bundle inspect` and openssl.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::{ci_token, oidc_token, start_up, start_up_with};
use common::{ok_stdout as ok, vouch};
use std::process::Stdio;

#[test]
fn inventory_groups_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inst = start_up(&d.join("data"), 0, &d.join("up.log"));
    let tc = inst.trust_config.to_str().unwrap().to_string();
    let oidc = inst.urls["oidc"].clone();
    let log = inst.urls["log"].clone();
    let sign = |n: usize, token: &str| {
        let blob = d.join(format!("blob{n}"));
        std::fs::write(&blob, format!("artifact {n}")).unwrap();
        ok(
            &vouch()
                .current_dir(d)
                .args(["sign-blob", &format!("blob{n}"), "--bundle"])
                .arg(format!("blob{n}.sigstore.json"))
                .args(["-y", "--identity-token", token, "--trust-config", &tc])
                .stdin(Stdio::null())
                .output()
                .unwrap(),
            "sign-blob",
        );
    };
    let mut n = 0;
    for (email, times) in [("alice@example.com", 3), ("bob@example.com", 2)] {
        for _ in 0..times {
            n += 1;
            sign(n, &oidc_token(&oidc, email));
        }
    }
    n += 1;
    sign(n, &oidc_token(&oidc, "carol@example.com"));

    let inventory = |extra: &[&str]| {
        ok(
            &vouch()
                .args(["inventory", "--log", &log, "--since", "1h"])
                .args(extra)
                .stdin(Stdio::null())
                .output()
                .unwrap(),
            "inventory",
        )
    };
    let groups = |json: &serde_json::Value| -> Vec<(String, u64)> {
        json["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["key"].as_str().unwrap().to_string(),
                    g["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    for api in ["tiles", "v1"] {
        let json: serde_json::Value =
            serde_json::from_str(&inventory(&["--api", api, "--group-by", "identity"])).unwrap();
        assert_eq!(json["certificates"], 6, "{api}: {json}");
        assert_eq!(json["api"], api);
        let g = groups(&json);
        assert_eq!(g.len(), 3, "{api}: {g:?}");
        assert_eq!(g[0], ("alice@example.com".to_string(), 3), "{api}");
        assert_eq!(g[1], ("bob@example.com".to_string(), 2), "{api}");
        assert_eq!(g[2], ("carol@example.com".to_string(), 1), "{api}");
        let alice = &json["groups"][0];
        assert!(alice["first_seen"].as_str().unwrap() <= alice["last_seen"].as_str().unwrap());
        assert!(alice["first_index"].as_u64().unwrap() < alice["last_index"].as_u64().unwrap());
    }
    let json: serde_json::Value =
        serde_json::from_str(&inventory(&["--group-by", "repository"])).unwrap();
    assert_eq!(json["api"], "tiles", "auto-detected");
    assert_eq!(json["time_source"], "certificate notBefore");
    // Email identities carry no source repository extension.
    let g = groups(&json);
    assert_eq!(g, [("(none)".to_string(), 6)], "{g:?}");
    assert_eq!(json["groups"][0]["identities"], 3);
    let issuers: serde_json::Value =
        serde_json::from_str(&inventory(&["--group-by", "issuer"])).unwrap();
    let total: u64 = groups(&issuers).iter().map(|(_, c)| c).sum();
    assert_eq!(total, 6);
    assert_eq!(groups(&issuers), [(oidc.clone(), 6)], "{issuers}");

    let csv = inventory(&["--group-by", "identity", "-o", "csv"]);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "group,count,identities,first_seen,last_seen,first_index,last_index,workflows"
    );
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(rows[1].starts_with("alice@example.com,3,1,"), "{csv}");
    assert!(rows[2].starts_with("bob@example.com,2,1,"), "{csv}");
    assert!(rows[3].starts_with("carol@example.com,1,1,"), "{csv}");
    // A bad window is refused.
    let bad = vouch()
        .args(["inventory", "--log", &log, "--since", "-3d"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

/// The certificate of `bundle` (DER), from its verification material.
fn leaf_der(bundle: &std::path::Path) -> Vec<u8> {
    let b: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    let vm = &b["verificationMaterial"];
    let raw = vm["certificate"]["rawBytes"]
        .as_str()
        .or_else(|| vm["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str())
        .unwrap();
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(raw)
        .unwrap()
}

/// `openssl x509 -text` of `bundle`'s certificate.
fn openssl_text(d: &std::path::Path, bundle: &std::path::Path) -> String {
    let der = d.join("leaf.der");
    std::fs::write(&der, leaf_der(bundle)).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&der)
        .output()
        .unwrap();
    ok(&out, "openssl x509")
}

/// The value openssl prints under extension `oid` (unknown extensions: the octet string's
/// bytes, non-printable ones as dots).
fn openssl_ext(text: &str, oid: &str) -> Option<String> {
    let mut lines = text.lines();
    lines.find(|l| l.trim() == format!("{oid}:"))?;
    lines.next().map(|l| l.trim().to_string())
}

#[test]
fn inventory_groups_ci_signers_by_repository() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inst = start_up_with(
        &d.join("data"),
        0,
        &d.join("up.log"),
        &["--allow-ci-tokens"],
    );
    let tc = inst.trust_config.to_str().unwrap().to_string();
    let oidc = inst.urls["oidc"].clone();
    let log = inst.urls["log"].clone();
    // The banner names the CI issuers the CA trusts, with their Fulcio types.
    for (kind, ty) in [
        ("github-actions", "github-workflow"),
        ("gitlab", "gitlab-pipeline"),
        ("buildkite", "buildkite-job"),
    ] {
        assert!(
            inst.banner.iter().any(|l| l.contains("CI token issuer")
                && l.contains(&format!("{oidc}/ci/{kind} "))
                && l.contains(&format!("CA type {ty}"))),
            "{:?}",
            inst.banner
        );
    }
    let sign = |name: &str, token: &str| {
        std::fs::write(d.join(name), format!("artifact {name}")).unwrap();
        ok(
            &vouch()
                .current_dir(d)
                .args(["sign-blob", name, "--bundle"])
                .arg(format!("{name}.sigstore.json"))
                .args(["-y", "--identity-token", token, "--trust-config", &tc])
                .stdin(Stdio::null())
                .output()
                .unwrap(),
            "sign-blob",
        );
        d.join(format!("{name}.sigstore.json"))
    };
    let widget = ["repository=acme/widget"];
    let nightly = [
        "repository=acme/widget",
        "workflow=nightly",
        "workflow_ref=acme/widget/.github/workflows/nightly.yml@refs/heads/main",
    ];
    let w1 = sign("w1", &ci_token(&oidc, "github-actions", &widget));
    sign("w2", &ci_token(&oidc, "github-actions", &widget));
    sign("w3", &ci_token(&oidc, "github-actions", &nightly));
    sign(
        "g1",
        &ci_token(&oidc, "github-actions", &["repository=acme/gadget"]),
    );
    let t1 = sign(
        "t1",
        &ci_token(
            &oidc,
            "gitlab",
            &["namespace_path=grp", "project_path=grp/tool"],
        ),
    );
    let a1 = sign("a1", &oidc_token(&oidc, "alice@example.com"));

    // The certificates carry Fulcio's CI extensions, mapped from the claims as Fulcio does.
    let inspect = |b: &std::path::Path| -> serde_json::Value {
        let out = vouch()
            .args([
                "bundle",
                "inspect",
                "--output",
                "json",
                "--trust-config",
                &tc,
            ])
            .arg(b)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        serde_json::from_str(&ok(&out, "bundle inspect")).unwrap()
    };
    let gh = inspect(&w1);
    let sha = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3";
    let release = "https://github.com/acme/widget/.github/workflows/release.yml@refs/heads/main";
    assert_eq!(gh["signer"]["subjectAlternativeName"], release, "{gh}");
    assert_eq!(gh["signer"]["issuer"], format!("{oidc}/ci/github-actions"));
    let ext = &gh["signer"]["extensions"];
    for (name, want) in [
        ("githubWorkflowTrigger", "push"),
        ("githubWorkflowSha", sha),
        ("githubWorkflowName", "release"),
        ("githubWorkflowRepository", "acme/widget"),
        ("githubWorkflowRef", "refs/heads/main"),
        ("buildSignerURI", release),
        ("buildSignerDigest", sha),
        ("runnerEnvironment", "github-hosted"),
        ("sourceRepositoryURI", "https://github.com/acme/widget"),
        ("sourceRepositoryDigest", sha),
        ("sourceRepositoryRef", "refs/heads/main"),
        ("sourceRepositoryIdentifier", "123456789"),
        ("sourceRepositoryOwnerURI", "https://github.com/acme"),
        ("sourceRepositoryOwnerIdentifier", "987654321"),
        ("buildConfigURI", release),
        ("buildConfigDigest", sha),
        ("buildTrigger", "push"),
        (
            "runInvocationURI",
            "https://github.com/acme/widget/actions/runs/1000000001/attempts/1",
        ),
        ("sourceRepositoryVisibilityAtSigning", "private"),
        ("tokenSubject", "repo:acme/widget:ref:refs/heads/main"),
    ] {
        assert_eq!(ext[name], want, "{name}: {ext}");
    }
    let gl = inspect(&t1);
    let host = oidc.trim_start_matches("http://");
    let gitlab_ci = format!("https://{host}/grp/tool//.gitlab-ci.yml@refs/heads/main");
    assert_eq!(gl["signer"]["subjectAlternativeName"], gitlab_ci.as_str());
    let ext = &gl["signer"]["extensions"];
    for (name, want) in [
        ("buildSignerURI", gitlab_ci.as_str()),
        ("buildConfigURI", gitlab_ci.as_str()),
        ("sourceRepositoryURI", "https://gitlab.com/grp/tool"),
        ("sourceRepositoryOwnerURI", "https://gitlab.com/grp"),
        ("sourceRepositoryRef", "refs/heads/main"),
        ("buildTrigger", "push"),
        (
            "runInvocationURI",
            "https://gitlab.com/grp/tool/-/jobs/4000",
        ),
        (
            "tokenSubject",
            "project_path:grp/tool:ref_type:branch:ref:main",
        ),
    ] {
        assert_eq!(ext[name], want, "{name}: {ext}");
    }
    assert!(ext.get("githubWorkflowRepository").is_none(), "{ext}");
    let email = inspect(&a1);
    let ext = email["signer"]["extensions"].as_object().unwrap();
    let names: Vec<&str> = ext.keys().map(String::as_str).collect();
    assert_eq!(names, ["issuer", "issuer (v1)", "tokenSubject"], "{ext:?}");
    // The same through openssl: 1.5 is raw UTF-8, 1.12 and 1.18 are DER UTF8Strings (two
    // bytes of tag and length before the text).
    let text = openssl_text(d, &w1);
    assert_eq!(
        openssl_ext(&text, "1.3.6.1.4.1.57264.1.5").as_deref(),
        Some("acme/widget"),
        "{text}"
    );
    // (The length byte prints as a character when it is printable.)
    let repo = openssl_ext(&text, "1.3.6.1.4.1.57264.1.12").unwrap();
    assert_eq!(
        repo.get(2..),
        Some("https://github.com/acme/widget"),
        "{text}"
    );
    let workflow = openssl_ext(&text, "1.3.6.1.4.1.57264.1.18").unwrap();
    assert_eq!(workflow.get(2..), Some(release), "{text}");
    assert!(text.contains(&format!("URI:{release}")), "{text}");
    let text = openssl_text(d, &a1);
    assert!(!text.contains("1.3.6.1.4.1.57264.1.12"), "{text}");
    assert!(text.contains("email:alice@example.com"), "{text}");

    let inventory = |extra: &[&str]| {
        ok(
            &vouch()
                .args(["inventory", "--log", &log, "--since", "1h"])
                .args(extra)
                .stdin(Stdio::null())
                .output()
                .unwrap(),
            "inventory",
        )
    };
    let nightly_uri =
        "https://github.com/acme/widget/.github/workflows/nightly.yml@refs/heads/main";
    for api in ["tiles", "v1"] {
        let json: serde_json::Value = serde_json::from_str(&inventory(&[
            "--api",
            api,
            "--group-by",
            "repository",
            "-o",
            "json",
        ]))
        .unwrap();
        assert_eq!(json["certificates"], 6, "{api}: {json}");
        let g: Vec<(String, u64, u64)> = json["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["key"].as_str().unwrap().to_string(),
                    g["count"].as_u64().unwrap(),
                    g["identities"].as_u64().unwrap(),
                )
            })
            .collect();
        // The email signing has no source repository: it is grouped under "(none)".
        assert_eq!(
            g,
            [
                ("https://github.com/acme/widget".to_string(), 3, 2),
                ("(none)".to_string(), 1, 1),
                ("https://github.com/acme/gadget".to_string(), 1, 1),
                ("https://gitlab.com/grp/tool".to_string(), 1, 1),
            ],
            "{api}: {json}"
        );
        assert_eq!(
            json["groups"][0]["workflows"],
            serde_json::json!([nightly_uri, release]),
            "{api}"
        );
        assert!(json["groups"][1].get("workflows").is_none(), "{json}");
        assert_eq!(
            json["groups"][3]["workflows"],
            serde_json::json!([gitlab_ci]),
            "{api}"
        );
    }
    let issuers: serde_json::Value =
        serde_json::from_str(&inventory(&["--group-by", "issuer"])).unwrap();
    let g: Vec<(String, u64)> = issuers["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_string(),
                g["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        g,
        [
            (format!("{oidc}/ci/github-actions"), 4),
            (oidc.clone(), 1),
            (format!("{oidc}/ci/gitlab"), 1),
        ],
        "{issuers}"
    );
    let csv = inventory(&["--group-by", "repository", "-o", "csv"]);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 5, "{csv}");
    assert!(
        rows[1].starts_with("https://github.com/acme/widget,3,2,"),
        "{csv}"
    );
    assert!(
        rows[1].ends_with(&format!(",{nightly_uri} {release}")),
        "{csv}"
    );
    assert!(rows[2].starts_with("(none),1,1,"), "{csv}");
    assert!(rows[2].ends_with(','), "no workflow: {csv}");
    assert!(
        rows[3].starts_with("https://github.com/acme/gadget,1,1,"),
        "{csv}"
    );
    assert!(
        rows[4].starts_with("https://gitlab.com/grp/tool,1,1,"),
        "{csv}"
    );
}
