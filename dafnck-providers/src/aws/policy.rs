//! The `aws` policy pack: rules over the typed AWS resources of this module
//! (security groups, instances, subnets, load balancers, buckets, IAM,
//! Lambda, Auto Scaling), mapped to CIS AWS Foundations, SOC 2, HIPAA
//! 164.312, GDPR Art. 32 and PCI DSS controls. Enable it with
//! `cli::run(infra).policy_pack(dafnck_providers::aws::policy::pack())`.
//!
//! Checks run on the program's typed inputs at plan time: no cloud call.

use dafnck_core::policy::controls::{
    GDPR_32_1_B, HIPAA_ACCESS, HIPAA_INTEGRITY, PCI_1_4_1, SOC2_A1_2, SOC2_CC6_1, SOC2_CC6_6,
    SOC2_CC7_1, SOC2_CC8_1,
};
use std::collections::{BTreeMap, BTreeSet};

use dafnck_core::policy::{Control, Findings, Pack, Rule, Standard};
use dafnck_core::Input;

use super::autoscaling::{AutoScalingGroup, HealthCheckType};
use super::ec2::{ElasticIp, Instance, RouteTable, SecurityGroup, Subnet};
use super::elbv2::{Listener, LoadBalancer, Protocol, Scheme, TargetGroup};
use super::iam::{Policy, Role};
use super::lambda::Function;
use super::s3::{Bucket, Encryption};

const CIS_5_2: Control = Control::new(
    Standard::CisAws,
    "5.2",
    "No security group allows ingress from 0.0.0.0/0 to remote server administration ports",
);
const CIS_5_3: Control = Control::new(
    Standard::CisAws,
    "5.3",
    "No security group allows ingress from ::/0 to remote server administration ports",
);
const CIS_5_6: Control = Control::new(
    Standard::CisAws,
    "5.6",
    "EC2 instance metadata and network exposure is limited",
);
const CIS_2_2_1: Control = Control::new(
    Standard::CisAws,
    "2.2.1",
    "EBS volume encryption is enabled",
);
const CIS_2_1_4: Control = Control::new(
    Standard::CisAws,
    "2.1.4",
    "S3 buckets are configured with Block Public Access",
);
const CIS_2_1_1: Control = Control::new(
    Standard::CisAws,
    "2.1.1",
    "S3 buckets enforce encryption of data at rest",
);
const CIS_1_16: Control = Control::new(
    Standard::CisAws,
    "1.16",
    "IAM policies that allow full \"*:*\" administrative privileges are not attached",
);
const SOC2_CC6_3: Control = Control::new(Standard::Soc2, "CC6.3", "Least privilege access");
const SOC2_CC6_7: Control = Control::new(
    Standard::Soc2,
    "CC6.7",
    "Protection of data in transmission",
);
const HIPAA_ENCRYPT: Control = Control::new(
    Standard::Hipaa,
    "164.312(a)(2)(iv)",
    "Encryption and decryption",
);
const HIPAA_TRANSMISSION: Control =
    Control::new(Standard::Hipaa, "164.312(e)(1)", "Transmission security");
const GDPR_32_1_A: Control = Control::new(
    Standard::Gdpr,
    "Art. 32(1)(a)",
    "Encryption of personal data",
);
const GDPR_32_1_C: Control = Control::new(
    Standard::Gdpr,
    "Art. 32(1)(c)",
    "Restore availability and access after an incident",
);
const PCI_1_3_1: Control = Control::new(
    Standard::PciDss,
    "1.3.1",
    "Inbound traffic to the cardholder data environment is restricted",
);
const PCI_3_5_1: Control = Control::new(
    Standard::PciDss,
    "3.5.1",
    "Stored account data is rendered unreadable",
);
const PCI_4_2_1: Control = Control::new(
    Standard::PciDss,
    "4.2.1",
    "Strong cryptography for data in transmission",
);
const PCI_7_2_1: Control = Control::new(
    Standard::PciDss,
    "7.2.1",
    "Access assigned by least privilege",
);
const PCI_6_3_3: Control = Control::new(
    Standard::PciDss,
    "6.3.3",
    "Components protected from known vulnerabilities",
);

