//! Issuer configuration: Fulcio's YAML form next to the JSON form, the loopback-only rule for
//! plain-http issuers, and `ci-provider` / `codefresh-workflow` identities (templates →
//! SAN and Sigstore extensions with the DER encodings of protocols.md §1.7).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use common::{github_claims, object};
use serde_json::{Map, Value, json};
use std::time::Duration;
use vouch_ca::{
    ConfigError, DevHierarchyOptions, FulcioConfig, IdentityError, IssuerType, LeafOptions, San,
    generate_dev_hierarchy,
};
use vouch_core::x509::Certificate;

/// Fulcio's public-good `ci-provider` entries for GitHub Actions and GitLab, plus the
/// dedicated legacy types on other URLs, in Fulcio's YAML spelling.
const YAML: &str = r#"
define:
  - &sigstore sigstore
oidc-issuers:
  https://accounts.example.com:
    issuer-url: https://accounts.example.com
    client-id: *sigstore
    type: email
  https://oauth2.example.dev/auth:
    issuer-url: https://oauth2.example.dev/auth
    client-id: sigstore
    type: email
    issuer-claim: $.federated_claims.connector_id
  http://127.0.0.1:3003:
    issuer-url: http://127.0.0.1:3003
    client-id: sigstore
    type: email
    skip-email-verification: true
  https://token.actions.githubusercontent.com:
    issuer-url: https://token.actions.githubusercontent.com
    client-id: sigstore
    type: ci-provider
    ci-provider: github-workflow
  https://gitlab.com:
    issuer-url: https://gitlab.com
    client-id: sigstore
    type: ci-provider
    ci-provider: gitlab-pipeline
  https://oidc.codefresh.io:
    issuer-url: https://oidc.codefresh.io
    client-id: sigstore
    type: ci-provider
    ci-provider: codefresh-workflow
  https://users.example.org:
    issuer-url: https://users.example.org
    client-id: sigstore
    type: username
    subject-domain: example.org
    challenge-claim: sub
    description: "Example users"
    contact: ops@example.org
meta-issuers:
  https://oidc.eks.*.amazonaws.com/id/*:
    client-id: sigstore
    type: kubernetes
ci-issuer-metadata:
  github-workflow:
    default-template-values:
      url: "https://github.com"
      environment: ""
    extension-templates:
      github-workflow-trigger: "event_name"
      github-workflow-sha: "sha"
      github-workflow-name: "workflow"
      github-workflow-repository: "repository"
      github-workflow-ref: "ref"
      build-signer-uri: "{{ .url }}/{{ .job_workflow_ref }}"
      build-signer-digest: "job_workflow_sha"
      runner-environment: "runner_environment"
      source-repository-uri: "{{ .url }}/{{ .repository }}"
      source-repository-digest: "sha"
      source-repository-ref: "ref"
      source-repository-identifier: "repository_id"
      source-repository-owner-uri: "{{ .url }}/{{ .repository_owner }}"
      source-repository-owner-identifier: "repository_owner_id"
      build-config-uri: "{{ .url }}/{{ .workflow_ref }}"
      build-config-digest: "workflow_sha"
      build-trigger: "event_name"
      run-invocation-uri: "{{ .url }}/{{ .repository }}/actions/runs/{{ .run_id }}/attempts/{{ .run_attempt }}"
      source-repository-visibility-at-signing: "repository_visibility"
      deployment-environment: "environment"
    subject-alternative-name-template: "{{ .url }}/{{ .job_workflow_ref }}"
  gitlab-pipeline:
    default-template-values:
      url: "https://gitlab.com"
    extension-templates:
      build-signer-uri: "https://{{ .ci_config_ref_uri }}"
      build-signer-digest: "ci_config_sha"
      runner-environment: "runner_environment"
      source-repository-uri: "{{ .url }}/{{ .project_path }}"
      source-repository-digest: "sha"
      source-repository-ref: refs/{{if eq .ref_type "branch"}}heads/{{ else }}tags/{{end}}{{ .ref }}
      source-repository-identifier: "project_id"
      source-repository-owner-uri: "{{ .url }}/{{ .namespace_path }}"
      source-repository-owner-identifier: "namespace_id"
      build-config-uri: "https://{{ .ci_config_ref_uri }}"
      build-config-digest: "ci_config_sha"
      build-trigger: "pipeline_source"
      run-invocation-uri: "{{ .url }}/{{ .project_path }}/-/jobs/{{ .job_id }}"
      source-repository-visibility-at-signing: "project_visibility"
    subject-alternative-name-template: "https://{{ .ci_config_ref_uri }}"
  codefresh-workflow:
    default-template-values:
      platform_url: "https://g.codefresh.io"
      runner_environment: ""
      scm_repo_url: ""
      scm_ref: ""
    extension-templates:
      build-signer-uri: "{{ .platform_url }}/build/{{ .workflow_id }}"
      runner-environment: "runner_environment"
      source-repository-uri: "scm_repo_url"
      source-repository-ref: "scm_ref"
      build-config-uri: "{{ .platform_url }}/build/{{ .workflow_id }}"
      run-invocation-uri: "{{ .platform_url }}/build/{{ .workflow_id }}"
    subject-alternative-name-template: "{{ .platform_url }}/{{ .account_name }}/{{ .pipeline_name }}:{{ .account_id }}/{{ .pipeline_id }}"
