//! Adopting what Pulumi manages: reads the document `pulumi stack export`
//! writes (deployment version 3) and turns its custom resources into an
//! import ([`ImportSpec`](crate::engine::ImportSpec)s for
//! [`Engine::import_all`](crate::engine::Engine::import_all)), given the
//! same [`TypeMapping`]s as a Terraform state (each names Pulumi's type
//! beside Terraform's: `dafnck_providers::aws::terraform::TYPES`).
//!
//! Each resource is imported as the program's resource named after it: the
//! name at the end of its URN, with `_` as `-` (`...::aws:ec2/vpc:Vpc::main`
//! as `main`). The stack, components and provider resources are not cloud
//! objects and are left out, as are resources Pulumi only reads
//! (`external`) and those pending deletion; resources of types without a
//! mapping are listed, never dropped silently. A resource created through
//! an explicit provider (not Pulumi's `default_*` one) is imported at the
//! provider instance of that provider's name.
//!
//! ```
//! use dafnck_core::pulumi::PulumiExport;
//! use dafnck_core::terraform::TypeMapping;
//!
//! const TYPES: &[TypeMapping] =
//!     &[TypeMapping::new("aws_vpc", "aws:ec2:Vpc", "id").pulumi("aws:ec2/vpc:Vpc")];
//! let export = PulumiExport::parse(r#"{"version": 3, "deployment": {"resources": [
//!   {"urn": "urn:pulumi:dev::net::pulumi:pulumi:Stack::net-dev", "type": "pulumi:pulumi:Stack"},
//!   {"urn": "urn:pulumi:dev::net::aws:ec2/vpc:Vpc::main", "custom": true,
//!    "type": "aws:ec2/vpc:Vpc", "id": "vpc-1", "outputs": {"cidrBlock": "10.0.0.0/16"}},
//!   {"urn": "urn:pulumi:dev::net::aws:ec2/flowLog:FlowLog::audit", "custom": true,
//!    "type": "aws:ec2/flowLog:FlowLog", "id": "fl-1"}]}}"#, "dev.json").unwrap();
//! let adoption = export.adoption(TYPES);
//! assert_eq!(adoption.imports[0].name, "main");
//! assert_eq!(adoption.imports[0].id, "vpc-1");
//! assert_eq!(adoption.unmapped, vec!["aws:ec2/flowLog:FlowLog::audit".to_string()]);
//! ```

use serde::Deserialize;

use crate::error::Error;
use crate::terraform::{Adoption, TypeMapping};

/// One cloud object a Pulumi stack manages.
#[derive(Clone, Debug, PartialEq)]
pub struct PulumiObject {
    /// Its URN.
    pub urn: String,
    /// Its Pulumi type (`aws:ec2/vpc:Vpc`).
    pub pulumi_type: String,
    /// The resource name it would have in a program (see the module docs).
    pub name: String,
    /// The explicit provider it is managed through, by name, if any.
    pub provider_name: Option<String>,
    /// Its id at the cloud.
    pub id: String,
    /// Its outputs as Pulumi recorded them (camel case names).
    pub outputs: serde_json::Value,
}

/// A Pulumi stack export's cloud objects.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PulumiExport {
    /// Every object the stack manages.
    pub objects: Vec<PulumiObject>,
}

#[derive(Deserialize)]
struct RawExport {
    version: u64,
    #[serde(default)]
    deployment: RawDeployment,
}

#[derive(Deserialize, Default)]
struct RawDeployment {
    #[serde(default)]
    resources: Vec<RawResource>,
}

#[derive(Deserialize)]
struct RawResource {
    urn: String,
    #[serde(rename = "type")]
    pulumi_type: String,
    #[serde(default)]
    custom: bool,
    #[serde(default)]
    external: bool,
    #[serde(default)]
    delete: bool,
    #[serde(default)]
    id: String,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    outputs: serde_json::Value,
}

impl PulumiExport {
    /// Parses what `pulumi stack export` writes (deployment version 3).
    ///
    /// # Errors
    /// [`Error::Usage`] naming `origin` when the text is not a stack export,
    /// or one of another deployment version.
    pub fn parse(text: &str, origin: &str) -> crate::Result<PulumiExport> {
        let raw: RawExport = serde_json::from_str(text)
            .map_err(|e| Error::Usage(format!("{origin} is not a Pulumi stack export: {e}")))?;
        if raw.version != 3 {
            return Err(Error::Usage(format!(
                "{origin} is a Pulumi stack export of deployment version {}; only version 3 \
                 is read",
                raw.version
            )));
        }
        let objects = raw
            .deployment
            .resources
            .into_iter()
            .filter(|r| {
                r.custom && !r.external && !r.delete && !r.pulumi_type.starts_with("pulumi:")
            })
            .map(|r| PulumiObject {
                name: urn_name(&r.urn).replace('_', "-"),
                provider_name: r
                    .provider
                    .as_deref()
                    .and_then(provider_name)
                    .filter(|n| !n.starts_with("default"))
                    .map(str::to_owned),
                urn: r.urn,
                pulumi_type: r.pulumi_type,
                id: r.id,
                outputs: r.outputs,
            })
            .collect();
        Ok(PulumiExport { objects })
    }

