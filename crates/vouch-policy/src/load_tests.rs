//! Unit tests of loading: digests, errors naming file and field, kinds, a no-panic sweep.

use super::*;

const CIP: &str = r#"
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: release
spec:
  images:
  - glob: "registry.local:5000/app/**"
  authorities:
  - keyless:
      url: https://fulcio.example
      identities:
      - issuer: https://idp.example
        subjectRegExp: ".*@example.com"
"#;

#[test]
fn loads_and_digest_is_stable() {
    let a = PolicySet::from_yaml(Path::new("a.yaml"), CIP).unwrap();
    let b = PolicySet::from_yaml(Path::new("b.yaml"), &format!("# comment\n{CIP}\n---\n")).unwrap();
    assert_eq!(a.digest(), b.digest());
    assert_eq!(a.policies()[0].authorities[0].name, "authority-0");
    let c = PolicySet::from_yaml(Path::new("c.yaml"), &CIP.replace("app/**", "other/**")).unwrap();
    assert_ne!(a.digest(), c.digest());
}

#[test]
fn errors_name_file_and_field() {
    let e = PolicySet::from_yaml(
        Path::new("p.yaml"),
        &CIP.replace("subjectRegExp", "subjectRegex"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("p.yaml") && e.contains("subjectRegex"), "{e}");
    let e = PolicySet::from_yaml(
        Path::new("p.yaml"),
        &CIP.replace(".*@example.com", "(unclosed"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("identities[0].subjectRegExp") && e.contains("(unclosed"),
        "{e}"
    );
    let cue = format!("{CIP}  policy:\n    type: cue\n    data: \"x: 1\"\n");
    let e = PolicySet::from_yaml(Path::new("p.yaml"), &cue).unwrap_err();
    assert!(matches!(e, PolicyError::CueUnsupported { .. }), "{e}");
    assert!(e.to_string().contains("CUE"), "{e}");
    let bad_key = CIP.replace(
        "  - keyless:\n      url: https://fulcio.example\n      identities:\n      - issuer: https://idp.example\n        subjectRegExp: \".*@example.com\"\n",
        "  - key:\n      data: not a key\n",
    );
    let e = PolicySet::from_yaml(Path::new("p.yaml"), &bad_key)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("key.data") && e.contains("invalid public key"),
        "{e}"
    );
    let e = PolicySet::from_yaml(Path::new("p.yaml"), "kind: [unclosed").unwrap_err();
    assert!(matches!(e, PolicyError::Yaml { .. }), "{e}");
    let e = PolicySet::from_yaml(Path::new("p.yaml"), &CIP.replace("v1beta1", "v9")).unwrap_err();
    assert!(matches!(e, PolicyError::UnknownKind { .. }), "{e}");
}

#[test]
fn v1alpha1_trust_roots_and_references() {
    let alpha =
        PolicySet::from_yaml(Path::new("a.yaml"), &CIP.replace("v1beta1", "v1alpha1")).unwrap();
    assert_eq!(alpha.policies()[0].name, "release");
    // A trustRootRef must name a loaded TrustRoot.
    let with_ref = CIP.replace(
        "      url: https://fulcio.example\n",
        "      url: https://fulcio.example\n      trustRootRef: mine\n",
    );
    let e = PolicySet::from_yaml(Path::new("r.yaml"), &with_ref).unwrap_err();
    assert!(matches!(e, PolicyError::UnknownTrustRoot { .. }), "{e}");
    let remote = format!(
        "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata:\n  name: mine\nspec:\n  remote:\n    mirror: http://127.0.0.1:1/tuf\n    root: e30=\n---\n{with_ref}"
    );
    let set = PolicySet::from_yaml(Path::new("r.yaml"), &remote).unwrap();
    assert_eq!(set.trust_roots()[0].name, "mine");
    assert_eq!(
        set.policies()[0].authorities[0].trust_root.as_deref(),
        Some("mine")
    );
    // sigstoreKeys are validated at load time.
    let bad_keys = "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata:\n  name: mine\nspec:\n  sigstoreKeys:\n    certificateAuthorities:\n    - certChain: bm90IGEgY2VydA==\n";
    let e = PolicySet::from_yaml(Path::new("k.yaml"), &format!("{bad_keys}---\n{CIP}"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("k.yaml") && e.contains("sigstoreKeys"), "{e}");
    // Unsupported features are refused, not ignored.
    let kms = CIP.replace(
        "  - keyless:\n      url: https://fulcio.example\n      identities:\n      - issuer: https://idp.example\n        subjectRegExp: \".*@example.com\"\n",
        "  - key:\n      kms: awskms:///alias/x\n",
    );
    let e = PolicySet::from_yaml(Path::new("p.yaml"), &kms).unwrap_err();
    assert!(matches!(e, PolicyError::Unsupported { .. }), "{e}");
    let e = PolicySet::from_yaml(
        Path::new("p.yaml"),
        &CIP.replace("  authorities:", "  threshold: 2\n  authorities:"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("exceeds the 1 authorities"), "{e}");
    let bad_match = CIP.replace(
        "  authorities:",
        "  match:\n  - {group: apps, version: v1, resource: apple}\n  authorities:",
    );
    let e = PolicySet::from_yaml(Path::new("p.yaml"), &bad_match).unwrap_err();
    assert!(e.to_string().contains("spec.match[0].resource"), "{e}");
    let e = PolicySet::from_yaml(Path::new("p.yaml"), "").unwrap_err();
    assert!(matches!(e, PolicyError::Empty { .. }), "{e}");
}

/// No input panics the loader: every truncation and a set of byte substitutions of a
/// policy using most features either loads or is refused with an error.
#[test]
fn no_panic_sweep() {
    let full = format!(
        "{CIP}  mode: warn\n  threshold: 1\n  match:\n  - group: apps\n    version: v1\n    resource: deployments\n    selector:\n      matchExpressions:\n      - {{key: tier, operator: In, values: [prod]}}\n  policy:\n    type: rego\n    data: |\n      package sigstore\n      isCompliant := true\n"
    );
    let bytes = full.as_bytes();
    for cut in 0..bytes.len() {
        if let Ok(text) = std::str::from_utf8(&bytes[..cut]) {
            let _ = PolicySet::from_yaml(Path::new("t.yaml"), text);
        }
    }
    for i in 0..bytes.len() {
        for sub in [b' ', b':', b'-', b'[', b'\n', b'"', b'*', b'{'] {
            let mut m = bytes.to_vec();
            m[i] = sub;
            if let Ok(text) = std::str::from_utf8(&m) {
                let _ = PolicySet::from_yaml(Path::new("t.yaml"), text);
            }
        }
    }
    assert!(PolicySet::from_yaml(Path::new("t.yaml"), &full).is_ok());
}

#[test]
fn artifact_globs() {
    let g = ArtifactGlob::compile("release-*.tar.gz").unwrap();
    assert!(g.matches("dist/release-1.2.tar.gz"));
    assert!(!g.matches("dist/release-1.2.tar.gz.sig"));
    assert!(!g.matches("release-1+2.tgz"));
    assert!(
        ArtifactGlob::compile("dist/**")
            .unwrap()
            .matches("dist/a/b.bin")
    );
}
