//! `#[derive(Declare)]` writes a value as the Rust expression that builds it.
//!
//! Each case is written once as code: the test builds the value from that
//! code and checks the rendering is the same code (spaces aside), so what
//! is printed is also proven to compile back to the value it came from.

use std::collections::{BTreeMap, HashMap};

use dafnck_core::declare::{variable, Declaration};
use dafnck_core::prelude::*;
use dafnck_core::ResourceRef;

#[derive(Declare, Debug, PartialEq, Clone, Copy)]
enum Protocol {
    Tcp,
    #[allow(dead_code)]
    Udp,
}

#[derive(Declare, Debug, PartialEq)]
enum Target {
    #[allow(dead_code)]
    Anywhere,
    Cidr(String),
    Group {
        id: String,
        owner: Option<u64>,
    },
}

#[derive(Declare, Debug, PartialEq)]
struct Rule {
    port: u16,
    protocol: Protocol,
    from: Target,
}

#[derive(Declare, Debug, PartialEq)]
struct Millis(u64);

#[derive(Declare, Debug, PartialEq)]
struct Marker;

#[derive(Declare, Debug)]
struct Everything {
    name: String,
    cidr: Input<String>,
    vpc_id: Input<String>,
    peer: Input<String>,
    count: Input<u32>,
    names: Input<Vec<String>>,
    enabled: bool,
    weight: f64,
    offset: i8,
    kind: char,
    zone: Option<String>,
    nothing: Option<String>,
    ports: Vec<u16>,
    empty: Vec<String>,
    rules: Vec<Rule>,
    tags: BTreeMap<String, String>,
    no_tags: BTreeMap<String, String>,
    labels: HashMap<String, i32>,
    timeout: Millis,
    marker: Marker,
    boxed: Box<Option<bool>>,
    r#type: String,
}

/// `(value, the code that built it)`.
macro_rules! code {
    ($e:expr) => {
        ($e, stringify!($e))
    };
}

/// `s` without whitespace or trailing commas (where rustfmt and the
/// renderer may differ).
fn squeeze(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    s.replace(",}", "}").replace(",]", "]").replace(",)", ")")
}

#[test]
fn every_field_kind_renders_as_the_code_that_builds_it() {
    let vpc = ResourceRef::new("dev", "main-vpc", "aws:ec2:Vpc");
    let main_vpc = vpc_handle(&vpc);
    let (value, code) = code!(Everything {
        name: "web \"one\"\n".into(),
        cidr: "10.0.0.0/16".into(),
        vpc_id: main_vpc.out().id,
        peer: main_vpc.out().id,
        count: Input::value(3),
        names: Input::value(vec!["a".into()]),
        enabled: true,
        weight: 1.0,
        offset: -4,
        kind: 'x',
        zone: Some("eu-west-1a".into()),
        nothing: None,
        ports: vec![22, 443],
        empty: vec![],
        rules: vec![
            Rule {
                port: 22,
                protocol: Protocol::Tcp,
                from: Target::Cidr("0.0.0.0/0".into()),
            },
            Rule {
                port: 443,
                protocol: Protocol::Tcp,
                from: Target::Group {
                    id: "sg-1".into(),
                    owner: Some(42),
                },
            },
        ],
        tags: std::collections::BTreeMap::from([
            ("Name".into(), "web".into()),
            ("team".into(), "a".into()),
        ]),
        no_tags: Default::default(),
        labels: std::collections::HashMap::from([("a".into(), 1), ("b".into(), 2),]),
        timeout: Millis(1500),
        marker: Marker,
        boxed: Box::new(Some(false)),
        r#type: "t3.micro".into(),
    });
    // `peer` is a reference in the program; as read from the cloud it would
    // be the id, which the declaration turns back into the reference.
    let value = Everything {
        peer: "vpc-123".into(),
        ..value
    };
    let mut decl = Declaration::new();
    decl.refer("vpc-123", "main_vpc.out().id");
    let rendered = decl.expression(&value);
    assert_eq!(squeeze(&rendered), squeeze(code), "{rendered}");
    // One field a line, nested literals indented a step further.
    assert!(
        rendered.starts_with("Everything {\n    name: \"web \\\"one\\\"\\n\".into(),\n"),
        "{rendered}"
    );
    assert!(
        rendered.contains("\n        Rule {\n            port: 22,\n"),
        "{rendered}"
    );
    assert!(
        rendered.contains("    ports: vec![22, 443],\n"),
        "{rendered}"
    );
}

#[test]
fn a_statement_declares_the_resource_under_a_variable() {
    let (value, code) = code!(Rule {
        port: 80,
        protocol: Protocol::Tcp,
        from: Target::Cidr("10.0.0.0/8".into()),
    });
    let got = Declaration::new().statement("web-0", &value);
    assert_eq!(
        squeeze(&got),
        squeeze(&format!("let web_0 = stack.add(\"web-0\", {code});"))
    );
    assert_eq!(variable("9lives"), "_9lives");
    assert_eq!(variable("type"), "type_");
    assert_eq!(variable("stack"), "stack_");
    assert_eq!(variable("Main.VPC"), "main_vpc");
}

