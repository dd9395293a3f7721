//! The resource types served, their api-versions and how ARM treats them.

use crate::error::ArmError;

/// How a type's writes complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Synchronous: PUT answers 200/201 `Succeeded` at once (resource
    /// groups, autoscale settings).
    Sync,
    /// Long-running: PUT answers 200/201 with a provisioning state in
    /// progress and `Azure-AsyncOperation`; DELETE answers 202.
    Async,
}

/// One resource type.
#[derive(Debug)]
pub struct TypeDef {
    /// Provider namespace as ARM spells it (`Microsoft.Network`).
    pub namespace: &'static str,
    /// Type path below the namespace (`virtualNetworks/subnets`).
    pub path: &'static str,
    /// The api-versions accepted; the first is what the azure_mgmt_* 0.21
    /// crates send (see `/work/helpers/arm-api-versions.md` history and
    /// docs/azure.md).
    pub versions: &'static [&'static str],
    /// Whether it has `location` and `tags` (tracked) or lives in its
    /// parent (a child such as a subnet).
    pub tracked: bool,
    /// For a child stored on its own but shown inline in its parent: the
    /// parent's `properties` field holding it (`subnets`).
    pub inline_field: Option<&'static str>,
    /// How writes complete.
    pub completion: Completion,
    /// Properties the server computes: dropped from request bodies.
    pub read_only: &'static [&'static str],
    /// The error code when it is deleted while another resource uses it.
    pub in_use_code: &'static str,
}

impl TypeDef {
    /// `Microsoft.Network/virtualNetworks/subnets`.
    pub fn full_type(&self) -> String {
        format!("{}/{}", self.namespace, self.path)
    }

    /// The last segment of the path (`subnets`).
    pub fn leaf(&self) -> &'static str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }

    /// Checks `api_version` (the query's `api-version`, if any) against
    /// the versions this type accepts, with ARM's error codes.
    ///
    /// # Errors
    /// 400 `MissingApiVersionParameter`, `InvalidApiVersionParameter` (not
    /// a date) or `NoRegisteredProviderFound` (a version ARM does not know
    /// for the type).
    pub fn check_version(&self, api_version: Option<&str>, location: &str) -> Result<(), ArmError> {
        let v = check_version_syntax(api_version)?;
        if self.versions.contains(&v) {
            return Ok(());
        }
        Err(ArmError::new(
            400,
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for location '{location}' and API version '{v}' for type '{}'. The supported api-versions are '{}'.",
                self.path,
                self.versions.join(", ")
            ),
        ))
    }
}

/// The api-version of a request, which must be there and look like one
/// (`2024-03-01`, `2021-05-01-preview`).
///
/// # Errors
/// 400 `MissingApiVersionParameter` or `InvalidApiVersionParameter`.
pub fn check_version_syntax(api_version: Option<&str>) -> Result<&str, ArmError> {
    let Some(v) = api_version.filter(|v| !v.is_empty()) else {
        return Err(ArmError::new(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    let date = v.get(..10).unwrap_or("");
    let ok = date.len() == 10
        && date.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        })
        && (v.len() == 10 || v[10..].starts_with('-'));
    if !ok {
        return Err(ArmError::new(
            400,
            "InvalidApiVersionParameter",
            format!("The api-version '{v}' is invalid. The supported versions are '2024-07-01,2024-03-01,2022-10-01,2021-04-01'."),
        ));
    }
    Ok(v)
}

const RESOURCES: &[&str] = &["2021-04-01", "2022-09-01", "2023-07-01", "2024-03-01"];
const NETWORK: &[&str] = &["2024-03-01", "2023-11-01", "2024-01-01", "2024-05-01"];
const COMPUTE: &[&str] = &["2024-07-01", "2024-03-01", "2024-11-01"];
const INSIGHTS: &[&str] = &["2022-10-01", "2015-04-01", "2021-05-01-preview"];

const fn tracked(
    namespace: &'static str,
    path: &'static str,
    versions: &'static [&'static str],
    completion: Completion,
    read_only: &'static [&'static str],
    in_use_code: &'static str,
) -> TypeDef {
    TypeDef {
        namespace,
        path,
        versions,
        tracked: true,
        inline_field: None,
        completion,
        read_only,
        in_use_code,
    }
}

