//! Migrating from Pulumi against a moto server on 127.0.0.1: a VPC, a
//! subnet, a security group, an internet gateway and a route table made
//! through the AWS API and described by a `pulumi stack export` document
//! (deployment version 3, written here: no Pulumi plugin can be fetched),
//! adopted into a program that declares them with typed references. The
//! adoption leaves out the stack and provider resources, lists the types it
//! does not map, the import previews as matching the program, and a
//! refreshed preview then shows no changes. Then `adopt --pulumi EXPORT`
//! writes a program of its own from the same export, which is built with
//! cargo against this workspace and run: it imports the objects, previews
//! no changes and destroys them, leaving nothing.
//!
//! Needs `DAFNCK_MOTO_URL` (`scripts/servers/moto.sh start`, or
//! `scripts/test.sh`); without it the test says it is skipped, unless
//! `DAFNCK_REQUIRE_SERVERS=1`, when it fails.
#![cfg(feature = "aws")]

mod support;

#[path = "support/aws_example.rs"]
mod aws_example;

#[path = "support/adopt.rs"]
mod adopt;

#[path = "support/outer_cargo.rs"]
mod outer_cargo;

use aws_example::Clients;
use dafnck::core::pulumi::PulumiExport;
use dafnck::providers::aws::terraform::TYPES;

fn pulumi_export(made: &adopt::Made) -> String {
    let urn = |ty: &str, name: &str| format!("urn:pulumi:dev::network::{ty}::{name}");
    let stack = urn("pulumi:pulumi:Stack", "network-dev");
    let provider = urn("pulumi:providers:aws", "default_6_13_0");
    let provider_ref = format!("{provider}::4a5c6e1d-6f0e-4a55-8d5e-0f9b8f1c2d3e");
    let object = |ty: &str, name: &str, id: &str, outputs: serde_json::Value| {
        serde_json::json!({ "urn": urn(ty, name), "custom": true, "id": id, "type": ty,
                            "inputs": outputs, "outputs": outputs, "parent": stack,
                            "provider": provider_ref })
    };
    serde_json::json!({
        "version": 3,
        "deployment": {
            "manifest": { "time": "2026-12-04T10:00:00Z", "magic": "", "version": "v3.100.0" },
            "resources": [
                { "urn": stack, "custom": false, "type": "pulumi:pulumi:Stack" },
                { "urn": provider, "custom": true, "id": "4a5c6e1d-6f0e-4a55-8d5e-0f9b8f1c2d3e",
                  "type": "pulumi:providers:aws", "inputs": { "region": "us-east-1" } },
                object("aws:ec2/vpc:Vpc", "main", &made.vpc, serde_json::json!({
                    "cidrBlock": "10.7.0.0/16", "tags": { "Name": "main" } })),
                object("aws:ec2/subnet:Subnet", "public_0", &made.subnet, serde_json::json!({
                    "vpcId": made.vpc, "cidrBlock": "10.7.1.0/24" })),
                object("aws:ec2/securityGroup:SecurityGroup", "web", &made.sg,
                       serde_json::json!({ "name": "adopted-web", "vpcId": made.vpc })),
                object("aws:ec2/internetGateway:InternetGateway", "gw", &made.igw,
                       serde_json::json!({ "vpcId": made.vpc })),
                object("aws:ec2/routeTable:RouteTable", "public", &made.rtb,
                       serde_json::json!({ "vpcId": made.vpc })),
                object("aws:ec2/flowLog:FlowLog", "audit", "fl-0123", serde_json::json!({})),
            ]
        }
    })
    .to_string()
}

#[tokio::test]
async fn a_pulumi_stack_export_is_adopted_with_no_changes_then_destroyed() {
    let Some(url) = aws_example::moto_url("adopt_pulumi") else {
        return;
    };
    let aws = Clients::new(&url).await;
    // What Pulumi made, made here through the AWS API.
    let made = adopt::make(&aws).await;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev.json");
    std::fs::write(&path, pulumi_export(&made)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let export = PulumiExport::parse(&text, &path.display().to_string()).unwrap();
    let adoption = export.adoption(TYPES);
    assert_eq!(
        adoption.unmapped,
        vec!["aws:ec2/flowLog:FlowLog::audit".to_string()]
    );
    assert!(adoption.without_id.is_empty());
    let names: Vec<&str> = adoption.imports.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["main", "public-0", "web", "gw", "public"]);
    assert!(adoption.imports.iter().all(|s| s.provider.is_none()));

    let provider =
        dafnck::providers::aws::Provider::with_config(aws_example::sdk_config(&url).await);
    adopt::adopt_into_the_hand_written_program(provider.clone(), &adoption.imports, &made).await;
    // The written program adopts the same objects again, then destroys them.
    adopt::generated_program_adopts_previews_and_destroys(
        &aws,
        &url,
        provider,
        &["--pulumi", path.to_str().unwrap()],
        "aws:ec2/flowLog:FlowLog::audit",
        &made,
    )
    .await;
}