#[test]
fn floats_stay_floats_and_ids_without_an_owner_stay_values() {
    assert_eq!(Declaration::new().expression(&2.0f64), "2.0");
    assert_eq!(
        Declaration::new().expression(&f64::INFINITY),
        "f64::INFINITY"
    );
    let mut decl = Declaration::new();
    decl.refer("vpc-1", "vpc.out().id");
    let id: Input<String> = "vpc-2".into();
    assert_eq!(decl.expression(&id), "\"vpc-2\".into()");
    // A plain `String` field cannot hold a reference, so it keeps the id.
    assert_eq!(decl.expression(&"vpc-1".to_string()), "\"vpc-1\".into()");
    let id: Input<String> = "vpc-1".into();
    assert_eq!(decl.expression(&id), "vpc.out().id");
}

/// Outputs of a stand-in VPC type, for its references.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
struct VpcOutputs {
    id: String,
}

#[allow(dead_code)]
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[resource(type = "aws:ec2:Vpc", outputs = VpcOutputs)]
struct Vpc {}

fn vpc_handle(r: &ResourceRef) -> VpcRefsOf {
    VpcRefsOf(<VpcOutputs as Outputs>::refs(r))
}

/// Stands in for `Handle::out()`, which only a stack hands out.
struct VpcRefsOf(VpcOutputsRefs);

impl VpcRefsOf {
    fn out(&self) -> VpcOutputsRefs {
        VpcOutputsRefs {
            id: self.0.id.clone(),
        }
    }
}

#[test]
fn a_typed_id_is_a_reference_when_its_owner_is_known() {
    use dafnck_core::testing::resources::NetworkId;
    let mut decl = Declaration::new();
    decl.refer("net-1", "net.out().id");
    let id: Input<NetworkId> = NetworkId("net-1".into()).into();
    assert_eq!(decl.expression(&id), "net.out().id");
    let id: Input<NetworkId> = NetworkId("net-2".into()).into();
    assert_eq!(
        decl.expression(&id),
        "Input::value(NetworkId(\"net-2\".into()))"
    );
    let secret = Secret::new("hunter2".to_string());
    let written = decl.expression(&secret);
    assert!(!written.contains("hunter2"), "{written}");
}

/// A type of "another crate": serializable, but not `Declare`.
#[derive(Serialize, Deserialize, Debug, PartialEq, Default)]
struct Foreign {
    // In key order, so the JSON reads the same whether or not serde_json
    // keeps insertion order.
    labels: BTreeMap<String, String>,
    replicas: u32,
}

#[derive(Declare, Debug, PartialEq)]
struct Wrapper<T> {
    inner: T,
}

#[derive(Declare, Debug)]
struct Settings {
    timeout: std::time::Duration,
    poll: std::time::Duration,
    root: std::path::PathBuf,
    policy: serde_json::Value,
    zones: std::collections::BTreeSet<String>,
    #[declare(json)]
    spec: Foreign,
    wrapped: Wrapper<u8>,
}

#[test]
fn durations_paths_json_sets_foreign_and_generic_fields_render_as_the_code_that_builds_them() {
    let (value, code) = code!(Settings {
        timeout: std::time::Duration::from_secs(30),
        poll: std::time::Duration::from_millis(1500),
        root: std::path::PathBuf::from("/srv/www"),
        policy: serde_json::json!({
            "Statement": [{"Action": ["s3:GetObject"], "Effect": "Allow"}],
            "Version": "2012-10-17"
        }),
        zones: std::collections::BTreeSet::from(["a".into(), "b".into()]),
        spec: serde_json::from_value(serde_json::json!({
            "labels": {"app": "web"},
            "replicas": 3
        }))
        .unwrap(),
        wrapped: Wrapper { inner: 7 },
    });
    let rendered = Declaration::new().expression(&value);
    assert_eq!(squeeze(&rendered), squeeze(code), "{rendered}");
    assert_eq!(
        value.spec,
        Foreign {
            labels: BTreeMap::from([("app".into(), "web".into())]),
            replicas: 3,
        }
    );
}

#[test]
fn a_typed_reference_stands_only_for_an_input_of_its_type() {
    use dafnck_core::testing::resources::NetworkId;
    let mut decl = Declaration::new();
    decl.refer_typed(
        "net-1",
        "net.out().network_id",
        std::any::type_name::<NetworkId>(),
    );
    let typed: Input<NetworkId> = NetworkId("net-1".into()).into();
    assert_eq!(decl.expression(&typed), "net.out().network_id");
    let plain: Input<String> = "net-1".into();
    assert_eq!(
        decl.expression(&plain),
        "\"net-1\".into()",
        "an Input<String> cannot take an Input<NetworkId>"
    );
}

#[test]
fn qualified_types_are_named_by_their_public_module_and_listed() {
    fn public(module: &str) -> Option<String> {
        // This test crate's types are "public" in `net`.
        (module == "declare").then(|| "acme::net".to_string())
    }
    let mut decl = Declaration::new();
    decl.qualify(Some(public));
    let rendered = decl.expression(&Rule {
        port: 22,
        protocol: Protocol::Tcp,
        from: Target::Anywhere,
    });
    assert_eq!(
        rendered,
        "net::Rule {\n    port: 22,\n    protocol: net::Protocol::Tcp,\n    from: net::Target::Anywhere,\n}"
    );
    assert_eq!(decl.uses().iter().collect::<Vec<_>>(), vec!["acme::net"]);
    decl.qualify(None);
    assert_eq!(decl.expression(&Protocol::Tcp), "Protocol::Tcp");
}
