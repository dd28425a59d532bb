//! The workload kinds the webhook admits and where their images are.
//!
//! Every kind carries one pod spec at a fixed depth (Pod: `spec`; Deployment, ReplicaSet,
//! StatefulSet, DaemonSet, Job, ReplicationController: `spec.template.spec`; CronJob:
//! `spec.jobTemplate.spec.template.spec`). In it the image fields are
//! `containers[].image`, `initContainers[].image`, `ephemeralContainers[].image` and
//! `volumes[].image.reference` (image volumes). The pod spec is read through k8s-openapi's
//! `PodSpec`, so every field is the API's own.

use json_patch::jsonptr::PointerBuf;
use k8s_openapi::api::core::v1::PodSpec;
use serde::Deserialize;
use serde_json::Value;

/// A kind the webhook admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    /// `v1/Pod` (and its `ephemeralcontainers` subresource).
    Pod,
    /// `apps/v1/Deployment`.
    Deployment,
    /// `apps/v1/ReplicaSet`.
    ReplicaSet,
    /// `apps/v1/StatefulSet`.
    StatefulSet,
    /// `apps/v1/DaemonSet`.
    DaemonSet,
    /// `batch/v1/Job`.
    Job,
    /// `batch/v1/CronJob`.
    CronJob,
    /// `v1/ReplicationController`.
    ReplicationController,
}

impl WorkloadKind {
    /// Every admitted kind.
    pub const ALL: [WorkloadKind; 8] = [
        WorkloadKind::Pod,
        WorkloadKind::Deployment,
        WorkloadKind::ReplicaSet,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::Job,
        WorkloadKind::CronJob,
        WorkloadKind::ReplicationController,
    ];

    /// The kind for an API group and kind name (`""`/`Pod`, `apps`/`Deployment`, …).
    pub fn from_group_kind(group: &str, kind: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.group() == group && k.kind() == kind)
    }

    /// The API group (`""` for the core group).
    pub fn group(self) -> &'static str {
        match self {
            WorkloadKind::Pod | WorkloadKind::ReplicationController => "",
            WorkloadKind::Deployment
            | WorkloadKind::ReplicaSet
            | WorkloadKind::StatefulSet
            | WorkloadKind::DaemonSet => "apps",
            WorkloadKind::Job | WorkloadKind::CronJob => "batch",
        }
    }

    /// The kind name.
    pub fn kind(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "Pod",
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
            WorkloadKind::ReplicationController => "ReplicationController",
        }
    }

    /// The resource (plural) name in webhook rules.
    pub fn resource(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "pods",
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::ReplicaSet => "replicasets",
            WorkloadKind::StatefulSet => "statefulsets",
            WorkloadKind::DaemonSet => "daemonsets",
            WorkloadKind::Job => "jobs",
            WorkloadKind::CronJob => "cronjobs",
            WorkloadKind::ReplicationController => "replicationcontrollers",
        }
    }

    /// The path of the pod template (the part a scale does not change); `None` for a Pod.
    pub fn template_path(self) -> Option<&'static str> {
        match self {
            WorkloadKind::Pod => None,
            WorkloadKind::CronJob => Some("/spec/jobTemplate/spec/template"),
            _ => Some("/spec/template"),
        }
    }

    /// The path of the pod spec inside the object.
    pub fn pod_spec_path(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "/spec",
            WorkloadKind::CronJob => "/spec/jobTemplate/spec/template/spec",
            _ => "/spec/template/spec",
        }
    }
}

/// Which pod-spec field an image comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageField {
    /// `containers[].image`.
    Container,
    /// `initContainers[].image`.
    InitContainer,
    /// `ephemeralContainers[].image`.
    EphemeralContainer,
    /// `volumes[].image.reference`.
    Volume,
}

impl ImageField {
    /// The field's name in the pod spec.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageField::Container => "containers",
            ImageField::InitContainer => "initContainers",
            ImageField::EphemeralContainer => "ephemeralContainers",
            ImageField::Volume => "volumes",
        }
    }
}

/// One image in an object, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSite {
    /// The field it comes from.
    pub field: ImageField,
    /// The container's or volume's name.
    pub name: String,
    /// The reference as written.
    pub image: String,
    /// JSON pointer to the string, for a patch.
    pub pointer: PointerBuf,
}

impl ImageSite {
    /// `containers[app]`, `volumes[models]`, … for messages.
    pub fn label(&self) -> String {
        format!("{}[{}]", self.field.as_str(), self.name)
    }
}

/// The pod spec at `kind`'s depth could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{kind} object: the pod spec at {path} is not a valid PodSpec: {source}")]
pub struct PodSpecError {
    /// The object's kind.
    pub kind: &'static str,
    /// The JSON pointer of the pod spec.
    pub path: &'static str,
    /// The decoder's error (with the field path serde reports).
    #[source]
    pub source: serde_json::Error,
}

