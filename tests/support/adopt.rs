//! What `tests/adopt_terraform.rs` and `tests/adopt_pulumi.rs` share: the
//! objects another tool made (a VPC, a subnet, a security group, an internet
//! gateway and a route table, made here through the AWS API), a hand-written
//! program that declares them with typed references and the adoption of
//! them into it, checked to preview with no changes; then the program
//! `adopt` writes from the same document, built with cargo against this
//! workspace and run: it imports them, previews no changes and destroys
//! them, which are then counted gone. Included by both, whose crates
//! declare `aws_example` and `outer_cargo`.

#![allow(dead_code)]

use std::collections::BTreeMap;

use dafnck::core::engine::{Engine, ImportSpec};
use dafnck::core::state::MemoryStore;
use dafnck::core::{Action, Providers, Stack};
use dafnck::providers::aws::ec2::{InternetGateway, Route, RouteTable, SecurityGroup, Subnet, Vpc};
use dafnck::providers::aws::sdk::ec2 as sdk_ec2;

use crate::aws_example::Clients;

/// The program a Terraform or Pulumi user writes for what that tool
/// managed.
pub fn infra(stack: &mut Stack) -> dafnck::core::Result<()> {
    let vpc = stack.add(
        "main",
        Vpc {
            cidr_block: "10.7.0.0/16".into(),
            tags: BTreeMap::from([("Name".into(), "main".into())]),
            ..Default::default()
        },
    );
    let subnet = stack.add(
        "public-0",
        Subnet {
            vpc_id: vpc.out().vpc_id,
            cidr_block: "10.7.1.0/24".into(),
            availability_zone: Some("us-east-1a".into()),
            ..Default::default()
        },
    );
    stack.add(
        "web",
        SecurityGroup {
            name: "adopted-web".into(),
            description: "web servers".into(),
            vpc_id: vpc.out().vpc_id,
            ..Default::default()
        },
    );
    let gw = stack.add(
        "gw",
        InternetGateway {
            vpc_id: Some(vpc.out().vpc_id),
            ..Default::default()
        },
    );
    stack.add(
        "public",
        RouteTable {
            vpc_id: vpc.out().vpc_id,
            routes: vec![Route {
                destination_cidr_block: "0.0.0.0/0".into(),
                gateway_id: gw.out().internet_gateway_id,
            }],
            subnet_ids: vec![subnet.out().subnet_id],
            ..Default::default()
        },
    );
    Ok(())
}

/// The ids of the objects [`make`] made.
pub struct Made {
    pub vpc: String,
    pub subnet: String,
    pub sg: String,
    pub igw: String,
    pub rtb: String,
}

