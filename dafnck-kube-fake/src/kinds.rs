//! The kinds this server serves, with what discovery, routing and the
//! merge rules need to know about each (its group, version, plural
//! resource name, scope, subresources and the keys of its associative
//! lists).

/// One served kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// Plural resource name, as in URLs (`deployments`).
    pub resource: &'static str,
    /// Singular resource name (`deployment`).
    pub singular: &'static str,
    /// Kind (`Deployment`).
    pub kind: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// kubectl's short names (`deploy`).
    pub short_names: &'static [&'static str],
    /// Whether the kind has a `/status` subresource (its main resource then
    /// ignores changes to `status`).
    pub status: bool,
    /// Whether `metadata.generation` counts changes to the object's spec.
    pub generation: bool,
}

impl Kind {
    /// `apiVersion` of objects of this kind (`apps/v1`, `v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The qualified resource name used in error messages
    /// (`deployments.apps`, `configmaps`).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

/// Every served kind.
pub const KINDS: &[Kind] = &[
    Kind {
        group: "",
        version: "v1",
        resource: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        status: true,
        generation: false,
    },
    Kind {
        group: "",
        version: "v1",
        resource: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        namespaced: true,
        short_names: &["cm"],
        status: false,
        generation: false,
    },
    Kind {
        group: "",
        version: "v1",
        resource: "secrets",
        singular: "secret",
        kind: "Secret",
        namespaced: true,
        short_names: &[],
        status: false,
        generation: false,
    },
    Kind {
        group: "",
        version: "v1",
        resource: "services",
        singular: "service",
        kind: "Service",
        namespaced: true,
        short_names: &["svc"],
        status: true,
        generation: false,
    },
    Kind {
        group: "apps",
        version: "v1",
        resource: "deployments",
        singular: "deployment",
        kind: "Deployment",
        namespaced: true,
        short_names: &["deploy"],
        status: true,
        generation: true,
    },
    Kind {
        group: "networking.k8s.io",
        version: "v1",
        resource: "ingresses",
        singular: "ingress",
        kind: "Ingress",
        namespaced: true,
        short_names: &["ing"],
        status: true,
        generation: true,
    },
    Kind {
        group: "autoscaling",
        version: "v2",
        resource: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        kind: "HorizontalPodAutoscaler",
        namespaced: true,
        short_names: &["hpa"],
        status: true,
        generation: true,
    },
];

/// The kind served at `group`/`version` under `resource`.
pub fn find(group: &str, version: &str, resource: &str) -> Option<&'static Kind> {
    KINDS
        .iter()
        .find(|k| k.group == group && k.version == version && k.resource == resource)
}

/// The kind named `kind` in `apiVersion` `api_version`.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static Kind> {
    KINDS
        .iter()
        .find(|k| k.kind == kind && k.api_version() == api_version)
}

/// The served group versions, in discovery order: `("", "v1")` first.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for k in KINDS {
        if !out.contains(&(k.group, k.version)) {
            out.push((k.group, k.version));
        }
    }
    out
}

/// The keys of the associative list named `field` whose parent is the field
/// `parent` (both without the `f:` prefix), as the Kubernetes OpenAPI schema
/// declares them (`x-kubernetes-list-map-keys`, and for strategic merge
/// patches `x-kubernetes-patch-merge-key`, which is the first key here).
/// `None`: the list is atomic (replaced as a whole).
pub fn list_keys(parent: &str, field: &str) -> Option<&'static [&'static str]> {
    Some(match (parent, field) {
        (_, "containers" | "initContainers" | "ephemeralContainers") => &["name"],
        (_, "env") => &["name"],
        (_, "volumes") => &["name"],
        (_, "imagePullSecrets") => &["name"],
        (_, "volumeMounts") => &["mountPath"],
        (_, "volumeDevices") => &["devicePath"],
        (_, "conditions") => &["type"],
        (_, "ownerReferences") => &["uid"],
        (_, "hostAliases") => &["ip"],
        // Containers' ports are keyed by port and protocol; a Service's by
        // port and protocol too (the strategic merge key is the port).
        (p, "ports") if p.starts_with("k:") || p == "containers" => &["containerPort", "protocol"],
        ("spec", "ports") => &["port", "protocol"],
        _ => return None,
    })
}

/// The default of a list-map key field that objects may leave out
/// (`protocol` defaults to `TCP`).
pub fn key_default(key: &str) -> Option<serde_json::Value> {
    (key == "protocol").then(|| serde_json::Value::String("TCP".into()))
}