const OPEN_NETWORK: &[Control] = &[
    CIS_5_2,
    CIS_5_3,
    SOC2_CC6_6,
    HIPAA_ACCESS,
    GDPR_32_1_B,
    PCI_1_3_1,
    PCI_1_4_1,
];
const TAGGING: &[Control] = &[SOC2_CC8_1];

dafnck_core::policy_rule!(
    SG_ADMIN_PORTS,
    "DAF-AWS-001",
    Critical,
    "networking",
    "Security groups do not open SSH (22) or RDP (3389) to the internet",
    "Allow the admin port from your office or VPN range only, or use SSM Session Manager.",
    OPEN_NETWORK
);
dafnck_core::policy_rule!(
    SG_ALL_PORTS,
    "DAF-AWS-002",
    Critical,
    "networking",
    "Security groups do not open every port to the internet",
    "Open only the ports the service listens on.",
    OPEN_NETWORK
);
dafnck_core::policy_rule!(
    SG_DB_PORTS,
    "DAF-AWS-003",
    High,
    "networking",
    "Security groups do not open database ports to the internet",
    "Allow database ports from the application's security group or subnets only.",
    OPEN_NETWORK
);
dafnck_core::policy_rule!(
    SG_DESCRIPTION,
    "DAF-AWS-004",
    Low,
    "networking",
    "Security groups say what they are for",
    "Set `description`.",
    &[SOC2_CC8_1]
);
dafnck_core::policy_rule!(PUBLIC_IP_PRIVATE_SUBNET, "DAF-AWS-005", Medium, "networking",
    "Subnets without a route to an internet gateway do not give instances public IPs",
    "Turn off map_public_ip_on_launch, or route the subnet to an internet gateway if it is meant to be public.", &[CIS_5_6, SOC2_CC6_6, PCI_1_4_1]);
dafnck_core::policy_rule!(
    EIP_PRIVATE_SUBNET,
    "DAF-AWS-006",
    Medium,
    "networking",
    "Elastic IPs are not attached to instances in private subnets",
    "Reach private instances through a load balancer or a bastion; remove the Elastic IP.",
    &[CIS_5_6, SOC2_CC6_6, PCI_1_4_1]
);
dafnck_core::policy_rule!(HTTP_LISTENER, "DAF-AWS-007", High, "encryption",
    "Internet-facing load balancers do not serve plain HTTP",
    "Listen on HTTPS (443) with a certificate; listeners here cannot redirect, so drop the HTTP listener.", &[SOC2_CC6_7, HIPAA_TRANSMISSION, GDPR_32_1_A, PCI_4_2_1]);
