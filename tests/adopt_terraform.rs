//! Migrating from Terraform against a moto server on 127.0.0.1: a VPC, a
//! subnet, a security group, an internet gateway and a route table
//! made through the AWS API and described by a Terraform state (format 4,
//! written here: no Terraform provider plugin can be fetched), kept where an
//! S3 backend keeps it and read from there, then adopted into a program
//! that declares them with typed references. The adoption lists the types
//! it does not map, the import previews as matching the program, and a
//! refreshed preview then shows no changes. Then `adopt --terraform
//! s3://..` writes a program of its own from the same state, which is built
//! with cargo against this workspace and run: it imports the objects,
//! previews no changes and destroys them, leaving nothing.
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
use dafnck::core::terraform::TerraformState;
use dafnck::providers::aws::terraform::{read_state, TYPES};

fn terraform_state(made: &adopt::Made) -> String {
    let provider = r#"provider["registry.terraform.io/hashicorp/aws"]"#;
    let object = |ty: &str, name: &str, index: Option<u32>, attributes: serde_json::Value| {
        let mut instance = serde_json::json!({ "schema_version": 1, "attributes": attributes });
        if let Some(i) = index {
            instance["index_key"] = i.into();
        }
        serde_json::json!({ "mode": "managed", "type": ty, "name": name,
                            "provider": provider, "instances": [instance] })
    };
    serde_json::json!({
        "version": 4,
        "terraform_version": "1.6.6",
        "serial": 7,
        "lineage": "0b7c2f0e-3a3c-4d61-9b0e-2f1f3d1c5a11",
        "outputs": {},
        "resources": [
            { "mode": "data", "type": "aws_availability_zones", "name": "all",
              "provider": provider, "instances": [{ "attributes": { "id": "us-east-1" } }] },
            object("aws_vpc", "main", None, serde_json::json!({
                "id": made.vpc, "cidr_block": "10.7.0.0/16", "tags": { "Name": "main" } })),
            object("aws_subnet", "public", Some(0), serde_json::json!({
                "id": made.subnet, "vpc_id": made.vpc, "cidr_block": "10.7.1.0/24" })),
            object("aws_security_group", "web", None, serde_json::json!({
                "id": made.sg, "name": "adopted-web", "vpc_id": made.vpc })),
            object("aws_internet_gateway", "gw", None, serde_json::json!({
                "id": made.igw, "vpc_id": made.vpc })),
            object("aws_route_table", "public", None, serde_json::json!({
                "id": made.rtb, "vpc_id": made.vpc })),
            object("aws_flow_log", "audit", None, serde_json::json!({ "id": "fl-0123" })),
        ]
    })
    .to_string()
}

#[tokio::test]
async fn a_terraform_state_in_an_s3_backend_is_adopted_with_no_changes_then_destroyed() {
    let Some(url) = aws_example::moto_url("adopt_terraform") else {
        return;
    };
    let aws = Clients::new(&url).await;
    // What Terraform made, made here through the AWS API.
    let made = adopt::make(&aws).await;
    let provider =
        dafnck::providers::aws::Provider::with_config(aws_example::sdk_config(&url).await);

    // The state where `backend "s3" { bucket = ..., key = ... }` keeps it.
    let s3 = provider.s3_client().await.clone();
    let bucket = format!("tfstate-{}", made.vpc);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key("network/terraform.tfstate")
        .body(terraform_state(&made).into_bytes().into())
        .send()
        .await
        .unwrap();
    let location = format!("s3://{bucket}/network/terraform.tfstate");
    let text = read_state(&provider, &location).await.unwrap();
    let state = TerraformState::parse(&text, &location).unwrap();
    let missing = read_state(&provider, &format!("s3://{bucket}/other.tfstate"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains(&format!("s3://{bucket}/other.tfstate")) && missing.contains("NoSuchKey"),
        "a missing state is an error naming it: {missing}"
    );

    let adoption = state.adoption(TYPES);
    assert_eq!(adoption.unmapped, vec!["aws_flow_log.audit".to_string()]);
    assert!(adoption.without_id.is_empty());
    let names: Vec<&str> = adoption.imports.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["main", "public-0", "web", "gw", "public"]);

    adopt::adopt_into_the_hand_written_program(provider.clone(), &adoption.imports, &made).await;
    // The written program adopts the same objects again, then destroys them.
    adopt::generated_program_adopts_previews_and_destroys(
        &aws,
        &url,
        provider,
        &["--terraform", &location],
        "aws_flow_log.audit",
        &made,
    )
    .await;
    s3.delete_object()
        .bucket(&bucket)
        .key("network/terraform.tfstate")
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket(&bucket).send().await.unwrap();
}
