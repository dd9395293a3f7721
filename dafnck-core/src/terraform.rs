//! Adopting what Terraform manages: reads a Terraform state (format
//! version 4, as `terraform.tfstate` or `terraform state pull` writes it)
//! and turns its managed objects into an import
//! ([`ImportSpec`]s for [`Engine::import_all`](crate::engine::Engine::import_all)),
//! given how Terraform's resource types map to ours ([`TypeMapping`], which
//! each provider publishes: `dafnck_providers::aws::terraform::TYPES`).
//!
//! The program declares the resources; each Terraform object is imported
//! as the program's resource named after it: `aws_vpc.main` as `main`,
//! `aws_subnet.public[0]` as `public-0`, `aws_subnet.az["a"]` as `az-a`.
//! Objects of types without a mapping are listed, never dropped silently.
//!
//! ```
//! use dafnck_core::terraform::{TerraformState, TypeMapping};
//!
//! const TYPES: &[TypeMapping] = &[TypeMapping::new("aws_vpc", "aws:ec2:Vpc", "id")];
//! let state = TerraformState::parse(r#"{"version": 4, "resources": [
//!   {"mode": "managed", "type": "aws_vpc", "name": "main",
//!    "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
//!    "instances": [{"attributes": {"id": "vpc-1"}}]},
//!   {"mode": "managed", "type": "aws_flow_log", "name": "audit",
//!    "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
//!    "instances": [{"attributes": {"id": "fl-1"}}]}]}"#, "terraform.tfstate").unwrap();
//! let adoption = state.adoption(TYPES);
//! assert_eq!(adoption.imports[0].name, "main");
//! assert_eq!(adoption.imports[0].id, "vpc-1");
//! assert_eq!(adoption.unmapped, vec!["aws_flow_log.audit".to_string()]);
//! ```

use async_trait::async_trait;
use serde::Deserialize;

use crate::engine::ImportSpec;
use crate::error::Error;

/// How one Terraform resource type, and the Pulumi type bridged from it,
/// map to one of ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeMapping {
    /// Terraform's type (`aws_vpc`).
    pub terraform: &'static str,
    /// Ours (`aws:ec2:Vpc`).
    pub type_name: &'static str,
    /// The attribute of Terraform's object that holds the id our provider
    /// reads the object by (`id`, or `arn`, `key_pair_id`, ...). In a
    /// Pulumi export it is the resource's `id` for `id`, else the output
    /// of the same name in camel case (`keyPairId`).
    pub id_attribute: &'static str,
    /// Pulumi's type (`aws:ec2/vpc:Vpc`), when Pulumi has one; see
    /// [`crate::pulumi`].
    pub pulumi: Option<&'static str>,
}

impl TypeMapping {
    /// A mapping of a Terraform type.
    pub const fn new(
        terraform: &'static str,
        type_name: &'static str,
        id_attribute: &'static str,
    ) -> Self {
        TypeMapping {
            terraform,
            type_name,
            id_attribute,
            pulumi: None,
        }
    }

    /// The same mapping, for Pulumi's type `pulumi` too.
    pub const fn pulumi(mut self, pulumi: &'static str) -> Self {
        self.pulumi = Some(pulumi);
        self
    }
}

/// One object Terraform manages.
#[derive(Clone, Debug, PartialEq)]
pub struct TerraformObject {
    /// Its address (`aws_subnet.public[0]`, `module.net.aws_vpc.main`).
    pub address: String,
    /// Its Terraform type.
    pub terraform_type: String,
    /// The resource name it would have in a program (see the module docs).
    pub name: String,
    /// The provider alias it is managed through, if not the default.
    pub provider_alias: Option<String>,
    /// Its attributes as Terraform recorded them.
    pub attributes: serde_json::Value,
}

/// A Terraform state's managed objects.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TerraformState {
    /// Every managed object (data sources are not objects Terraform owns
    /// and are left out).
    pub objects: Vec<TerraformObject>,
}

/// What a Terraform state (or a Pulumi export) becomes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Adoption {
    /// One import per object of a mapped type.
    pub imports: Vec<ImportSpec>,
    /// Our type of each import, in the same order (`aws:ec2:Vpc`).
    pub types: Vec<&'static str>,
    /// The addresses of objects whose type has no mapping.
    pub unmapped: Vec<String>,
    /// Addresses of objects of a mapped type that lack the id attribute,
    /// with the attribute.
    pub without_id: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct RawState {
    version: u64,
    #[serde(default)]
    resources: Vec<RawResource>,
}

#[derive(Deserialize)]
struct RawResource {
    #[serde(default)]
    module: Option<String>,
    mode: String,
    #[serde(rename = "type")]
    terraform_type: String,
    name: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    instances: Vec<RawInstance>,
}

#[derive(Deserialize)]
struct RawInstance {
    #[serde(default)]
    index_key: Option<serde_json::Value>,
    #[serde(default)]
    attributes: serde_json::Value,
}

