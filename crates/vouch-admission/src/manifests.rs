//! `vouch admission manifests`: the objects that deploy the webhook, typed through
//! k8s-openapi (`v1_33`) so they are schema-valid by construction:
//!
//! - a `Deployment` running `vouch admission serve` (TLS from the Secret `<service>-tls`,
//!   policies from the ConfigMap `<service>-policies`) and its `Service` (443 → 8443);
//! - a `ValidatingWebhookConfiguration` (`/validate`) and a `MutatingWebhookConfiguration`
//!   (`/mutate`): `caBundle`, `timeoutSeconds`, `failurePolicy: Fail`, `sideEffects: None`,
//!   a namespace selector (opt-in label `policy.sigstore.dev/include: "true"`, as
//!   policy-controller, minus the excluded namespaces and the webhook's own), and CREATE/UPDATE
//!   rules for every admitted kind plus `pods/ephemeralcontainers`;
//! - the `CustomResourceDefinition`s of policy-controller's `ClusterImagePolicy`
//!   (`v1alpha1`, `v1beta1`) and `TrustRoot` (`v1alpha1`).

use crate::limits::WEBHOOK_TIMEOUT_SECONDS;
use crate::workload::WorkloadKind;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhook, MutatingWebhookConfiguration, RuleWithOperations, ServiceReference,
    ValidatingWebhook, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, HTTPGetAction, PodSpec,
    PodTemplateSpec, Probe, SecretVolumeSource, SecurityContext, Service, ServicePort, ServiceSpec,
    Volume, VolumeMount,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionNames, CustomResourceDefinitionSpec,
    CustomResourceDefinitionVersion, CustomResourceValidation, JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The namespace label that opts a namespace in (policy-controller's).
pub const INCLUDE_LABEL: &str = "policy.sigstore.dev/include";

/// The port the webhook listens on inside its pod.
pub const CONTAINER_PORT: i32 = 8443;

/// The API group of the policy CRDs.
pub const POLICY_GROUP: &str = "policy.sigstore.dev";

/// What to generate.
#[derive(Clone, Debug)]
pub struct ManifestOptions {
    /// Namespace of the Deployment and Service.
    pub namespace: String,
    /// Name of the Service (and Deployment, and webhook configurations).
    pub service: String,
    /// PEM of the CA that issued the serving certificate for `<service>.<namespace>.svc`.
    pub ca_bundle: Vec<u8>,
    /// Container image of vouch.
    pub image: String,
    /// Replicas of the Deployment.
    pub replicas: i32,
    /// Namespaces never sent to the webhook (the webhook's own is always added).
    pub excluded_namespaces: Vec<String>,
    /// Extra arguments of `vouch admission serve` (e.g. `--no-mutate`).
    pub extra_args: Vec<String>,
}

/// Every object, in apply order.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifests {
    /// ClusterImagePolicy and TrustRoot.
    pub crds: Vec<CustomResourceDefinition>,
    /// The webhook server.
    pub deployment: Deployment,
    /// Its Service.
    pub service: Service,
    /// `/validate`.
    pub validating: ValidatingWebhookConfiguration,
    /// `/mutate`.
    pub mutating: MutatingWebhookConfiguration,
}

/// The manifests could not be rendered or read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// YAML serialization failed.
    #[error("cannot render the manifests as YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    /// A document of an unexpected kind.
    #[error("unexpected document #{index} of kind {kind:?}")]
    UnexpectedKind {
        /// 0-based index of the document.
        index: usize,
        /// Its kind.
        kind: String,
    },
}

fn labels(service: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), service.to_string()),
        ("app.kubernetes.io/part-of".to_string(), "vouch".to_string()),
    ])
}

fn meta(name: &str, namespace: Option<&str>, service: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(labels(service)),
        ..ObjectMeta::default()
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

/// CREATE/UPDATE rules for every admitted kind, one per API group.
pub fn rules() -> Vec<RuleWithOperations> {
    let mut by_group: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for k in WorkloadKind::ALL {
        let res = by_group.entry(k.group()).or_default();
        res.push(k.resource().to_string());
        if k == WorkloadKind::Pod {
            res.push("pods/ephemeralcontainers".into());
        }
    }
    by_group
        .into_iter()
        .map(|(group, resources)| RuleWithOperations {
            api_groups: Some(vec![group.to_string()]),
            api_versions: Some(vec!["v1".into()]),
            operations: Some(strings(&["CREATE", "UPDATE"])),
            resources: Some(resources),
            scope: Some("Namespaced".into()),
        })
        .collect()
}

fn namespace_selector(o: &ManifestOptions) -> LabelSelector {
    let mut excluded = o.excluded_namespaces.clone();
    if !excluded.contains(&o.namespace) {
        excluded.push(o.namespace.clone());
    }
    LabelSelector {
        match_labels: Some(BTreeMap::from([(
            INCLUDE_LABEL.to_string(),
            "true".to_string(),
        )])),
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "kubernetes.io/metadata.name".into(),
            operator: "NotIn".into(),
            values: Some(excluded),
        }]),
    }
}

