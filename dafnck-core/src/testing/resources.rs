//! Typed resources the [`FakeCloud`](super::FakeCloud) serves, for tests and
//! examples: a small network model whose ids are distinct types, so a
//! subnet id cannot be passed where a network id is expected.

use std::collections::BTreeMap;

use crate::prelude::*;

/// The id of a [`Network`].
#[derive(Serialize, Deserialize, Declare, Clone, Debug, Default, PartialEq, Eq)]
#[declare(crate = "crate")]
#[serde(transparent)]
pub struct NetworkId(pub String);

/// The id of a [`Subnet`].
#[derive(Serialize, Deserialize, Declare, Clone, Debug, Default, PartialEq, Eq)]
#[declare(crate = "crate")]
#[serde(transparent)]
pub struct SubnetId(pub String);

/// A virtual network.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[resource(type = "fake:net:Network", outputs = NetworkOutputs)]
pub struct Network {
    /// Its address range; changing it replaces the network.
    #[resource(force_new)]
    pub cidr: Input<String>,
    /// Free-form tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`Network`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct NetworkOutputs {
    /// Its id.
    pub network_id: NetworkId,
    /// Its ARN.
    pub arn: String,
}

/// A data source: the one existing [`Network`] whose tags include all of
/// `tags` (the [`FakeCloud`](super::FakeCloud) answers it).
#[derive(DataSource, Serialize, Deserialize, Clone, Debug, Default)]
#[data_source(type = "fake:net:NetworkLookup", outputs = NetworkOutputs)]
pub struct NetworkLookup {
    /// The tags to match.
    pub tags: BTreeMap<String, String>,
}

/// A subnet of a [`Network`].
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[resource(type = "fake:net:Subnet", outputs = SubnetOutputs)]
pub struct Subnet {
    /// The network it belongs to; changing it replaces the subnet.
    #[resource(force_new)]
    pub network_id: Input<NetworkId>,
    /// Its address range; changing it replaces the subnet.
    #[resource(force_new)]
    pub cidr: Input<String>,
    /// Free-form tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`Subnet`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct SubnetOutputs {
    /// Its id.
    pub subnet_id: SubnetId,
}

/// A machine in a [`Subnet`].
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[resource(type = "fake:compute:Instance", outputs = InstanceOutputs)]
pub struct Instance {
    /// The subnet it runs in; changing it replaces the instance.
    #[resource(force_new)]
    pub subnet_id: Input<SubnetId>,
    /// Its image; changing it replaces the instance.
    #[resource(force_new)]
    pub image: Input<String>,
    /// Its size; changes in place.
    pub size: Input<String>,
    /// A password, never shown.
    pub admin_password: Option<Secret<String>>,
    /// Free-form tags.
    pub tags: BTreeMap<String, String>,
}

/// What an [`Instance`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct InstanceOutputs {
    /// Its id.
    pub instance_id: String,
    /// Its ARN.
    pub arn: String,
}

/// A generic node for graph-shaped tests: a value and references to other
/// nodes' ids.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[resource(type = "fake:graph:Node", outputs = NodeOutputs)]
pub struct Node {
    /// A value; changes in place.
    pub value: Input<String>,
    /// A key; changing it replaces the node.
    #[resource(force_new)]
    pub key: Input<String>,
    /// Ids of the nodes this one refers to.
    pub refs: Vec<Input<String>>,
}

/// What a [`Node`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct NodeOutputs {
    /// Its id.
    pub node_id: String,
}