impl TerraformState {
    /// Parses a Terraform state of format version 4.
    ///
    /// # Errors
    /// [`Error::Usage`] naming `origin` when the text is not a Terraform
    /// state, or one of another format version.
    pub fn parse(text: &str, origin: &str) -> crate::Result<TerraformState> {
        let raw: RawState = serde_json::from_str(text)
            .map_err(|e| Error::Usage(format!("{origin} is not a Terraform state: {e}")))?;
        if raw.version != 4 {
            return Err(Error::Usage(format!(
                "{origin} is a Terraform state of format version {}; only version 4 \
                 (Terraform 0.12 and later) is read",
                raw.version
            )));
        }
        let mut objects = Vec::new();
        for r in raw.resources.into_iter().filter(|r| r.mode == "managed") {
            let prefix = r
                .module
                .as_deref()
                .map_or(String::new(), |m| format!("{m}."));
            let alias = provider_alias(&r.provider);
            for i in r.instances {
                let (suffix, name_suffix) = match &i.index_key {
                    None => (String::new(), String::new()),
                    Some(serde_json::Value::String(k)) => (format!("[{k:?}]"), format!("-{k}")),
                    Some(k) => (format!("[{k}]"), format!("-{k}")),
                };
                objects.push(TerraformObject {
                    address: format!("{prefix}{}.{}{suffix}", r.terraform_type, r.name),
                    terraform_type: r.terraform_type.clone(),
                    name: format!("{}{name_suffix}", r.name.replace('_', "-")),
                    provider_alias: alias.clone(),
                    attributes: i.attributes,
                });
            }
        }
        Ok(TerraformState { objects })
    }

    /// The import of every object whose type `types` maps, and the rest
    /// listed.
    pub fn adoption(&self, types: &[TypeMapping]) -> Adoption {
        let mut out = Adoption::default();
        for o in &self.objects {
            let m = types.iter().find(|m| m.terraform == o.terraform_type);
            out.add(
                &o.address,
                &o.name,
                o.provider_alias.as_deref(),
                m.map(|m| (m, m.id_attribute)),
                &o.attributes,
            );
        }
        out
    }
}

impl Adoption {
    /// Adds one object: imported as `name` when its type is mapped
    /// (`mapped`: the mapping, then the key holding the id in
    /// `attributes`), listed otherwise.
    pub(crate) fn add(
        &mut self,
        address: &str,
        name: &str,
        provider_alias: Option<&str>,
        mapped: Option<(&TypeMapping, &str)>,
        attributes: &serde_json::Value,
    ) {
        let Some((mapping, key)) = mapped else {
            self.unmapped.push(address.to_owned());
            return;
        };
        match attributes.get(key).and_then(|v| v.as_str()) {
            Some(id) if !id.is_empty() => {
                self.imports.push(ImportSpec {
                    name: name.to_owned(),
                    id: id.to_owned(),
                    provider: provider_alias.map(str::to_owned),
                });
                self.types.push(mapping.type_name);
            }
            _ => self
                .without_id
                .push((address.to_owned(), mapping.id_attribute.to_owned())),
        }
    }
}

/// Reads a Terraform state kept somewhere other than a local file (the
/// object an S3 backend keeps, `s3://BUCKET/KEY`): a program registers one
/// with [`Cli::state_reader`](crate::cli::Cli::state_reader) so
/// `import --terraform` and `adopt --terraform` take such locations
/// (`dafnck_providers::aws::terraform::S3StateReader`).
#[async_trait]
pub trait StateReader: Send + Sync + 'static {
    /// The scheme of the locations it reads (`s3` for `s3://..`).
    fn scheme(&self) -> &str;

    /// The text at `location`.
    ///
    /// # Errors
    /// [`Error::Usage`] naming `location` when it cannot be read.
    async fn read(&self, location: &str) -> crate::Result<String>;
}

/// The alias in `provider["registry.terraform.io/hashicorp/aws"].west`.
fn provider_alias(provider: &str) -> Option<String> {
    let (_, rest) = provider.rsplit_once(']')?;
    rest.strip_prefix('.').map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPES: &[TypeMapping] = &[
        TypeMapping::new("aws_subnet", "aws:ec2:Subnet", "id"),
        TypeMapping::new("aws_key_pair", "aws:ec2:KeyPair", "key_pair_id"),
    ];

    #[test]
    fn indexed_module_and_aliased_objects_are_named_and_data_sources_left_out() {
        let text = r#"{"version": 4, "terraform_version": "1.6.0", "resources": [
          {"mode": "data", "type": "aws_ami", "name": "ubuntu", "provider": "p",
           "instances": [{"attributes": {"id": "ami-1"}}]},
          {"module": "module.net", "mode": "managed", "type": "aws_subnet", "name": "public_web",
           "provider": "provider[\"registry.terraform.io/hashicorp/aws\"].west",
           "instances": [{"index_key": 0, "attributes": {"id": "subnet-0"}},
                         {"index_key": "b", "attributes": {"id": "subnet-b"}}]},
          {"mode": "managed", "type": "aws_key_pair", "name": "deploy", "provider": "p",
           "instances": [{"attributes": {"id": "deploy"}}]}]}"#;
        let state = TerraformState::parse(text, "t.tfstate").unwrap();
        assert_eq!(state.objects.len(), 3);
        assert_eq!(
            state.objects[0].address,
            "module.net.aws_subnet.public_web[0]"
        );
        assert_eq!(
            state.objects[1].address,
            "module.net.aws_subnet.public_web[\"b\"]"
        );
        let a = state.adoption(TYPES);
        assert_eq!(a.imports.len(), 2);
        assert_eq!(a.imports[0].name, "public-web-0");
        assert_eq!(a.imports[1].name, "public-web-b");
        assert_eq!(a.imports[1].provider.as_deref(), Some("west"));
        assert!(a.unmapped.is_empty());
        assert_eq!(
            a.without_id,
            vec![("aws_key_pair.deploy".to_string(), "key_pair_id".to_string())]
        );
    }

    #[test]
    fn another_format_version_or_not_a_state_is_refused_naming_the_file() {
        let e = TerraformState::parse(r#"{"version": 3}"#, "old.tfstate").unwrap_err();
        assert!(e.to_string().contains("old.tfstate") && e.to_string().contains("version 3"));
        let e = TerraformState::parse("[]", "x.json").unwrap_err();
        assert!(
            e.to_string().contains("x.json is not a Terraform state"),
            "{e}"
        );
    }
}