/// Resource groups (`Microsoft.Resources/resourceGroups`).
pub static RESOURCE_GROUP: TypeDef = tracked(
    "Microsoft.Resources",
    "resourceGroups",
    RESOURCES,
    Completion::Sync,
    &[],
    "Conflict",
);

/// Every type below a resource group.
pub static TYPES: &[TypeDef] = &[
    tracked(
        "Microsoft.Network",
        "virtualNetworks",
        NETWORK,
        Completion::Async,
        &["resourceGuid"],
        "InUseVirtualNetworkCannotBeDeleted",
    ),
    TypeDef {
        namespace: "Microsoft.Network",
        path: "virtualNetworks/subnets",
        versions: NETWORK,
        tracked: false,
        inline_field: Some("subnets"),
        completion: Completion::Async,
        read_only: &["ipConfigurations"],
        in_use_code: "InUseSubnetCannotBeDeleted",
    },
    tracked(
        "Microsoft.Network",
        "networkSecurityGroups",
        NETWORK,
        Completion::Async,
        &[
            "resourceGuid",
            "defaultSecurityRules",
            "networkInterfaces",
            "subnets",
        ],
        "InUseNetworkSecurityGroupCannotBeDeleted",
    ),
    TypeDef {
        namespace: "Microsoft.Network",
        path: "networkSecurityGroups/securityRules",
        versions: NETWORK,
        tracked: false,
        inline_field: Some("securityRules"),
        completion: Completion::Async,
        read_only: &[],
        in_use_code: "Conflict",
    },
    tracked(
        "Microsoft.Network",
        "publicIPAddresses",
        NETWORK,
        Completion::Async,
        &["resourceGuid", "ipConfiguration", "ipAddress"],
        "PublicIPAddressCannotBeDeleted",
    ),
    tracked(
        "Microsoft.Network",
        "networkInterfaces",
        NETWORK,
        Completion::Async,
        &["resourceGuid", "virtualMachine", "macAddress", "primary"],
        "NicInUse",
    ),
    tracked(
        "Microsoft.Network",
        "loadBalancers",
        NETWORK,
        Completion::Async,
        &["resourceGuid"],
        "InUseLoadBalancerCannotBeDeleted",
    ),
    tracked(
        "Microsoft.Compute",
        "virtualMachines",
        COMPUTE,
        Completion::Async,
        &["vmId", "timeCreated", "instanceView"],
        "Conflict",
    ),
    tracked(
        "Microsoft.Compute",
        "virtualMachineScaleSets",
        COMPUTE,
        Completion::Async,
        &["uniqueId", "timeCreated"],
        "Conflict",
    ),
    tracked(
        "Microsoft.Insights",
        "autoscaleSettings",
        INSIGHTS,
        Completion::Sync,
        &[],
        "Conflict",
    ),
];

/// The type `namespace`/`path` (case-insensitive, as ARM).
pub fn find(namespace: &str, path: &str) -> Option<&'static TypeDef> {
    TYPES
        .iter()
        .find(|t| t.namespace.eq_ignore_ascii_case(namespace) && t.path.eq_ignore_ascii_case(path))
}

/// The types in `namespace` (for error messages and operation URLs).
pub fn namespace_known(namespace: &str) -> Option<&'static str> {
    TYPES
        .iter()
        .chain(std::iter::once(&RESOURCE_GROUP))
        .find(|t| t.namespace.eq_ignore_ascii_case(namespace))
        .map(|t| t.namespace)
}

/// The child type of `parent` whose inline field is `field` (`subnets` in
/// a virtual network).
pub fn inline_child(parent: &TypeDef) -> Option<&'static TypeDef> {
    TYPES.iter().find(|t| {
        t.inline_field.is_some()
            && t.namespace == parent.namespace
            && t.path.rsplit_once('/').map(|(p, _)| p) == Some(parent.path)
    })
}
