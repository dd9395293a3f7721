//! The direct conversions give exactly what the JSON route they replace
//! gives: values, markers and error messages.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::{from_value, to_value};
use crate::value::{OutputRef, Value};

/// The route [`to_value`] replaces.
fn to_value_via_json<T: Serialize + ?Sized>(v: &T) -> Result<Value, serde_json::Error> {
    serde_json::to_value(v).map(Value::from_json)
}

/// The route [`from_value`] replaces.
fn from_value_via_json<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(v.to_plain_json())
}

fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        (-1e9f64..1e9).prop_map(serde_json::Value::from),
        "[a-z$]{0,6}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        let key = prop_oneof![
            Just("$secret".to_owned()),
            Just("$unknown".to_owned()),
            Just("$ref".to_owned()),
            "[a-z]{1,4}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
            prop::collection::vec((key, inner), 0..5)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        Just(Value::Unknown),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-1e9f64..1e9).prop_map(Value::Float),
        "[a-z]{0,6}".prop_map(Value::String),
        ("[a-z]{1,3}", "[a-z]{1,3}").prop_map(|(r, f)| Value::Ref(Box::new(OutputRef {
            stack: "dev".into(),
            resource: r,
            field: f,
        }))),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
            prop::collection::btree_map("[a-z0-9]{1,4}", inner.clone(), 0..5)
                .prop_map(|m| m.into_iter().collect()),
            inner.prop_map(|v| Value::Secret(Box::new(v))),
        ]
    })
}