dafnck_core::policy_rule!(
    OWNER_TAG,
    "DAF-AWS-008",
    Low,
    "tagging",
    "AWS resources carry an `owner` tag",
    "Add tags: owner = the team that answers for it.",
    TAGGING
);
dafnck_core::policy_rule!(
    COST_TAG,
    "DAF-AWS-009",
    Low,
    "tagging",
    "AWS resources carry a `cost-center` tag",
    "Add tags: cost-center = the budget it is charged to.",
    TAGGING
);
dafnck_core::policy_rule!(
    S3_PUBLIC_ACCESS,
    "DAF-AWS-010",
    High,
    "storage",
    "S3 buckets block every kind of public access",
    "Set all four public_access_block flags to true.",
    &[CIS_2_1_4, SOC2_CC6_1, HIPAA_ACCESS, GDPR_32_1_B, PCI_1_3_1]
);
dafnck_core::policy_rule!(
    S3_VERSIONING,
    "DAF-AWS-011",
    Medium,
    "storage",
    "S3 buckets keep object versions",
    "Set versioning = true (with lifecycle rules to expire old versions).",
    &[SOC2_A1_2, HIPAA_INTEGRITY, GDPR_32_1_C]
);
dafnck_core::policy_rule!(
    S3_WEBSITE,
    "DAF-AWS-012",
    Medium,
    "storage",
    "S3 buckets are not public websites",
    "Serve the site through CloudFront with origin access control instead of website hosting.",
    &[SOC2_CC6_6, GDPR_32_1_B]
);
dafnck_core::policy_rule!(
    S3_KMS,
    "DAF-AWS-013",
    Low,
    "encryption",
    "S3 buckets are encrypted with a KMS key",
    "Set encryption = Encryption::Kms (with your key id for control over access and rotation).",
    &[CIS_2_1_1, HIPAA_ENCRYPT, GDPR_32_1_A, PCI_3_5_1]
);
dafnck_core::policy_rule!(
    IAM_ADMIN,
    "DAF-AWS-014",
    Critical,
    "identity",
    "IAM policies do not allow every action on every resource",
    "Name the actions and resources the holder needs.",
    &[CIS_1_16, SOC2_CC6_3, HIPAA_ACCESS, PCI_7_2_1]
);
dafnck_core::policy_rule!(
    IAM_SERVICE_WILDCARD,
    "DAF-AWS-015",
    Medium,
    "identity",
    "IAM policies do not allow every action of a service",
    "Replace `service:*` with the actions needed.",
    &[SOC2_CC6_3, PCI_7_2_1]
);
dafnck_core::policy_rule!(
    IAM_TRUST_ANYONE,
    "DAF-AWS-016",
    Critical,
    "identity",
    "IAM roles cannot be assumed by anyone",
    "Name the service or account in the trust policy's Principal.",
    &[SOC2_CC6_1, SOC2_CC6_3, HIPAA_ACCESS, PCI_7_2_1]
);
dafnck_core::policy_rule!(
    INSTANCE_KEY_PAIR,
    "DAF-AWS-017",
    Low,
    "identity",
    "Instances are reached without long-lived SSH key pairs",
    "Use SSM Session Manager or EC2 Instance Connect; drop key_name.",
    &[SOC2_CC6_1]
);
dafnck_core::policy_rule!(
    LAMBDA_RUNTIME,
    "DAF-AWS-018",
    High,
    "vulnerabilities",
    "Lambda functions run on a supported runtime",
    "Move to a supported runtime (python3.12, nodejs20.x, java21, ...).",
    &[SOC2_CC7_1, PCI_6_3_3]
);
dafnck_core::policy_rule!(
    ASG_HEALTH,
    "DAF-AWS-019",
    Medium,
    "reliability",
    "Auto Scaling groups behind a load balancer use its health checks",
    "Set health_check_type = HealthCheckType::Elb.",
    &[SOC2_A1_2]
);
dafnck_core::policy_rule!(
    INSTANCE_BEHIND_LB,
    "DAF-AWS-020",
    Low,
    "networking",
    "Instances serve behind a load balancer",
    "Register the instance in a target group (or suppress for instances that serve nothing).",
    &[SOC2_CC6_6]
);
dafnck_core::policy_rule!(
    INSTANCE_IMDSV2,
    "DAF-AWS-021",
    High,
    "identity",
    "Instances require IMDSv2 session tokens for their metadata service",
    "Set metadata_options = Some(MetadataOptions::default()) (http_tokens: Required), or turn the endpoint off.",
    &[CIS_5_6, SOC2_CC6_1, HIPAA_ACCESS, PCI_7_2_1]
);
dafnck_core::policy_rule!(
    UNENCRYPTED_VOLUME,
    "DAF-AWS-022",
    High,
    "encryption",
    "Instance volumes are encrypted",
    "Declare the root and every other volume in block_devices with encrypted = true (and a kms_key_id for your own key).",
    &[CIS_2_2_1, SOC2_CC6_1, HIPAA_ENCRYPT, GDPR_32_1_A, PCI_3_5_1]
);