impl Made {
    /// `(program name, id)` of each object, in the program's order.
    pub fn by_name(&self) -> [(&'static str, &str); 5] {
        [
            ("main", &self.vpc),
            ("public-0", &self.subnet),
            ("web", &self.sg),
            ("gw", &self.igw),
            ("public", &self.rtb),
        ]
    }
}

/// Makes, through the AWS API, what [`infra`] declares.
pub async fn make(aws: &Clients) -> Made {
    let e = &aws.ec2;
    let vpc = e
        .create_vpc()
        .cidr_block("10.7.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    e.create_tags()
        .resources(&vpc)
        .tags(
            sdk_ec2::types::Tag::builder()
                .key("Name")
                .value("main")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let subnet = e
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.7.1.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap();
    let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();
    let sg = e
        .create_security_group()
        .group_name("adopted-web")
        .description("web servers")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let sg = sg.group_id().unwrap().to_owned();
    let igw = e.create_internet_gateway().send().await.unwrap();
    let igw = igw
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap()
        .to_owned();
    e.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let rtb = e.create_route_table().vpc_id(&vpc).send().await.unwrap();
    let rtb = rtb
        .route_table()
        .unwrap()
        .route_table_id()
        .unwrap()
        .to_owned();
    e.create_route()
        .route_table_id(&rtb)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    e.associate_route_table()
        .route_table_id(&rtb)
        .subnet_id(&subnet)
        .send()
        .await
        .unwrap();
    Made {
        vpc,
        subnet,
        sg,
        igw,
        rtb,
    }
}

/// Imports `imports` into a new stack of [`infra`] with `provider`, checks
/// the import previews as matching the program, records exactly `made`,
/// and a refreshed preview then shows no changes. Its state is in memory
/// and dropped at the end: the objects stay, for the written program.
pub async fn adopt_into_the_hand_written_program(
    provider: dafnck::providers::aws::Provider,
    imports: &[ImportSpec],
    made: &Made,
) {
    let engine = Engine::new("dev", MemoryStore::new(), Providers::new().with(provider));
    let preview = engine.preview_import(infra, imports).await.unwrap();
    assert!(preview.matches_program(), "{}", preview.render());
    let report = engine.import_previewed(&preview).await.unwrap();
    assert_eq!(report.imported.len(), 5);
    let recorded = engine.state().await.unwrap();
    for (name, id) in made.by_name() {
        assert_eq!(recorded.resources[name].id, id, "{name}");
    }

    let refreshed = engine.preview(infra, true).await.unwrap();
    assert!(
        !refreshed.has_work(),
        "the adopted objects are as the program declares:\n{}",
        refreshed.plan.render()
    );
    for c in &refreshed.plan.changes {
        assert_eq!(c.action, Action::NoOp, "{}", c.name);
    }
}

/// The program `adopt` writes from `adopt_args` (`--terraform STATE` or
/// `--pulumi EXPORT`), run with `provider` against moto at `url`: checks
/// what it wrote (a declaration per object with its references rebuilt,
/// the unmapped `left_out` listed), builds it with cargo against this
/// workspace, and runs it: `import --file imports.json` adopts `made`,
/// `preview` shows no changes, `destroy` leaves none of the objects.
///
/// The build reuses what the outer run built (the AWS SDK included) when
/// that run was `cargo test --workspace --all-features` (as
/// `scripts/test.sh` runs it): see the manifest below. Another selection of
/// features compiles the SDK again for it, minutes more, which the test
/// prints.
pub async fn generated_program_adopts_previews_and_destroys(
    aws: &Clients,
    url: &str,
    provider: dafnck::providers::aws::Provider,
    adopt_args: &[&str],
    left_out: &str,
    made: &Made,
) {
    use crate::outer_cargo::{cargo_with, copy_lock, root, stdout};
    use dafnck::providers::aws::terraform::{S3StateReader, TYPES};

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("adopted");
    let state_dir = dir.path().join("adopter-state");
    let mut args = vec![
        "adopter",
        "--state-dir",
        state_dir.to_str().unwrap(),
        "adopt",
    ];
    args.extend_from_slice(adopt_args);
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    // Any program with the provider and the mappings can adopt: here one
    // that declares nothing.
    let code = dafnck::core::cli::run(|_: &mut Stack| Ok(()))
        .provider(provider.clone())
        .terraform_types(TYPES)
        .state_reader(S3StateReader::new(provider))
        .args(args)
        .exit_code()
        .await;
    assert_eq!(code, 0, "adopt succeeds");
    assert!(!state_dir.exists(), "adopt records nothing");

    let main_rs = std::fs::read_to_string(out.join("src/main.rs")).unwrap();
    for line in [
        format!("//! - {left_out} (no mapping for its type)"),
        "use dafnck_providers::aws::ec2;".to_string(),
        "let main = stack.add(\"main\", ec2::Vpc {".to_string(),
        "let public_0 = stack.add(\"public-0\", ec2::Subnet {".to_string(),
        "vpc_id: main.out().vpc_id,".to_string(),
        "subnet_ids: vec![public_0.out().subnet_id],".to_string(),
        ".provider(dafnck_providers::aws::Provider::from_env())".to_string(),
    ] {
        assert!(main_rs.contains(&line), "main.rs has {line:?}:\n{main_rs}");
    }
    let imports = std::fs::read_to_string(out.join("imports.json")).unwrap();
    for (name, id) in made.by_name() {
        assert!(
            imports.contains(&format!("\"name\": \"{name}\"")) && imports.contains(id),
            "{imports}"
        );
    }

    // A crate of its own around it, built against this checkout. A user's
    // needs `dafnck-core`, `dafnck-providers` (feature `aws`) and tokio; this
    // one also asks for the features the workspace's test build turns on in
    // the crates below (and copies its profile overrides), so every
    // registry crate is the same unit (same features, profile and
    // dependencies, so the same `-C metadata`) as in that build and cargo
    // reuses it instead of compiling every SDK again. With only a user's
    // three dependencies, features such as `bytes/serde`, `url/serde` and
    // `rustls/ring` differ, and everything above them (the AWS SDK) is
    // compiled again. Checked by comparing the unit graphs
    // (`RUSTC_BOOTSTRAP=1 cargo build -Zunstable-options --unit-graph`
    // here against `cargo test --workspace --all-features --all-targets
    // --no-run` in the checkout): only the path crates and the gcp
    // provider's prost crates (a proc macro's dependency built without
    // debug info) differ, and those are built once per target directory.
    let profiles = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let profiles = &profiles[profiles
        .find("\n[profile.")
        .map_or(profiles.len(), |i| i + 1)..];
    let manifest = format!(
        r#"[package]
name = "adopted"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
dafnck-core = {{ path = "{root}/dafnck-core", features = ["cli", "mock"] }}
dafnck-providers = {{ path = "{root}/dafnck-providers", features = ["aws", "azure", "gcp", "kubernetes", "local"] }}
tokio = {{ version = "1", features = ["bytes", "fs", "io-util", "libc", "macros", "mio", "net", "process", "rt", "rt-multi-thread", "signal", "signal-hook-registry", "socket2", "sync", "test-util", "time", "tokio-macros"] }}
digest = {{ version = "0.10", features = ["alloc", "block-buffer", "core-api", "mac", "std", "subtle"] }}
either = {{ version = "1", features = ["std", "use_std"] }}
event-listener-strategy = {{ version = "0.5", features = ["std"] }}
hyper = {{ version = "1", features = ["client", "http1", "http2", "server"] }}
kube = {{ version = "5", default-features = false, features = ["client", "config", "kube-client", "kube-runtime", "ring", "runtime", "rustls-tls"] }}
kube-client = {{ version = "5", default-features = false, features = ["__non_core", "base64", "bytes", "client", "config", "either", "futures", "http-body", "http-body-util", "hyper", "hyper-rustls", "hyper-timeout", "hyper-util", "jiff", "jsonpatch", "jsonpath-rust", "pem", "ring", "rustls", "rustls-tls", "serde-saphyr", "tokio", "tokio-util", "tower", "tower-http", "tracing"] }}
kube-core = {{ version = "5", default-features = false, features = ["json-patch", "jsonpatch"] }}
libc = {{ version = "0.2", features = ["extra_traits", "std"] }}
rand = {{ version = "0.10", features = ["alloc", "std", "std_rng", "sys_rng", "thread_rng"] }}
rustix = {{ version = "1", features = ["alloc", "event", "fs", "net", "pipe", "process", "std", "time"] }}
tokio-util = {{ version = "0.7", features = ["codec", "io", "libc", "slab", "time"] }}
tracing = {{ version = "0.1", features = ["attributes", "log", "std", "tracing-attributes"] }}
tracing-core = {{ version = "0.1", features = ["once_cell", "std"] }}
zerocopy = {{ version = "0.8", default-features = false, features = ["derive", "simd", "zerocopy-derive"] }}

[build-dependencies]
either = "1"
tracing = "0.1"

{profiles}"#,
        root = root().display()
    );
    std::fs::write(out.join("Cargo.toml"), manifest).unwrap();
    copy_lock(&out);
    let env = [
        ("AWS_ENDPOINT_URL", url),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "no-aws-config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "no-aws-credentials"),
    ];
    let started = std::time::Instant::now();
    let built = cargo_with(&out, &["build", "--offline"], &env);
    assert!(built.status.success(), "the generated program builds");
    let log = String::from_utf8_lossy(&built.stderr);
    let sdks: Vec<&str> = log
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Compiling aws-sdk-"))
        .collect();
    eprintln!(
        "built the generated program in {:.0?}{}",
        started.elapsed(),
        if sdks.is_empty() {
            ", reusing the outer run's AWS SDK build".to_string()
        } else {
            format!(
                "; it compiled aws-sdk-{} again (the outer run was not \
                 `cargo test --workspace --all-features`, or the features in \
                 tests/support/adopt.rs no longer match its)",
                sdks.join(", aws-sdk-")
            )
        }
    );
    let run = |args: &[&str]| {
        let mut all = vec!["run", "--offline", "-q", "--"];
        all.extend_from_slice(args);
        cargo_with(&out, &all, &env)
    };

    let r = run(&["import", "--file", "imports.json", "--yes"]);
    assert!(r.status.success(), "the generated program imports");
    for (name, id) in made.by_name() {
        assert!(
            stdout(&r).contains(&format!("Imported {id} as {name}.")),
            "{}",
            stdout(&r)
        );
    }
    assert!(
        stdout(&r).contains("Every object matches the program."),
        "{}",
        stdout(&r)
    );

    let r = run(&["preview", "--detailed-exitcode"]);
    assert_eq!(
        r.status.code(),
        Some(0),
        "a refreshed preview of the generated program shows no changes"
    );
    assert!(stdout(&r).contains("No changes"), "{}", stdout(&r));

    let r = run(&["destroy", "--yes"]);
    assert!(r.status.success(), "destroy succeeds");
    assert_nothing_left(aws, made).await;
}

/// Asserts none of the objects `made` names exists any more.
async fn assert_nothing_left(aws: &Clients, made: &Made) {
    let e = &aws.ec2;
    let filter = |name: &str, id: &str| {
        sdk_ec2::types::Filter::builder()
            .name(name)
            .values(id)
            .build()
    };
    let left = e
        .describe_vpcs()
        .filters(filter("vpc-id", &made.vpc))
        .send()
        .await
        .unwrap();
    assert!(left.vpcs().is_empty(), "the VPC is gone");
    let left = e
        .describe_subnets()
        .filters(filter("subnet-id", &made.subnet))
        .send()
        .await
        .unwrap();
    assert!(left.subnets().is_empty(), "the subnet is gone");
    let left = e
        .describe_security_groups()
        .filters(filter("group-id", &made.sg))
        .send()
        .await
        .unwrap();
    assert!(left.security_groups().is_empty(), "the group is gone");
    let left = e
        .describe_internet_gateways()
        .filters(filter("internet-gateway-id", &made.igw))
        .send()
        .await
        .unwrap();
    assert!(left.internet_gateways().is_empty(), "the gateway is gone");
    let left = e
        .describe_route_tables()
        .filters(filter("route-table-id", &made.rtb))
        .send()
        .await
        .unwrap();
    assert!(left.route_tables().is_empty(), "the route table is gone");
}