proptest! {
    #[test]
    fn serializing_any_json_gives_what_the_json_route_gives(j in json()) {
        prop_assert_eq!(to_value(&j).unwrap(), Value::from_json(j.clone()));
    }

    #[test]
    fn reading_any_value_as_json_gives_what_the_json_route_gives(v in value()) {
        let direct: serde_json::Value = from_value(&v).unwrap();
        prop_assert_eq!(direct, v.to_plain_json());
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Point,
    Circle(f64),
    Pair(i32, String),
    Rect { w: u32, h: u32 },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Kind(String);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Tagged {
    Web { port: u16 },
    Worker,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Everything {
    name: String,
    size: Option<u64>,
    missing: Option<String>,
    big: u64,
    negative: i8,
    ratio: f32,
    nan: f64,
    letter: char,
    bytes: Vec<u8>,
    shapes: Vec<Shape>,
    kind: Kind,
    tagged: Tagged,
    by_port: HashMap<u16, String>,
    flags: BTreeMap<bool, u8>,
    by_shape: BTreeMap<ShapeKey, u8>,
    unit: (),
    tuple: (u8, String, bool),
    #[serde(flatten)]
    rest: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum ShapeKey {
    Square,
    Round,
}

fn everything() -> Everything {
    Everything {
        name: "web".into(),
        size: Some(3),
        missing: None,
        big: u64::MAX,
        negative: -7,
        ratio: 0.5,
        nan: f64::NAN,
        letter: 'x',
        bytes: vec![0, 255],
        shapes: vec![
            Shape::Point,
            Shape::Circle(1.5),
            Shape::Pair(-1, "a".into()),
            Shape::Rect { w: 2, h: 3 },
        ],
        kind: Kind("t3.micro".into()),
        tagged: Tagged::Web { port: 80 },
        by_port: HashMap::from([(80, "http".into()), (443, "https".into())]),
        flags: BTreeMap::from([(true, 1), (false, 0)]),
        by_shape: BTreeMap::from([(ShapeKey::Square, 4)]),
        unit: (),
        tuple: (1, "b".into(), true),
        rest: BTreeMap::from([("extra".into(), serde_json::json!({"deep": [1, null]}))]),
    }
}

#[test]
fn a_struct_of_every_serde_shape_converts_as_through_json() {
    let e = everything();
    let direct = to_value(&e).unwrap();
    assert_eq!(direct, to_value_via_json(&e).unwrap());
    assert_eq!(
        direct.get("nan"),
        Some(&Value::Null),
        "NaN is null, as in JSON"
    );
    assert!(
        matches!(direct.get("big"), Some(Value::Float(_))),
        "u64::MAX does not fit i64"
    );

    // Back: the NaN came back as null, which an f64 cannot read, as through JSON.
    let direct_err = from_value::<Everything>(&direct).unwrap_err().to_string();
    let json_err = from_value_via_json::<Everything>(&direct)
        .unwrap_err()
        .to_string();
    assert_eq!(direct_err, json_err);

    let mut readable = direct.clone();
    if let Value::Map(m) = &mut readable {
        m.insert("nan".into(), Value::Float(2.0));
        m.insert("big".into(), Value::Int(9));
    }
    let back: Everything = from_value(&readable).unwrap();
    let via_json: Everything = from_value_via_json(&readable).unwrap();
    assert_eq!(back, via_json);
    assert_eq!(back.shapes, e.shapes);
    assert_eq!(back.by_port, e.by_port);
    assert_eq!(back.flags, e.flags);
    assert_eq!(back.by_shape, e.by_shape);
    assert_eq!(back.tagged, e.tagged);
    assert_eq!(back.rest, e.rest);
    assert_eq!((back.big, back.nan), (9, 2.0));
}

#[test]
fn markers_become_secrets_references_and_unknowns() {
    let marked = serde_json::json!({
        "password": {"$secret": "hunter2"},
        "vpc": {"$ref": {"stack": "dev", "resource": "net", "field": "id"}},
        "later": {"$unknown": true},
        "not_a_ref": {"$ref": {"stack": "dev"}},
        "two_keys": {"$secret": 1, "other": 2},
    });
    let direct = to_value(&marked).unwrap();
    assert_eq!(direct, to_value_via_json(&marked).unwrap());
    assert!(matches!(direct.get("password"), Some(Value::Secret(_))));
    assert!(matches!(direct.get("vpc"), Some(Value::Ref(_))));
    assert_eq!(direct.get("later"), Some(&Value::Unknown));
    assert!(matches!(direct.get("not_a_ref"), Some(Value::Map(_))));
    assert!(matches!(direct.get("two_keys"), Some(Value::Map(_))));

    let secret = to_value(&crate::Secret::new("s3cret".to_owned())).unwrap();
    assert_eq!(secret, Value::Secret(Box::new(Value::from("s3cret"))));
}

#[test]
fn reading_opens_secrets_and_reads_unresolved_values_as_null() {
    #[derive(Debug, PartialEq, Deserialize)]
    struct Read {
        password: String,
        vpc: Option<String>,
        later: Option<u8>,
    }
    let v: Value = [
        ("password", Value::Secret(Box::new(Value::from("hunter2")))),
        (
            "vpc",
            Value::Ref(Box::new(OutputRef {
                stack: "dev".into(),
                resource: "net".into(),
                field: "id".into(),
            })),
        ),
        ("later", Value::Unknown),
    ]
    .into_iter()
    .collect();
    let read: Read = from_value(&v).unwrap();
    assert_eq!(
        read,
        Read {
            password: "hunter2".into(),
            vpc: None,
            later: None
        }
    );
}

#[test]
fn a_wrong_shape_is_refused_with_the_json_route_message() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Strict {
        size: u8,
        shape: Shape,
    }
    let cases: Vec<Value> = vec![
        [("size", Value::from("big"))].into_iter().collect(),
        [("size", Value::Int(300))].into_iter().collect(),
        [("size", Value::Int(-1))].into_iter().collect(),
        [("size", Value::Int(1)), ("shape", Value::from("Hexagon"))]
            .into_iter()
            .collect(),
        [("size", Value::Int(1)), ("shape", Value::Int(3))]
            .into_iter()
            .collect(),
        [("size", Value::Int(1)), ("shape", Value::from("Circle"))]
            .into_iter()
            .collect(),
        [
            ("size", Value::Int(1)),
            ("shape", [("Rect", Value::Int(1))].into_iter().collect()),
        ]
        .into_iter()
        .collect(),
        [
            ("size", Value::Int(1)),
            (
                "shape",
                [("Pair", Value::List(vec![Value::Int(1)]))]
                    .into_iter()
                    .collect(),
            ),
        ]
        .into_iter()
        .collect(),
        [("size", Value::Unknown)].into_iter().collect(),
        Value::List(vec![Value::Int(1)]),
        Value::from("x"),
    ];
    for case in cases {
        let direct = from_value::<Strict>(&case).unwrap_err().to_string();
        let json = from_value_via_json::<Strict>(&case)
            .unwrap_err()
            .to_string();
        assert_eq!(direct, json, "reading {case:?}");
    }
}

#[test]
fn keys_that_json_cannot_hold_are_refused() {
    let by_float = BTreeMap::from([(vec![1u8], 1)]);
    let direct = to_value(&by_float).unwrap_err().to_string();
    assert_eq!(
        direct,
        to_value_via_json(&by_float).unwrap_err().to_string()
    );
    assert!(to_value(&u128::MAX).is_err() && to_value_via_json(&u128::MAX).is_err());
}