"#;

/// The dedicated (legacy) issuer types, for comparison.
fn dedicated() -> FulcioConfig {
    FulcioConfig::from_json(
        &json!({"OIDCIssuers": {
            "https://token.actions.githubusercontent.com": {"IssuerURL": "https://token.actions.githubusercontent.com", "ClientID": "sigstore", "Type": "github-workflow"},
            "https://gitlab.com": {"IssuerURL": "https://gitlab.com", "ClientID": "sigstore", "Type": "gitlab-pipeline"},
            "https://oidc.codefresh.io": {"IssuerURL": "https://oidc.codefresh.io", "ClientID": "sigstore", "Type": "codefresh-workflow"}
        }})
        .to_string(),
    )
    .unwrap()
}

fn gitlab_claims(ref_type: &str) -> Map<String, Value> {
    object(json!({
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
        "namespace_id": 5,
        "job_id": "99",
        "ref": "main",
        "ref_type": ref_type,
        "sha": "5555555555555555555555555555555555555555",
        "runner_environment": "gitlab-hosted",
        "project_visibility": "private"
    }))
}

fn codefresh_claims() -> Map<String, Value> {
    object(json!({
        "iss": "https://oidc.codefresh.io",
        "sub": "account:628a80b693a15c0f9c13ab75:pipeline:65e5a53e52853dc51a5b0cc1",
        "account_id": "628a80b693a15c0f9c13ab75",
        "account_name": "codefresh-account",
        "pipeline_id": "65e5a53e52853dc51a5b0cc1",
        "pipeline_name": "oidc-test/get-token",
        "workflow_id": "65e6ebe0bfbfa1782876165e",
        "scm_repo_url": "https://github.com/codefresh-user/oidc-test",
        "scm_ref": "main",
        "runner_environment": "hybrid",
        "platform_url": "https://g.codefresh.io"
    }))
}

#[test]
fn yaml_and_json_forms_agree() {
    let y = FulcioConfig::from_yaml(YAML).unwrap();
    assert_eq!(y.oidc_issuers.len(), 7);
    assert_eq!(y.meta_issuers.len(), 1);
    let gh = &y.oidc_issuers["https://token.actions.githubusercontent.com"];
    assert_eq!(gh.issuer_type, IssuerType::CiProvider);
    assert_eq!(gh.ci_provider, "github-workflow");
    assert_eq!(gh.client_id, "sigstore");
    let dex = &y.oidc_issuers["https://oauth2.example.dev/auth"];
    assert_eq!(dex.issuer_claim, "$.federated_claims.connector_id");
    assert!(y.oidc_issuers["http://127.0.0.1:3003"].skip_email_verification);
    let users = &y.oidc_issuers["https://users.example.org"];
    assert_eq!(users.subject_domain, "example.org");
    assert_eq!(users.challenge_claim, "sub");
    assert_eq!(users.description, "Example users");
    assert_eq!(users.contact, "ops@example.org");
    // YAML aliases resolve.
    assert_eq!(
        y.oidc_issuers["https://accounts.example.com"].client_id,
        "sigstore"
    );

    // The same issuers in JSON parse to the same entries.
    let j = FulcioConfig::from_json(
        &json!({
            "OIDCIssuers": {"https://users.example.org": {
                "IssuerURL": "https://users.example.org", "ClientID": "sigstore", "Type": "username",
                "SubjectDomain": "example.org", "ChallengeClaim": "sub",
                "Description": "Example users", "Contact": "ops@example.org"}},
            "MetaIssuers": {"https://oidc.eks.*.amazonaws.com/id/*": {"ClientID": "sigstore", "Type": "kubernetes"}}
        })
        .to_string(),
    )
    .unwrap();
    assert_eq!(j.oidc_issuers["https://users.example.org"], *users);
    assert_eq!(j.meta_issuers, y.meta_issuers);

    // Sniffing and file names.
    assert_eq!(FulcioConfig::parse(YAML).unwrap(), y);
    assert_eq!(FulcioConfig::from_file_contents("ca.yml", YAML).unwrap(), y);
    assert_eq!(
        FulcioConfig::from_file_contents("CA.YAML", YAML).unwrap(),
        y
    );
    assert_eq!(
        FulcioConfig::parse(&j_text()).unwrap().oidc_issuers.len(),
        1
    );
    assert!(matches!(
        FulcioConfig::from_file_contents("ca.json", YAML),
        Err(ConfigError::Parse { .. })
    ));
}