fn client_config(o: &ManifestOptions, path: &str) -> WebhookClientConfig {
    WebhookClientConfig {
        ca_bundle: Some(ByteString(o.ca_bundle.clone())),
        service: Some(ServiceReference {
            name: o.service.clone(),
            namespace: o.namespace.clone(),
            path: Some(path.to_string()),
            port: Some(443),
        }),
        url: None,
    }
}

fn deployment(o: &ManifestOptions) -> Deployment {
    let mut args = strings(&[
        "admission",
        "serve",
        "--policy",
        "/etc/vouch/policies",
        "--tls-cert",
        "/etc/vouch/tls/tls.crt",
        "--tls-key",
        "/etc/vouch/tls/tls.key",
        "--listen",
        "0.0.0.0:8443",
    ]);
    for ns in &o.excluded_namespaces {
        args.push("--exclude-namespace".into());
        args.push(ns.clone());
    }
    args.extend(o.extra_args.iter().cloned());
    let probe = |initial: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/healthz".into()),
            port: IntOrString::Int(CONTAINER_PORT),
            scheme: Some("HTTPS".into()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(initial),
        period_seconds: Some(10),
        ..Probe::default()
    };
    let container = Container {
        name: "webhook".into(),
        image: Some(o.image.clone()),
        command: Some(vec!["vouch".into()]),
        args: Some(args),
        ports: Some(vec![ContainerPort {
            name: Some("https".into()),
            container_port: CONTAINER_PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        env: Some(vec![k8s_openapi::api::core::v1::EnvVar {
            name: "RUST_LOG".into(),
            value: Some("info".into()),
            value_from: None,
        }]),
        readiness_probe: Some(probe(2)),
        liveness_probe: Some(probe(10)),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "tls".into(),
                mount_path: "/etc/vouch/tls".into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "policies".into(),
                mount_path: "/etc/vouch/policies".into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
        ]),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: None,
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    let selector = BTreeMap::from([("app.kubernetes.io/name".to_string(), o.service.clone())]);
    Deployment {
        metadata: meta(&o.service, Some(&o.namespace), &o.service),
        spec: Some(DeploymentSpec {
            replicas: Some(o.replicas),
            selector: LabelSelector {
                match_labels: Some(selector),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(&o.service)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    volumes: Some(vec![
                        Volume {
                            name: "tls".into(),
                            secret: Some(SecretVolumeSource {
                                secret_name: Some(format!("{}-tls", o.service)),
                                ..SecretVolumeSource::default()
                            }),
                            ..Volume::default()
                        },
                        Volume {
                            name: "policies".into(),
                            config_map: Some(ConfigMapVolumeSource {
                                name: format!("{}-policies", o.service),
                                ..ConfigMapVolumeSource::default()
                            }),
                            ..Volume::default()
                        },
                    ]),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

fn service(o: &ManifestOptions) -> Service {
    Service {
        metadata: meta(&o.service, Some(&o.namespace), &o.service),
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([(
                "app.kubernetes.io/name".to_string(),
                o.service.clone(),
            )])),
            ports: Some(vec![ServicePort {
                name: Some("https".into()),
                port: 443,
                target_port: Some(IntOrString::String("https".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn object(description: &str, props: &[(&str, &str, &str)]) -> JSONSchemaProps {
    JSONSchemaProps {
        type_: Some("object".into()),
        description: Some(description.into()),
        properties: Some(
            props
                .iter()
                .map(|(name, ty, desc)| {
                    (
                        (*name).to_string(),
                        JSONSchemaProps {
                            type_: Some((*ty).to_string()),
                            description: Some((*desc).to_string()),
                            x_kubernetes_preserve_unknown_fields: (*ty == "object"
                                || *ty == "array")
                                .then_some(true),
                            items: (*ty == "array").then(|| {
                                k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrArray::Schema(Box::new(JSONSchemaProps {
                                    type_: Some("object".into()),
                                    x_kubernetes_preserve_unknown_fields: Some(true),
                                    ..JSONSchemaProps::default()
                                }))
                            }),
                            ..JSONSchemaProps::default()
                        },
                    )
                })
                .collect(),
        ),
        x_kubernetes_preserve_unknown_fields: Some(true),
        ..JSONSchemaProps::default()
    }
}

fn crd(
    kind: &str,
    plural: &str,
    short: &str,
    versions: &[(&str, bool)],
    spec: JSONSchemaProps,
) -> CustomResourceDefinition {
    let schema = JSONSchemaProps {
        type_: Some("object".into()),
        properties: Some(BTreeMap::from([
            ("spec".to_string(), spec),
            (
                "status".to_string(),
                JSONSchemaProps {
                    type_: Some("object".into()),
                    x_kubernetes_preserve_unknown_fields: Some(true),
                    ..JSONSchemaProps::default()
                },
            ),
        ])),
        ..JSONSchemaProps::default()
    };
    CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(format!("{plural}.{POLICY_GROUP}")),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/part-of".to_string(),
                "vouch".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        spec: CustomResourceDefinitionSpec {
            group: POLICY_GROUP.into(),
            names: CustomResourceDefinitionNames {
                kind: kind.into(),
                plural: plural.into(),
                singular: Some(kind.to_ascii_lowercase()),
                short_names: Some(vec![short.into()]),
                categories: Some(vec!["all".into(), "sigstore".into()]),
                list_kind: Some(format!("{kind}List")),
            },
            scope: "Cluster".into(),
            versions: versions
                .iter()
                .map(|(v, storage)| CustomResourceDefinitionVersion {
                    name: (*v).to_string(),
                    served: true,
                    storage: *storage,
                    schema: Some(CustomResourceValidation {
                        open_api_v3_schema: Some(schema.clone()),
                    }),
                    subresources: Some(
                        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceSubresources {
                            status: Some(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceSubresourceStatus(serde_json::Map::new().into())),
                            scale: None,
                        },
                    ),
                    ..CustomResourceDefinitionVersion::default()
                })
                .collect(),
            ..CustomResourceDefinitionSpec::default()
        },
        status: None,
    }
}

/// The ClusterImagePolicy and TrustRoot CRDs.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let cip = object(
        "ClusterImagePolicy spec (sigstore policy-controller; vouch adds `threshold`)",
        &[
            ("images", "array", "Image globs the policy applies to"),
            (
                "authorities",
                "array",
                "Signature authorities: keyless, key, static, source, ctlog, rfc3161timestamp, attestations",
            ),
            (
                "policy",
                "object",
                "CIP-level policy (Rego) over authorityMatches",
            ),
            ("mode", "string", "enforce (default) or warn"),
            ("match", "array", "Resource and label selectors"),
            (
                "threshold",
                "integer",
                "vouch extension: at least this many distinct authorities must pass",
            ),
        ],
    );
    let trust = object(
        "TrustRoot spec (sigstore policy-controller)",
        &[
            ("sigstoreKeys", "object", "Inline trusted root material"),
            ("remote", "object", "A TUF mirror and root"),
            ("repository", "object", "A serialized TUF repository"),
        ],
    );
    vec![
        crd(
            "ClusterImagePolicy",
            "clusterimagepolicies",
            "cip",
            &[("v1alpha1", false), ("v1beta1", true)],
            cip,
        ),
        crd(
            "TrustRoot",
            "trustroots",
            "tr",
            &[("v1alpha1", true)],
            trust,
        ),
    ]
}

/// Every object for `o`.
pub fn manifests(o: &ManifestOptions) -> Manifests {
    let name = |what: &str| format!("{what}.{}.{}.vouch.dev", o.service, o.namespace);
    let validating = ValidatingWebhookConfiguration {
        metadata: meta(&o.service, None, &o.service),
        webhooks: Some(vec![ValidatingWebhook {
            name: name("validate"),
            admission_review_versions: vec!["v1".into()],
            client_config: client_config(o, "/validate"),
            failure_policy: Some("Fail".into()),
            match_policy: Some("Equivalent".into()),
            namespace_selector: Some(namespace_selector(o)),
            rules: Some(rules()),
            side_effects: "None".into(),
            timeout_seconds: Some(WEBHOOK_TIMEOUT_SECONDS),
            ..ValidatingWebhook::default()
        }]),
    };
    let mutating = MutatingWebhookConfiguration {
        metadata: meta(&o.service, None, &o.service),
        webhooks: Some(vec![MutatingWebhook {
            name: name("mutate"),
            admission_review_versions: vec!["v1".into()],
            client_config: client_config(o, "/mutate"),
            failure_policy: Some("Fail".into()),
            match_policy: Some("Equivalent".into()),
            namespace_selector: Some(namespace_selector(o)),
            rules: Some(rules()),
            side_effects: "None".into(),
            timeout_seconds: Some(WEBHOOK_TIMEOUT_SECONDS),
            reinvocation_policy: Some("IfNeeded".into()),
            ..MutatingWebhook::default()
        }]),
    };
    Manifests {
        crds: crds(),
        deployment: deployment(o),
        service: service(o),
        validating,
        mutating,
    }
}

impl Manifests {
    /// Multi-document YAML, in apply order.
    pub fn to_yaml(&self) -> Result<String, ManifestError> {
        let mut docs = Vec::new();
        for c in &self.crds {
            docs.push(serde_yaml_ng::to_string(c)?);
        }
        docs.push(serde_yaml_ng::to_string(&self.deployment)?);
        docs.push(serde_yaml_ng::to_string(&self.service)?);
        docs.push(serde_yaml_ng::to_string(&self.validating)?);
        docs.push(serde_yaml_ng::to_string(&self.mutating)?);
        Ok(docs
            .into_iter()
            .map(|d| format!("---\n{d}"))
            .collect::<String>())
    }

    /// Read back what [`Manifests::to_yaml`] wrote (each document into its k8s-openapi type).
    pub fn from_yaml(yaml: &str) -> Result<Self, ManifestError> {
        #[derive(Deserialize, Serialize)]
        struct Head {
            kind: String,
        }
        let mut crds = Vec::new();
        let (mut deployment, mut service, mut validating, mut mutating) = (None, None, None, None);
        for (index, doc) in serde_yaml_ng::Deserializer::from_str(yaml).enumerate() {
            let value = serde_yaml_ng::Value::deserialize(doc)?;
            let head: Head = serde_yaml_ng::from_value(value.clone())?;
            match head.kind.as_str() {
                "CustomResourceDefinition" => crds.push(serde_yaml_ng::from_value(value)?),
                "Deployment" => deployment = Some(serde_yaml_ng::from_value(value)?),
                "Service" => service = Some(serde_yaml_ng::from_value(value)?),
                "ValidatingWebhookConfiguration" => {
                    validating = Some(serde_yaml_ng::from_value(value)?);
                }
                "MutatingWebhookConfiguration" => {
                    mutating = Some(serde_yaml_ng::from_value(value)?);
                }
                other => {
                    return Err(ManifestError::UnexpectedKind {
                        index,
                        kind: other.to_string(),
                    });
                }
            }
        }
        let missing = |kind: &str| ManifestError::UnexpectedKind {
            index: usize::MAX,
            kind: format!("missing {kind}"),
        };
        Ok(Manifests {
            crds,
            deployment: deployment.ok_or_else(|| missing("Deployment"))?,
            service: service.ok_or_else(|| missing("Service"))?,
            validating: validating.ok_or_else(|| missing("ValidatingWebhookConfiguration"))?,
            mutating: mutating.ok_or_else(|| missing("MutatingWebhookConfiguration"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ManifestOptions {
        ManifestOptions {
            namespace: "vouch-system".into(),
            service: "vouch-admission".into(),
            ca_bundle: b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".to_vec(),
            image: "registry.local:5000/vouch:0.1.0".into(),
            replicas: 2,
            excluded_namespaces: vec!["kube-system".into()],
            extra_args: vec![],
        }
    }

    #[test]
    fn round_trip_through_k8s_openapi() {
        let m = manifests(&opts());
        let yaml = m.to_yaml().unwrap_or_default();
        let back = Manifests::from_yaml(&yaml);
        assert!(back.as_ref().is_ok_and(|b| b == &m), "{back:?}");
        assert_eq!(yaml.matches("\n---\n").count() + 1, 6);
    }

    #[test]
    fn webhook_settings() {
        let m = manifests(&opts());
        let w = &m.validating.webhooks.as_deref().unwrap_or_default()[0];
        assert_eq!(w.failure_policy.as_deref(), Some("Fail"));
        assert_eq!(w.timeout_seconds, Some(10));
        assert_eq!(
            w.client_config.ca_bundle.as_ref().map(|b| b.0.clone()),
            Some(opts().ca_bundle)
        );
        let sel = w.namespace_selector.clone().unwrap_or_default();
        assert_eq!(
            sel.match_labels
                .unwrap_or_default()
                .get(INCLUDE_LABEL)
                .map(String::as_str),
            Some("true")
        );
        let excluded = sel.match_expressions.unwrap_or_default()[0]
            .values
            .clone()
            .unwrap_or_default();
        assert!(excluded.contains(&"vouch-system".to_string()));
        let resources: Vec<String> = w
            .rules
            .clone()
            .unwrap_or_default()
            .into_iter()
            .flat_map(|r| r.resources.unwrap_or_default())
            .collect();
        for k in WorkloadKind::ALL {
            assert!(resources.contains(&k.resource().to_string()), "{k:?}");
        }
        assert!(resources.contains(&"pods/ephemeralcontainers".to_string()));
    }
}
