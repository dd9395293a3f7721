//! End-to-end tests of `#[derive(Resource)]` and `#[derive(Outputs)]` on real
//! structs, through the prelude as users write them.

use dafnck_core::prelude::*;
use dafnck_core::{ResourceRef, Value};

/// A network; serde renames fields to camelCase, and the derive must report
/// the renamed names.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
#[resource(type = "example:net:Network", outputs = NetworkOutputs)]
pub struct Network {
    /// Changing the range replaces the network.
    #[resource(force_new)]
    pub cidr_block: Input<String>,
    /// An explicit rename wins over `rename_all`.
    #[serde(rename = "zone")]
    #[resource(force_new)]
    pub availability_zone: Input<String>,
    /// Updated in place.
    pub display_name: Input<String>,
}

/// What the provider reports for a [`Network`].
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct NetworkOutputs {
    /// The network's id.
    pub network_id: String,
    /// Renamed on the wire.
    #[serde(rename = "arn")]
    pub resource_arn: String,
    /// The port.
    pub port: u16,
    /// Never serialized, so not an output.
    #[serde(skip)]
    pub cached: u8,
}

/// A subnet: refers to its network through a typed output reference.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[resource(type = "example:net:Subnet")]
#[resource(outputs = SubnetOutputs)]
pub struct Subnet {
    /// The network it belongs to.
    pub network_id: Input<String>,
}

/// Outputs with kebab-case names and no docs on the fields (the derive must
/// write docs for the generated refs).
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "kebab-case")]
pub struct SubnetOutputs {
    #[allow(missing_docs)]
    pub subnet_id: String,
}

/// The crate path override, through a re-export.
mod core_alias {
    pub use dafnck_core::*;
}

/// A resource without outputs or replacement fields.
#[derive(Resource, Serialize, Clone, Debug, Default)]
#[resource(type = "example:misc:Marker", outputs = NoOutputs, crate = "crate::core_alias")]
pub struct Marker {}

/// No outputs at all.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
#[outputs(crate = "crate::core_alias")]
pub struct NoOutputs {}

#[test]
fn resource_type_and_force_new_fields_use_serialized_names() {
    assert_eq!(Network::TYPE, "example:net:Network");
    assert_eq!(Network::force_new_fields(), &["cidrBlock", "zone"]);
    assert_eq!(Subnet::TYPE, "example:net:Subnet");
    assert!(Subnet::force_new_fields().is_empty());
    assert_eq!(Marker::TYPE, "example:misc:Marker");
    assert!(Marker::force_new_fields().is_empty());
}

#[test]
fn output_field_names_are_serialized_and_skip_skipped() {
    assert_eq!(
        <NetworkOutputs as Outputs>::field_names(),
        &["network_id", "arn", "port"]
    );
    assert_eq!(<SubnetOutputs as Outputs>::field_names(), &["subnet-id"]);
    assert!(<NoOutputs as Outputs>::field_names().is_empty());
}

#[test]
fn refs_point_at_the_serialized_field() {
    let r = ResourceRef::new("dev", "net", Network::TYPE);
    let refs: NetworkOutputsRefs = <NetworkOutputs as Outputs>::refs(&r);
    let id = refs.network_id.as_output().unwrap();
    assert_eq!(
        (id.stack.as_str(), id.resource.as_str(), id.field.as_str()),
        ("dev", "net", "network_id")
    );
    assert_eq!(refs.resource_arn.as_output().unwrap().field, "arn");
    let port: &Input<u16> = &refs.port;
    assert_eq!(port.as_output().unwrap().field, "port");

    let s = ResourceRef::new("dev", "sub", Subnet::TYPE);
    let refs = <SubnetOutputs as Outputs>::refs(&s);
    assert_eq!(refs.subnet_id.as_output().unwrap().field, "subnet-id");
    // The refs struct is Clone and Debug.
    let copy = refs.clone();
    assert!(format!("{copy:?}").contains("subnet-id"));
}

#[test]
fn a_ref_in_another_resource_serializes_to_value_ref() {
    let net = ResourceRef::new("dev", "net", Network::TYPE);
    let out = <NetworkOutputs as Outputs>::refs(&net);
    let subnet = Subnet {
        network_id: out.network_id.clone(),
    };
    let Value::Map(fields) = Value::from_serialize(&subnet).unwrap() else {
        panic!("a struct serializes to a map");
    };
    match &fields["network_id"] {
        Value::Ref(r) => {
            assert_eq!(r.resource, "net");
            assert_eq!(r.field, "network_id");
        }
        other => panic!("expected a Value::Ref, got {other:?}"),
    }
    // A plain value stays a value.
    let plain = Value::from_serialize(&Input::value("n-1".to_owned())).unwrap();
    assert_eq!(plain, Value::String("n-1".into()));
}