/// Ports of remote administration.
const ADMIN_PORTS: &[i32] = &[22, 3389];
/// Ports of common databases and caches.
const DB_PORTS: &[i32] = &[1433, 1521, 3306, 5432, 6379, 9200, 11211, 27017];
/// Runtimes AWS no longer supports.
const DEPRECATED_RUNTIMES: &[&str] = &[
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "ruby2.5",
    "ruby2.7",
    "java8",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "go1.x",
];

/// The `aws` pack.
pub fn pack() -> Pack {
    Pack::new("aws", "AWS resources: network exposure, encryption, identity, tagging")
        .rule(Rule::resource(SG_ADMIN_PORTS, |sg: &SecurityGroup, out| {
            world_open(sg, out, |from, to| ADMIN_PORTS.iter().any(|p| (from..=to).contains(p)) && !all_ports(from, to), "admin port")
        }))
        .rule(Rule::resource(SG_ALL_PORTS, |sg: &SecurityGroup, out| {
            world_open(sg, out, all_ports, "every port")
        }))
        .rule(Rule::resource(SG_DB_PORTS, |sg: &SecurityGroup, out| {
            world_open(sg, out, |from, to| DB_PORTS.iter().any(|p| (from..=to).contains(p)) && !all_ports(from, to), "database port")
        }))
        .rule(Rule::resource(SG_DESCRIPTION, |sg: &SecurityGroup, out| {
            if sg.description.as_value().is_some_and(|d| d.trim().is_empty()) {
                out.flag("description", "is empty");
            }
        }))
        .rule(Rule::stack(PUBLIC_IP_PRIVATE_SUBNET, |stack, out| {
            let public = public_subnets(stack);
            for (view, subnet) in stack.of_type::<Subnet>() {
                if subnet.map_public_ip_on_launch && !public.contains(view.name) {
                    out.flag_resource(view.name, "map_public_ip_on_launch", "gives instances public IPs, but no route table of the program routes it to an internet gateway");
                }
            }
        }))
        .rule(Rule::stack(EIP_PRIVATE_SUBNET, |stack, out| {
            let public = public_subnets(stack);
            for (view, eip) in stack.of_type::<ElasticIp>() {
                let Some(instance) = eip.instance_id.as_ref().and_then(referenced) else { continue };
                let Some(i) = stack.typed::<Instance>(instance) else { continue };
                if let Some(subnet) = referenced(&i.subnet_id) {
                    if stack.typed::<Subnet>(subnet).is_some() && !public.contains(subnet) {
                        out.flag_resource(view.name, "instance_id", format!("attaches a public IP to instance {instance:?} in subnet {subnet:?}, which has no route to an internet gateway"));
                    }
                }
            }
        }))
        .rule(Rule::stack(HTTP_LISTENER, |stack, out| {
            for (view, listener) in stack.of_type::<Listener>() {
                if listener.protocol != Protocol::Http {
                    continue;
                }
                let Some(lb) = referenced(&listener.load_balancer_arn) else { continue };
                if stack.typed::<LoadBalancer>(lb).is_some_and(|lb| lb.scheme == Scheme::InternetFacing) {
                    out.flag_resource(view.name, "protocol", format!("serves plain HTTP on port {} of internet-facing load balancer {lb:?}", listener.port));
                }
            }
        }))
        .rule(Rule::any(OWNER_TAG, |r, out| missing_tag(r, out, "owner")))
        .rule(Rule::any(COST_TAG, |r, out| missing_tag(r, out, "cost-center")))
        .rule(Rule::resource(S3_PUBLIC_ACCESS, |b: &Bucket, out| {
            let p = &b.public_access_block;
            for (on, name) in [
                (p.block_public_acls, "block_public_acls"),
                (p.ignore_public_acls, "ignore_public_acls"),
                (p.block_public_policy, "block_public_policy"),
                (p.restrict_public_buckets, "restrict_public_buckets"),
            ] {
                if !on {
                    out.flag(format!("public_access_block.{name}"), "is off");
                }
            }
        }))
        .rule(Rule::resource(S3_VERSIONING, |b: &Bucket, out| {
            if !b.versioning {
                out.flag("versioning", "is off: an overwritten or deleted object cannot be restored");
            }
        }))
        .rule(Rule::resource(S3_WEBSITE, |b: &Bucket, out| {
            if b.website.is_some() {
                out.flag("website", "serves the bucket as a public website");
            }
        }))
        .rule(Rule::resource(S3_KMS, |b: &Bucket, out| {
            if matches!(b.encryption, Encryption::Aes256) {
                out.flag("encryption", "uses S3-managed keys (AES256), not a KMS key");
            }
        }))
        .rule(Rule::resource(IAM_ADMIN, |p: &Policy, out| {
            for (i, s) in allow_statements(&p.document).iter().enumerate() {
                if strings(s.get("Action")).any(|a| a == "*") && strings(s.get("Resource")).any(|r| r == "*") {
                    out.flag(format!("document.Statement[{i}]"), "allows every action (\"*\") on every resource (\"*\")");
                }
            }
        }))
        .rule(Rule::resource(IAM_SERVICE_WILDCARD, |p: &Policy, out| {
            for (i, s) in allow_statements(&p.document).iter().enumerate() {
                for a in strings(s.get("Action")).filter(|a| a.len() > 2 && a.ends_with(":*")) {
                    out.flag(format!("document.Statement[{i}].Action"), format!("allows every action of {}", &a[..a.len() - 2]));
                }
            }
        }))
        .rule(Rule::resource(IAM_TRUST_ANYONE, |r: &Role, out| {
            for (i, s) in allow_statements(&r.assume_role_policy).iter().enumerate() {
                let anyone = match s.get("Principal") {
                    Some(serde_json::Value::String(p)) => p == "*",
                    Some(serde_json::Value::Object(m)) => m.get("AWS").is_some_and(|a| strings(Some(a)).any(|p| p == "*")),
                    _ => false,
                };
                if anyone {
                    out.flag(format!("assume_role_policy.Statement[{i}].Principal"), "lets any AWS principal assume the role");
                }
            }
        }))
        .rule(Rule::resource(INSTANCE_KEY_PAIR, |i: &Instance, out| {
            if i.key_name.is_some() {
                out.flag("key_name", "logs in with an SSH key pair");
            }
        }))
        .rule(Rule::resource(INSTANCE_IMDSV2, |i: &Instance, out| {
            match &i.metadata_options {
                None => out.flag("metadata_options", "is not set: AWS's default answers IMDSv1 requests without a session token"),
                Some(m) if m.allows_imds_v1() => out.flag("metadata_options.http_tokens", "is optional: the metadata service answers IMDSv1 requests without a session token"),
                Some(_) => {}
            }
        }))
        .rule(Rule::resource(UNENCRYPTED_VOLUME, |i: &Instance, out| {
            if i.block_devices.is_empty() {
                out.flag("block_devices", "declares no volume: the root volume's encryption is left to the AMI's snapshot and the account's default");
            }
            for (n, d) in i.block_devices.iter().enumerate().filter(|(_, d)| !d.encrypted) {
                out.flag(format!("block_devices[{n}].encrypted"), format!("volume {} is not encrypted", d.device_name));
            }
        }))
        .rule(Rule::resource(LAMBDA_RUNTIME, |f: &Function, out| {
            if DEPRECATED_RUNTIMES.contains(&f.runtime.as_str()) {
                out.flag("runtime", format!("{} is no longer supported by AWS Lambda", f.runtime));
            }
        }))
        .rule(Rule::resource(ASG_HEALTH, |g: &AutoScalingGroup, out| {
            if !g.target_group_arns.is_empty() && g.health_check_type == HealthCheckType::Ec2 {
                out.flag("health_check_type", "is EC2 although the group serves behind target groups: an instance failing the load balancer's checks is never replaced");
            }
        }))
        .rule(Rule::stack(INSTANCE_BEHIND_LB, |stack, out| {
            let targets: BTreeSet<String> = stack
                .of_type::<TargetGroup>()
                .flat_map(|(_, tg)| tg.targets.iter().filter_map(referenced).map(str::to_owned).collect::<Vec<_>>())
                .collect();
            for (view, _) in stack.of_type::<Instance>() {
                if !targets.contains(view.name) {
                    out.flag_resource(view.name, "", "is in no target group of the program");
                }
            }
        }))
}