    /// The import of every object whose type `types` maps, and the rest
    /// listed (by their type and name, `aws:ec2/flowLog:FlowLog::audit`).
    pub fn adoption(&self, types: &[TypeMapping]) -> Adoption {
        let mut out = Adoption::default();
        for o in &self.objects {
            let address = format!("{}::{}", o.pulumi_type, urn_name(&o.urn));
            let m = types
                .iter()
                .find(|m| m.pulumi == Some(o.pulumi_type.as_str()));
            let mut attributes = match &o.outputs {
                serde_json::Value::Object(map) => map.clone(),
                _ => serde_json::Map::new(),
            };
            attributes.insert("id".into(), o.id.clone().into());
            let key = m.map(|m| camel_case(m.id_attribute));
            out.add(
                &address,
                &o.name,
                o.provider_name.as_deref(),
                m.zip(key.as_deref()),
                &serde_json::Value::Object(attributes),
            );
        }
        out
    }
}

/// The name at the end of a URN
/// (`urn:pulumi:STACK::PROJECT::TYPE::NAME`).
fn urn_name(urn: &str) -> &str {
    urn.splitn(4, "::").nth(3).unwrap_or(urn)
}

/// The name of the provider a reference (`PROVIDER_URN::ID`) points at.
fn provider_name(reference: &str) -> Option<&str> {
    let (urn, _id) = reference.rsplit_once("::")?;
    Some(urn_name(urn))
}

/// `key_pair_id` as Pulumi writes it: `keyPairId`.
fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPES: &[TypeMapping] = &[
        TypeMapping::new("aws_subnet", "aws:ec2:Subnet", "id").pulumi("aws:ec2/subnet:Subnet"),
        TypeMapping::new("aws_key_pair", "aws:ec2:KeyPair", "key_pair_id")
            .pulumi("aws:ec2/keyPair:KeyPair"),
    ];

    #[test]
    fn objects_are_named_after_their_urn_and_only_cloud_objects_are_kept() {
        let text = r#"{"version": 3, "deployment": {"manifest": {}, "resources": [
          {"urn": "urn:pulumi:dev::net::pulumi:pulumi:Stack::net-dev", "custom": false,
           "type": "pulumi:pulumi:Stack"},
          {"urn": "urn:pulumi:dev::net::pulumi:providers:aws::west", "custom": true,
           "id": "0f1e", "type": "pulumi:providers:aws"},
          {"urn": "urn:pulumi:dev::net::my:Network$aws:ec2/subnet:Subnet::public_a",
           "custom": true, "type": "aws:ec2/subnet:Subnet", "id": "subnet-a",
           "provider": "urn:pulumi:dev::net::pulumi:providers:aws::west::0f1e"},
          {"urn": "urn:pulumi:dev::net::aws:ec2/subnet:Subnet::b", "custom": true,
           "type": "aws:ec2/subnet:Subnet", "id": "subnet-b",
           "provider": "urn:pulumi:dev::net::pulumi:providers:aws::default_6_0_0::77aa"},
          {"urn": "urn:pulumi:dev::net::aws:ec2/subnet:Subnet::old", "custom": true,
           "type": "aws:ec2/subnet:Subnet", "id": "subnet-old", "delete": true},
          {"urn": "urn:pulumi:dev::net::aws:ec2/vpc:Vpc::shared", "custom": true,
           "type": "aws:ec2/vpc:Vpc", "id": "vpc-9", "external": true},
          {"urn": "urn:pulumi:dev::net::aws:ec2/keyPair:KeyPair::deploy", "custom": true,
           "type": "aws:ec2/keyPair:KeyPair", "id": "deploy",
           "outputs": {"keyName": "deploy", "keyPairId": "key-0abc"}},
          {"urn": "urn:pulumi:dev::net::aws:ec2/keyPair:KeyPair::gone", "custom": true,
           "type": "aws:ec2/keyPair:KeyPair", "id": "gone", "outputs": {}}]}}"#;
        let export = PulumiExport::parse(text, "dev.json").unwrap();
        assert_eq!(export.objects.len(), 4);
        let a = export.adoption(TYPES);
        let got: Vec<(&str, &str, Option<&str>)> = a
            .imports
            .iter()
            .map(|s| (s.name.as_str(), s.id.as_str(), s.provider.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("public-a", "subnet-a", Some("west")),
                ("b", "subnet-b", None),
                ("deploy", "key-0abc", None)
            ]
        );
        assert!(a.unmapped.is_empty());
        assert_eq!(
            a.without_id,
            vec![(
                "aws:ec2/keyPair:KeyPair::gone".to_string(),
                "key_pair_id".to_string()
            )]
        );
    }

    #[test]
    fn another_version_or_not_an_export_is_refused_naming_the_file() {
        let e = PulumiExport::parse(r#"{"version": 2}"#, "old.json").unwrap_err();
        assert!(e.to_string().contains("old.json") && e.to_string().contains("version 2"));
        let e = PulumiExport::parse("[]", "x.json").unwrap_err();
        assert!(
            e.to_string()
                .contains("x.json is not a Pulumi stack export"),
            "{e}"
        );
    }
}