fn j_text() -> String {
    json!({"OIDCIssuers": {"https://a.example.com": {"IssuerURL": "https://a.example.com", "ClientID": "sigstore", "Type": "email"}}}).to_string()
}

#[test]
fn yaml_errors_are_named() {
    for (yaml, want) in [
        ("oidc-issuers: [1, 2]", "not a mapping"),
        ("- a\n- b", "not a mapping"),
        (
            "oidc-issuers:\n  https://a.example.com:\n    client-id: sigstore\n    type: magic\n",
            "magic",
        ),
        ("oidc-issuers: {\n", ""),
    ] {
        let e = FulcioConfig::from_yaml(yaml).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::ParseYaml { .. }
                    | ConfigError::YamlSchema { .. }
                    | ConfigError::YamlShape(_)
            ) && e.to_string().contains(want),
            "{yaml:?}: {e:?}"
        );
    }
    // Validation applies to YAML exactly as to JSON.
    let e = FulcioConfig::from_yaml("oidc-issuers:\n  https://a.example.com:\n    type: email\n")
        .unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::MissingField {
                field: "ClientID",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn plain_http_issuers_only_on_loopback() {
    let entry = |url: &str| {
        format!(
            "oidc-issuers:\n  {url}:\n    issuer-url: {url}\n    client-id: sigstore\n    type: email\n"
        )
    };
    for bad in [
        "http://idp.example.com",
        "http://10.0.0.1:8080",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "ftp://127.0.0.1",
    ] {
        let e = FulcioConfig::from_yaml(&entry(bad));
        assert!(
            matches!(e, Err(ConfigError::BadIssuerUrl { .. })),
            "{bad}: {e:?}"
        );
        let j = format!(
            r#"{{"OIDCIssuers": {{"{bad}": {{"IssuerURL": "{bad}", "ClientID": "sigstore", "Type": "email"}}}}}}"#
        );
        let e = FulcioConfig::from_json(&j);
        assert!(
            matches!(e, Err(ConfigError::BadIssuerUrl { .. })),
            "{bad}: {e:?}"
        );
    }
    for ok in [
        "http://127.0.0.1:3003",
        "http://localhost:8080",
        "http://[::1]:9000",
        "https://idp.example.com",
    ] {
        FulcioConfig::from_yaml(&entry(ok)).unwrap();
    }
    // Meta-issuer patterns too.
    let e = FulcioConfig::from_yaml(
        "meta-issuers:\n  http://*.example.com:\n    client-id: sigstore\n    type: kubernetes\n",
    );
    assert!(matches!(e, Err(ConfigError::BadIssuerUrl { .. })), "{e:?}");
}

#[test]
fn ci_provider_github_matches_dedicated_type() {
    let y = FulcioConfig::from_yaml(YAML).unwrap();
    let c = github_claims();
    let templ = y.identity_for(&c).unwrap();
    let legacy = dedicated().identity_for(&c).unwrap();
    assert_eq!(
        templ.san,
        San::Uri(
            "https://github.com/octo/hello/.github/workflows/release.yml@refs/heads/main".into()
        )
    );
    assert_eq!(templ, legacy, "ci-provider and github-workflow differ");
    // Every arc 1–6 and 8–22 plus 24; no 23 without an `environment` claim.
    let arcs: Vec<u32> = templ.extensions.iter().map(|e| e.arc).collect();
    let mut want: Vec<u32> = (1..=6).chain(8..=22).collect();
    want.push(24);
    assert_eq!(arcs, want);
    assert_eq!(templ.extension(17), Some("7890"), "numbers stringified");
    assert_eq!(templ.name, "repo:octo/hello:ref:refs/heads/main");

    // A deployment environment claim gives 1.23.
    let mut c = github_claims();
    c.insert("environment".into(), json!("production"));
    assert_eq!(
        y.identity_for(&c).unwrap().extension(23),
        Some("production")
    );
    // A claim a template needs is missing: the error names the extension.
    let mut c = github_claims();
    c.remove("run_id");
    let e = y.identity_for(&c).unwrap_err();
    assert!(
        matches!(&e, IdentityError::InvalidClaim { claim, reason }
            if claim.ends_with(".21") && reason.contains("run_id")),
        "{e:?}"
    );
    let mut c = github_claims();
    c.remove("sha");
    let e = y.identity_for(&c).unwrap_err();
    assert!(e.to_string().contains("sha"), "{e}");
}

#[test]
fn ci_provider_gitlab_matches_dedicated_type() {
    let y = FulcioConfig::from_yaml(YAML).unwrap();
    for ref_type in ["branch", "tag"] {
        let c = gitlab_claims(ref_type);
        let templ = y.identity_for(&c).unwrap();
        let legacy = dedicated().identity_for(&c).unwrap();
        assert_eq!(templ, legacy, "{ref_type}");
        assert_eq!(
            templ.san,
            San::Uri("https://gitlab.com/grp/proj//.gitlab-ci.yml@refs/heads/main".into())
        );
        let want = if ref_type == "branch" {
            "refs/heads/main"
        } else {
            "refs/tags/main"
        };
        assert_eq!(templ.extension(14), Some(want));
        assert_eq!(templ.extension(17), Some("5"));
        assert_eq!(templ.extension(2), None, "no legacy GitHub extensions");
    }
}

#[test]
fn codefresh_dedicated_and_template_agree() {
    let y = FulcioConfig::from_yaml(YAML).unwrap();
    let c = codefresh_claims();
    let legacy = dedicated().identity_for(&c).unwrap();
    let templ = y.identity_for(&c).unwrap();
    assert_eq!(
        legacy.san,
        San::Uri("https://g.codefresh.io/codefresh-account/oidc-test/get-token:628a80b693a15c0f9c13ab75/65e5a53e52853dc51a5b0cc1".into())
    );
    assert_eq!(
        legacy.extension(9),
        Some("https://g.codefresh.io/build/65e6ebe0bfbfa1782876165e")
    );
    assert_eq!(
        legacy.extension(12),
        Some("https://github.com/codefresh-user/oidc-test")
    );
    assert_eq!(legacy.extension(14), Some("main"));
    assert_eq!(legacy.extension(11), Some("hybrid"));
    assert_eq!(templ, legacy);

    // Required claims of the dedicated type; platform_url defaults.
    for claim in ["account_id", "pipeline_id", "workflow_id"] {
        let mut c = codefresh_claims();
        c.remove(claim);
        assert_eq!(
            dedicated().identity_for(&c),
            Err(IdentityError::MissingClaim(claim.into()))
        );
    }
    let mut c = codefresh_claims();
    c.remove("platform_url");
    assert_eq!(dedicated().identity_for(&c).unwrap(), legacy);
}

#[test]
fn bad_templates_fail_at_load() {
    let meta = |ext: &str, san: &str| {
        json!({
            "OIDCIssuers": {"https://ci.example.com": {"IssuerURL": "https://ci.example.com", "ClientID": "sigstore", "Type": "ci-provider", "CIProvider": "p"}},
            "CIIssuerMetadata": {"p": {
                "DefaultTemplateValues": {"url": "https://ci.example.com"},
                "ExtensionTemplates": {"BuildSignerURI": ext},
                "SubjectAlternativeNameTemplate": san
            }}
        })
        .to_string()
    };
    // JSON spelling works.
    let cfg =
        FulcioConfig::from_json(&meta("{{ .url }}/{{ .job }}", "{{ .url }}/{{ .job }}")).unwrap();
    let id = cfg
        .identity_for(&object(
            json!({"iss": "https://ci.example.com", "sub": "s", "job": "j1"}),
        ))
        .unwrap();
    assert_eq!(id.san, San::Uri("https://ci.example.com/j1".into()));
    assert_eq!(id.extension(9), Some("https://ci.example.com/j1"));
    for (ext, san) in [
        ("{{ .url ", "{{ .url }}"),
        ("{{ range .x }}{{ end }}", "{{ .url }}"),
        ("{{ .url }}", ""),
        ("{{ .url }}", "{{ if .x }}"),
    ] {
        let e = FulcioConfig::from_json(&meta(ext, san));
        assert!(
            matches!(e, Err(ConfigError::CiMetadata { .. })),
            "{ext} {san}: {e:?}"
        );
    }
    // Unknown extension names are refused.
    let e = FulcioConfig::from_json(
        &json!({
            "OIDCIssuers": {"https://ci.example.com": {"IssuerURL": "https://ci.example.com", "ClientID": "sigstore", "Type": "ci-provider", "CIProvider": "p"}},
            "CIIssuerMetadata": {"p": {"ExtensionTemplates": {"BuildSignerUrl": "x"}, "SubjectAlternativeNameTemplate": "x"}}
        })
        .to_string(),
    );
    assert!(
        matches!(e, Err(ConfigError::CiMetadata { ref reason, .. }) if reason.contains("BuildSignerUrl")),
        "{e:?}"
    );
    // A SAN that is not a URI is refused at issuance.
    let cfg = FulcioConfig::from_json(&meta("job", "job")).unwrap();
    let e = cfg
        .identity_for(&object(
            json!({"iss": "https://ci.example.com", "sub": "s", "job": "not a uri"}),
        ))
        .unwrap_err();
    assert!(
        e.to_string().contains("SubjectAlternativeNameTemplate"),
        "{e}"
    );
}

#[test]
fn ci_provider_certificate_der_encodings() {
    let y = FulcioConfig::from_yaml(YAML).unwrap();
    let id = y.identity_for(&github_claims()).unwrap();
    let h = generate_dev_hierarchy(&DevHierarchyOptions::default()).unwrap();
    let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let spki = kp.public_key().as_der().unwrap().as_ref().to_vec();
    let der = h
        .intermediate
        .issue_leaf(
            &id,
            &spki,
            &LeafOptions::new(None, Duration::from_secs(600)),
        )
        .unwrap();
    let cert = Certificate::from_der(&der).unwrap();
    let arc = |n: u32| format!("1.3.6.1.4.1.57264.1.{n}");
    // 1.1–1.6: raw UTF-8 bytes.
    assert_eq!(
        cert.extension_value(&arc(1)).unwrap(),
        b"https://token.actions.githubusercontent.com"
    );
    assert_eq!(cert.extension_value(&arc(2)).unwrap(), b"push");
    assert_eq!(cert.extension_value(&arc(6)).unwrap(), b"refs/heads/main");
    // 1.8 and up: DER UTF8String.
    let iss = b"https://token.actions.githubusercontent.com";
    let mut want = vec![0x0C, iss.len() as u8];
    want.extend_from_slice(iss);
    assert_eq!(cert.extension_value(&arc(8)).unwrap(), want.as_slice());
    assert_eq!(
        cert.extension_value(&arc(17)).unwrap(),
        [0x0C, 4, b'7', b'8', b'9', b'0']
    );
    let run = cert.extension_value(&arc(21)).unwrap();
    assert_eq!(run[0], 0x0C);
    assert!(run.ends_with(b"https://github.com/octo/hello/actions/runs/42/attempts/1"));
    // vouch-core's profile parser reads the identity back.
    let fid = cert.fulcio_identity().unwrap();
    assert_eq!(
        fid.san.as_deref(),
        Some("https://github.com/octo/hello/.github/workflows/release.yml@refs/heads/main")
    );
    assert_eq!(
        fid.issuer.as_deref(),
        Some("https://token.actions.githubusercontent.com")
    );
}