/// Every image in `object` (the object's fields other than metadata), in field order.
/// An object without a pod spec at its depth (e.g. a ReplicationController without template)
/// has no images.
pub fn image_sites(kind: WorkloadKind, object: &Value) -> Result<Vec<ImageSite>, PodSpecError> {
    let path = kind.pod_spec_path();
    let Some(spec) = object.pointer(path) else {
        return Ok(Vec::new());
    };
    let spec = PodSpec::deserialize(spec).map_err(|source| PodSpecError {
        kind: kind.kind(),
        path,
        source,
    })?;
    let base: Vec<&str> = path.split('/').skip(1).collect();
    let at = |field: ImageField, i: usize, leaf: &[&str]| {
        let idx = i.to_string();
        let mut tokens: Vec<&str> = base.clone();
        tokens.push(field.as_str());
        tokens.push(&idx);
        tokens.extend_from_slice(leaf);
        PointerBuf::from_tokens(tokens)
    };
    let mut out = Vec::new();
    let mut push = |field, i, name: String, image: Option<String>, leaf: &[&str]| {
        if let Some(image) = image.filter(|s| !s.is_empty()) {
            out.push(ImageSite {
                field,
                name,
                image,
                pointer: at(field, i, leaf),
            });
        }
    };
    for (i, c) in spec
        .init_containers
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        push(ImageField::InitContainer, i, c.name, c.image, &["image"]);
    }
    for (i, c) in spec.containers.into_iter().enumerate() {
        push(ImageField::Container, i, c.name, c.image, &["image"]);
    }
    for (i, c) in spec
        .ephemeral_containers
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        push(
            ImageField::EphemeralContainer,
            i,
            c.name,
            c.image,
            &["image"],
        );
    }
    for (i, v) in spec.volumes.unwrap_or_default().into_iter().enumerate() {
        push(
            ImageField::Volume,
            i,
            v.name,
            v.image.and_then(|s| s.reference),
            &["image", "reference"],
        );
    }
    Ok(out)
}

/// Whether an UPDATE only scales down: fewer replicas and the same pod template. (A scale-up
/// creates pods from an already admitted template too, but pods are admitted themselves.)
pub fn is_scale_down(kind: WorkloadKind, new: &Value, old: &Value) -> bool {
    let Some(tpl) = kind.template_path() else {
        return false;
    };
    let replicas = |v: &Value| v.pointer("/spec/replicas").and_then(Value::as_i64);
    let fewer = match (replicas(new), replicas(old)) {
        (Some(n), Some(o)) => n < o,
        // A Job's parallelism plays the role of replicas.
        _ => match (
            new.pointer("/spec/parallelism").and_then(Value::as_i64),
            old.pointer("/spec/parallelism").and_then(Value::as_i64),
        ) {
            (Some(n), Some(o)) => n < o,
            _ => false,
        },
    };
    fewer && new.pointer(tpl) == old.pointer(tpl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_spec() -> Value {
        serde_json::from_str(
            r#"{"initContainers":[{"name":"init","image":"r/init:1"}],
                "containers":[{"name":"app","image":"r/app:v1"},{"name":"side","image":"r/side@sha256:aa"}],
                "ephemeralContainers":[{"name":"dbg","image":"r/dbg:2"}],
                "volumes":[{"name":"cfg","configMap":{"name":"x"}},{"name":"models","image":{"reference":"r/models:3"}}]}"#,
        )
        .unwrap_or_default()
    }

    fn nest(path: &str, leaf: Value) -> Value {
        let mut v = leaf;
        for tok in path
            .split('/')
            .skip(1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            let mut m = serde_json::Map::new();
            m.insert(tok.to_string(), v);
            v = Value::Object(m);
        }
        v
    }

    #[test]
    fn every_kind_every_field() {
        for kind in WorkloadKind::ALL {
            let obj = nest(kind.pod_spec_path(), pod_spec());
            let sites = image_sites(kind, &obj).unwrap_or_default();
            let got: Vec<(ImageField, &str)> =
                sites.iter().map(|s| (s.field, s.image.as_str())).collect();
            assert_eq!(
                got,
                vec![
                    (ImageField::InitContainer, "r/init:1"),
                    (ImageField::Container, "r/app:v1"),
                    (ImageField::Container, "r/side@sha256:aa"),
                    (ImageField::EphemeralContainer, "r/dbg:2"),
                    (ImageField::Volume, "r/models:3"),
                ],
                "{kind:?}"
            );
            for s in &sites {
                assert_eq!(
                    obj.pointer(s.pointer.as_str()).and_then(Value::as_str),
                    Some(s.image.as_str()),
                    "{kind:?} {}",
                    s.pointer
                );
            }
            assert_eq!(
                WorkloadKind::from_group_kind(kind.group(), kind.kind()),
                Some(kind)
            );
        }
    }

    #[test]
    fn bad_pod_spec_is_an_error() {
        let obj = nest("/spec", serde_json::json!({"containers": "nope"}));
        let e = image_sites(WorkloadKind::Pod, &obj).err();
        assert!(e.is_some_and(|e| e.to_string().contains("/spec")));
    }

    #[test]
    fn scale_down() {
        let tpl = serde_json::json!({"spec": {"containers": [{"name": "a", "image": "x"}]}});
        let obj = |n: i64, image: &str| serde_json::json!({"spec": {"replicas": n, "template": {"spec": {"containers": [{"name": "a", "image": image}]}}}});
        let _ = tpl;
        assert!(is_scale_down(
            WorkloadKind::Deployment,
            &obj(1, "x"),
            &obj(3, "x")
        ));
        assert!(!is_scale_down(
            WorkloadKind::Deployment,
            &obj(3, "x"),
            &obj(1, "x")
        ));
        assert!(!is_scale_down(
            WorkloadKind::Deployment,
            &obj(1, "y"),
            &obj(3, "x")
        ));
        assert!(!is_scale_down(
            WorkloadKind::Pod,
            &obj(1, "x"),
            &obj(3, "x")
        ));
    }
}
