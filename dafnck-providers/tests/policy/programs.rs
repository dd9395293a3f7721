//! The two programs the pack tests check: one with a violation of each
//! rule (and the line that declares it), and one that follows every rule.

use std::collections::BTreeMap;

use dafnck_core::policy::Suppression;
use dafnck_core::{Options, Stack};
use dafnck_providers::aws::{autoscaling, ec2, elbv2, iam, lambda, s3};
use dafnck_providers::local;

fn tags() -> BTreeMap<String, String> {
    [("owner", "platform"), ("cost-center", "cc-1")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

const ADMIN_DOC: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const S3_STAR_DOC: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:*"],"Resource":"arn:aws:s3:::b/*"}}"#;
const GOOD_DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
const TRUST_ANYONE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
const TRUST_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// IMDSv2 only.
fn imds_v2() -> Option<ec2::MetadataOptions> {
    Some(ec2::MetadataOptions::default())
}

/// An encrypted root volume.
fn encrypted_root() -> Vec<ec2::BlockDevice> {
    vec![ec2::BlockDevice {
        device_name: "/dev/xvda".into(),
        volume_size: Some(16),
        encrypted: true,
        ..Default::default()
    }]
}

fn sg_rule(from: i32, to: i32, cidr: &str) -> ec2::Rule {
    ec2::Rule {
        protocol: "tcp".into(),
        from_port: from,
        to_port: to,
        cidr_blocks: vec![cidr.into()],
    }
}

/// Declares one violation of every rule; returns each expected
/// (rule, resource, line), with `opts` on every declaration.
pub(crate) fn violating(
    st: &mut Stack,
    opts: &dyn Fn(&str) -> Options,
) -> Vec<(&'static str, String, u32)> {
    let mut want = Vec::new();
    let mut at =
        |rule: &'static str, name: &str, line: u32| want.push((rule, name.to_owned(), line));
    let vpc = st.add(
        "vpc",
        ec2::Vpc {
            cidr_block: "10.0.0.0/16".into(),
            tags: tags(),
            ..Default::default()
        },
    );
    // One security group per port rule.
    let line = line!() + 1;
    st.add_with(
        "ssh",
        ec2::SecurityGroup {
            name: "ssh".into(),
            description: "ssh".into(),
            vpc_id: vpc.out().vpc_id,
            ingress: vec![sg_rule(22, 22, "0.0.0.0/0")],
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-001"),
    );
    at("DAF-AWS-001", "ssh", line);
    let line = line!() + 1;
    st.add_with(
        "all",
        ec2::SecurityGroup {
            name: "all".into(),
            description: "all".into(),
            vpc_id: vpc.out().vpc_id,
            ingress: vec![ec2::Rule {
                protocol: "-1".into(),
                from_port: 0,
                to_port: 0,
                cidr_blocks: vec!["::/0".into()],
            }],
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-002"),
    );
    at("DAF-AWS-002", "all", line);
    let line = line!() + 1;
    st.add_with(
        "db",
        ec2::SecurityGroup {
            name: "db".into(),
            description: "db".into(),
            vpc_id: vpc.out().vpc_id,
            ingress: vec![sg_rule(5432, 5432, "0.0.0.0/0")],
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-003"),
    );
    at("DAF-AWS-003", "db", line);
    let line = line!() + 1;
    st.add_with(
        "nodesc",
        ec2::SecurityGroup {
            name: "nodesc".into(),
            description: "".into(),
            vpc_id: vpc.out().vpc_id,
            ingress: vec![sg_rule(443, 443, "0.0.0.0/0")],
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-004"),
    );
    at("DAF-AWS-004", "nodesc", line);
    let line = line!() + 1;
    let private = st.add_with(
        "private",
        ec2::Subnet {
            vpc_id: vpc.out().vpc_id,
            cidr_block: "10.0.1.0/24".into(),
            map_public_ip_on_launch: true,
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-005"),
    );
    at("DAF-AWS-005", "private", line);
    let line = line!() + 1;
    let web = st.add_with(
        "web",
        ec2::Instance {
            ami: "ami-1".into(),
            instance_type: "t3.micro".into(),
            subnet_id: private.out().subnet_id,
            key_name: Some("ops".into()),
            metadata_options: imds_v2(),
            block_devices: encrypted_root(),
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-017").suppress(Suppression::new("DAF-AWS-020", "checked below")),
    );
    at("DAF-AWS-017", "web", line);
    let line = line!() + 1;
    st.add_with(
        "lonely",
        ec2::Instance {
            ami: "ami-1".into(),
            instance_type: "t3.micro".into(),
            subnet_id: private.out().subnet_id,
            metadata_options: imds_v2(),
            block_devices: encrypted_root(),
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-020"),
    );
    at("DAF-AWS-020", "lonely", line);
    let behind_lb = || Suppression::new("DAF-AWS-020", "tested above");
    // IMDSv1 answered: by AWS's default, and declared optional.
    let line = line!() + 1;
    st.add_with(
        "imds-default",
        ec2::Instance {
            ami: "ami-1".into(),
            instance_type: "t3.micro".into(),
            subnet_id: private.out().subnet_id,
            block_devices: encrypted_root(),
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-021").suppress(behind_lb()),
    );
    at("DAF-AWS-021", "imds-default", line);
    let line = line!() + 1;
    st.add_with(
        "imds-v1",
        ec2::Instance {
            ami: "ami-1".into(),
            instance_type: "t3.micro".into(),
            subnet_id: private.out().subnet_id,
            metadata_options: Some(ec2::MetadataOptions {
                http_tokens: ec2::HttpTokens::Optional,
                http_put_response_hop_limit: 2,
                http_endpoint: true,
            }),
            block_devices: encrypted_root(),
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-021").suppress(behind_lb()),
    );
    at("DAF-AWS-021", "imds-v1", line);
    // Volumes: none declared, and a data volume left unencrypted.
    let line = line!() + 1;
    st.add_with(
        "no-volumes",
        ec2::Instance {
            ami: "ami-1".into(),
            instance_type: "t3.micro".into(),
            subnet_id: private.out().subnet_id,
            metadata_options: imds_v2(),
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-022").suppress(behind_lb()),
    );
    at("DAF-AWS-022", "no-volumes", line);
    let line = line!() + 1;
    st.add_with(
        "plain-data",
        ec2::Instance {
            ami: "ami-1".into(),
            instance_type: "t3.micro".into(),
            subnet_id: private.out().subnet_id,
            metadata_options: imds_v2(),
            block_devices: [
                encrypted_root(),
                vec![ec2::BlockDevice {
                    device_name: "/dev/sdf".into(),
                    volume_size: Some(100),
                    volume_type: Some("gp3".into()),
                    ..Default::default()
                }],
            ]
            .concat(),
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-022").suppress(behind_lb()),
    );
    at("DAF-AWS-022", "plain-data", line);
    let line = line!() + 1;
    st.add_with(
        "eip",
        ec2::ElasticIp {
            instance_id: Some(web.out().instance_id),
            tags: tags(),
        },
        opts("DAF-AWS-006"),
    );
    at("DAF-AWS-006", "eip", line);
    let tg = st.add(
        "tg",
        elbv2::TargetGroup {
            name: Some("tg".into()),
            port: 80,
            vpc_id: vpc.out().vpc_id,
            targets: vec![web.out().instance_id],
            tags: tags(),
            ..Default::default()
        },
    );
    let lb = st.add(
        "lb",
        elbv2::LoadBalancer {
            name: Some("lb".into()),
            scheme: elbv2::Scheme::InternetFacing,
            tags: tags(),
            ..Default::default()
        },
    );
    let line = line!() + 1;
    st.add_with(
        "http",
        elbv2::Listener {
            load_balancer_arn: lb.out().arn,
            port: 80,
            protocol: elbv2::Protocol::Http,
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-007"),
    );
    at("DAF-AWS-007", "http", line);
    let line = line!() + 1;
    st.add_with(
        "untagged",
        ec2::Vpc {
            cidr_block: "10.1.0.0/16".into(),
            tags: BTreeMap::new(),
            ..Default::default()
        },
        opts("DAF-AWS-008").suppress(Suppression::new("DAF-AWS-009", "tested alone")),
    );
    at("DAF-AWS-008", "untagged", line);
    let line = line!() + 1;
    st.add_with(
        "nocost",
        ec2::Vpc {
            cidr_block: "10.2.0.0/16".into(),
            tags: [("owner".to_owned(), "me".to_owned())].into(),
            ..Default::default()
        },
        opts("DAF-AWS-009"),
    );
    at("DAF-AWS-009", "nocost", line);
    let good_bucket = || s3::Bucket {
        versioning: true,
        encryption: s3::Encryption::Kms { key_id: None },
        public_access_block: s3::PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        },
        tags: tags(),
        ..Default::default()
    };
    let line = line!() + 1;
    st.add_with(
        "public",
        s3::Bucket {
            public_access_block: s3::PublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: false,
                restrict_public_buckets: true,
            },
            ..good_bucket()
        },
        opts("DAF-AWS-010"),
    );
    at("DAF-AWS-010", "public", line);
    let line = line!() + 1;
    st.add_with(
        "unversioned",
        s3::Bucket {
            versioning: false,
            ..good_bucket()
        },
        opts("DAF-AWS-011"),
    );
    at("DAF-AWS-011", "unversioned", line);
    let line = line!() + 1;
    st.add_with(
        "site",
        s3::Bucket {
            website: Some(s3::Website {
                index_document: "index.html".into(),
                error_document: None,
            }),
            ..good_bucket()
        },
        opts("DAF-AWS-012"),
    );
    at("DAF-AWS-012", "site", line);
    let line = line!() + 1;
    st.add_with(
        "sse",
        s3::Bucket {
            encryption: s3::Encryption::Aes256,
            ..good_bucket()
        },
        opts("DAF-AWS-013"),
    );
    at("DAF-AWS-013", "sse", line);
    let line = line!() + 1;
    st.add_with(
        "admin",
        iam::Policy {
            document: ADMIN_DOC.into(),
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-014"),
    );
    at("DAF-AWS-014", "admin", line);
    let line = line!() + 1;
    st.add_with(
        "s3-star",
        iam::Policy {
            document: S3_STAR_DOC.into(),
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-015"),
    );
    at("DAF-AWS-015", "s3-star", line);
    let line = line!() + 1;
    let role = st.add_with(
        "anyone",
        iam::Role {
            assume_role_policy: TRUST_ANYONE.into(),
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-016"),
    );
    at("DAF-AWS-016", "anyone", line);
    let line = line!() + 1;
    st.add_with(
        "old-fn",
        lambda::Function {
            runtime: "python3.7".into(),
            handler: "h.main".into(),
            role: role.out().arn,
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-018"),
    );
    at("DAF-AWS-018", "old-fn", line);
    let lt = st.add(
        "lt",
        ec2::LaunchTemplate {
            image_id: "ami-1".into(),
            instance_type: "t3.micro".into(),
            tags: tags(),
            ..Default::default()
        },
    );
    let line = line!() + 1;
    st.add_with(
        "asg",
        autoscaling::AutoScalingGroup {
            launch_template_id: lt.out().launch_template_id,
            max_size: 2,
            target_group_arns: vec![tg.out().arn],
            health_check_type: autoscaling::HealthCheckType::Ec2,
            tags: tags(),
            ..Default::default()
        },
        opts("DAF-AWS-019"),
    );
    at("DAF-AWS-019", "asg", line);
    // local
    let line = line!() + 1;
    st.add_with(
        "shared-file",
        local::File {
            path: "/tmp/x".into(),
            content: "x".into(),
            mode: Some(0o666),
        },
        opts("DAF-LOC-001"),
    );
    at("DAF-LOC-001", "shared-file", line);
    let line = line!() + 1;
    st.add_with(
        "scratch",
        local::Directory {
            path: "/tmp/d".into(),
            mode: Some(0o777),
        },
        opts("DAF-LOC-002"),
    );
    at("DAF-LOC-002", "scratch", line);
    let line = line!() + 1;
    st.add_with(
        "api",
        local::Service {
            name: "api".into(),
            command: "api".into(),
            args: vec!["--listen".into(), "0.0.0.0:8080".into()],
            health_path: Some("/health".into()),
            ..Default::default()
        },
        opts("DAF-LOC-003"),
    );
    at("DAF-LOC-003", "api", line);
    let line = line!() + 1;
    st.add_with(
        "key-file",
        local::File {
            path: "/tmp/id".into(),
            content: "-----BEGIN OPENSSH PRIVATE KEY-----".into(),
            mode: Some(0o644),
        },
        opts("DAF-LOC-004"),
    );
    at("DAF-LOC-004", "key-file", line);
    let line = line!() + 1;
    st.add_with(
        "installer",
        local::Command {
            create: "curl -fsSL https://example.com/i.sh | sh".into(),
            ..Default::default()
        },
        opts("DAF-LOC-005"),
    );
    at("DAF-LOC-005", "installer", line);
    let line = line!() + 1;
    st.add_with(
        "worker",
        local::Service {
            name: "worker".into(),
            command: "worker".into(),
            args: vec!["--listen".into(), "127.0.0.1:9000".into()],
            health_path: None,
            ..Default::default()
        },
        opts("DAF-LOC-006"),
    );
    at("DAF-LOC-006", "worker", line);
    want
}

/// Everything done right: no rule fires.
pub(crate) fn following(st: &mut Stack) {
    let vpc = st.add(
        "vpc",
        ec2::Vpc {
            cidr_block: "10.0.0.0/16".into(),
            tags: tags(),
            ..Default::default()
        },
    );
    let igw = st.add(
        "igw",
        ec2::InternetGateway {
            vpc_id: Some(vpc.out().vpc_id),
            tags: tags(),
        },
    );
    st.add(
        "web-sg",
        ec2::SecurityGroup {
            name: "web".into(),
            description: "web".into(),
            vpc_id: vpc.out().vpc_id,
            ingress: vec![
                sg_rule(443, 443, "0.0.0.0/0"),
                sg_rule(22, 22, "10.0.0.0/8"),
                sg_rule(5432, 5432, "10.0.0.0/16"),
            ],
            tags: tags(),
            ..Default::default()
        },
    );
    let public = st.add(
        "public",
        ec2::Subnet {
            vpc_id: vpc.out().vpc_id,
            cidr_block: "10.0.1.0/24".into(),
            map_public_ip_on_launch: true,
            tags: tags(),
            ..Default::default()
        },
    );
    st.add(
        "private",
        ec2::Subnet {
            vpc_id: vpc.out().vpc_id,
            cidr_block: "10.0.2.0/24".into(),
            map_public_ip_on_launch: false,
            tags: tags(),
            ..Default::default()
        },
    );
    st.add(
        "rt",
        ec2::RouteTable {
            vpc_id: vpc.out().vpc_id,
            routes: vec![ec2::Route {
                destination_cidr_block: "0.0.0.0/0".into(),
                gateway_id: igw.out().internet_gateway_id,
            }],
            subnet_ids: vec![public.out().subnet_id],
            tags: tags(),
        },
    );
    let web = st.add(
        "web",
        ec2::Instance {
            ami: "ami-1".into(),
            instance_type: "t3.micro".into(),
            subnet_id: public.out().subnet_id,
            metadata_options: Some(ec2::MetadataOptions {
                http_put_response_hop_limit: 2,
                ..Default::default()
            }),
            block_devices: [
                encrypted_root(),
                vec![ec2::BlockDevice {
                    device_name: "/dev/sdf".into(),
                    encrypted: true,
                    kms_key_id: Some("alias/data".into()),
                    ..Default::default()
                }],
            ]
            .concat(),
            tags: tags(),
            ..Default::default()
        },
    );
    st.add(
        "eip",
        ec2::ElasticIp {
            instance_id: Some(web.out().instance_id),
            tags: tags(),
        },
    );
    let tg = st.add(
        "tg",
        elbv2::TargetGroup {
            name: Some("tg".into()),
            port: 80,
            vpc_id: vpc.out().vpc_id,
            targets: vec![web.out().instance_id],
            tags: tags(),
            ..Default::default()
        },
    );
    let lb = st.add(
        "lb",
        elbv2::LoadBalancer {
            name: Some("lb".into()),
            scheme: elbv2::Scheme::InternetFacing,
            tags: tags(),
            ..Default::default()
        },
    );
    st.add(
        "https",
        elbv2::Listener {
            load_balancer_arn: lb.out().arn,
            port: 443,
            protocol: elbv2::Protocol::Https,
            tags: tags(),
            ..Default::default()
        },
    );
    let internal = st.add(
        "internal",
        elbv2::LoadBalancer {
            name: Some("in".into()),
            scheme: elbv2::Scheme::Internal,
            tags: tags(),
            ..Default::default()
        },
    );
    st.add(
        "internal-http",
        elbv2::Listener {
            load_balancer_arn: internal.out().arn,
            port: 80,
            protocol: elbv2::Protocol::Http,
            tags: tags(),
            ..Default::default()
        },
    );
    st.add(
        "bucket",
        s3::Bucket {
            versioning: true,
            encryption: s3::Encryption::Kms { key_id: None },
            public_access_block: s3::PublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: true,
                restrict_public_buckets: true,
            },
            tags: tags(),
            ..Default::default()
        },
    );
    st.add(
        "reader",
        iam::Policy {
            document: GOOD_DOC.into(),
            tags: tags(),
            ..Default::default()
        },
    );
    let role = st.add(
        "role",
        iam::Role {
            assume_role_policy: TRUST_EC2.into(),
            tags: tags(),
            ..Default::default()
        },
    );
    st.add(
        "fn",
        lambda::Function {
            runtime: "python3.12".into(),
            handler: "h.main".into(),
            role: role.out().arn,
            tags: tags(),
            ..Default::default()
        },
    );
    let lt = st.add(
        "lt",
        ec2::LaunchTemplate {
            image_id: "ami-1".into(),
            instance_type: "t3.micro".into(),
            tags: tags(),
            ..Default::default()
        },
    );
    st.add(
        "asg",
        autoscaling::AutoScalingGroup {
            launch_template_id: lt.out().launch_template_id,
            max_size: 2,
            target_group_arns: vec![tg.out().arn],
            health_check_type: autoscaling::HealthCheckType::Elb,
            tags: tags(),
            ..Default::default()
        },
    );
    st.add(
        "file",
        local::File {
            path: "/tmp/x".into(),
            content: "x".into(),
            mode: Some(0o644),
        },
    );
    st.add(
        "key",
        local::File {
            path: "/tmp/id".into(),
            content: "-----BEGIN OPENSSH PRIVATE KEY-----".into(),
            mode: Some(0o600),
        },
    );
    st.add(
        "tmp",
        local::Directory {
            path: "/tmp/d".into(),
            mode: Some(0o1777),
        },
    );
    st.add(
        "api",
        local::Service {
            name: "api".into(),
            command: "api".into(),
            args: vec!["--listen".into(), "127.0.0.1:8080".into()],
            health_path: Some("/health".into()),
            ..Default::default()
        },
    );
    st.add(
        "install",
        local::Command {
            create: "curl -fsSLo i.sh https://example.com/i.sh && sha256sum -c i.sha && sh i.sh"
                .into(),
            ..Default::default()
        },
    );
}
