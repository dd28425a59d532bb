//! `vouch inventory` over a log with known entries: blobs signed against `vouch up` by
//! alice (3), bob (2) and carol (1), then the log read through its tiles and through the Rekor
//! v1 API, grouped by identity, issuer and repository, with the counts asserted in JSON and CSV.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::{oidc_token, start_up};
use common::vouch;
use std::process::{Output, Stdio};

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

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