fn all_ports(from: i32, to: i32) -> bool {
    from <= 0 && to >= 65535 || from == -1 && to == -1
}

/// Flags each ingress rule open to the world whose port range `hits`.
fn world_open(sg: &SecurityGroup, out: &mut Findings, hits: impl Fn(i32, i32) -> bool, what: &str) {
    for (i, rule) in sg.ingress.iter().enumerate() {
        let (from, to) = if rule.protocol == "-1" {
            (0, 65535)
        } else {
            (rule.from_port, rule.to_port)
        };
        for cidr in rule
            .cidr_blocks
            .iter()
            .filter(|c| *c == "0.0.0.0/0" || *c == "::/0")
        {
            if hits(from, to) {
                out.flag(
                    format!("ingress[{i}].cidr_blocks"),
                    format!("opens {what}s {from}-{to} ({}) to {cidr}", rule.protocol),
                );
            }
        }
    }
}

/// The resource an input refers to, if it is a reference.
fn referenced<T>(input: &Input<T>) -> Option<&str> {
    input.as_output().map(|r| r.resource.as_str())
}

/// Subnets some route table of the program routes to an internet gateway.
fn public_subnets(stack: &dafnck_core::policy::StackView<'_>) -> BTreeSet<String> {
    stack
        .of_type::<RouteTable>()
        .filter(|(_, rt)| {
            rt.routes.iter().any(|r| {
                (r.destination_cidr_block == "0.0.0.0/0" || r.destination_cidr_block == "::/0")
                    && (r.gateway_id.as_output().is_some()
                        || r.gateway_id
                            .as_value()
                            .is_some_and(|g| g.0.starts_with("igw-")))
            })
        })
        .flat_map(|(_, rt)| {
            rt.subnet_ids
                .iter()
                .filter_map(referenced)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn missing_tag(r: &dafnck_core::policy::ResourceView<'_>, out: &mut Findings, tag: &str) {
    if !r.type_name.starts_with("aws:") {
        return;
    }
    if let Some(dafnck_core::Value::Map(tags)) = r.inputs.get("tags") {
        if tags
            .get(tag)
            .and_then(|v| v.as_str())
            .is_none_or(|v| v.trim().is_empty())
        {
            out.flag("tags", format!("has no {tag:?} tag"));
        }
    }
}

/// The `Allow` statements of a policy document (a document that is not
/// JSON has none: AWS rejects it when applied).
fn allow_statements(document: &str) -> Vec<BTreeMap<String, serde_json::Value>> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(document) else {
        return Vec::new();
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(items)) => items.clone(),
        Some(one @ serde_json::Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    statements
        .into_iter()
        .filter_map(|s| serde_json::from_value::<BTreeMap<String, serde_json::Value>>(s).ok())
        .filter(|s| s.get("Effect").and_then(|e| e.as_str()) == Some("Allow"))
        .collect()
}

/// A string or a list of strings.
fn strings(v: Option<&serde_json::Value>) -> impl Iterator<Item = &str> {
    let items: Vec<&str> = match v {
        Some(serde_json::Value::String(s)) => vec![s.as_str()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str()).collect(),
        _ => Vec::new(),
    };
    items.into_iter()
}
