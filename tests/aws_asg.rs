//! The `aws_asg` example as a user runs it, against a moto server on
//! 127.0.0.1, in two regions through two named provider instances: up →
//! no-change preview → a group's size changed by hand is drift, put back by
//! `up` → a new `version` replaces each region's launch template and the
//! rolling policy cycles every instance of the group onto it, 25% at a
//! time → destroy, after which the SDK lists no group, launch template,
//! load balancer or hosted zone record of the stack in either region.
//!
//! Needs `DAFNCK_MOTO_URL` (`scripts/servers/moto.sh start`, or
//! `scripts/test.sh`); without it the test says it is skipped, unless
//! `DAFNCK_REQUIRE_SERVERS=1`, when it fails.
#![cfg(feature = "aws")]

mod support;

#[path = "support/aws_example.rs"]
mod aws_example;

use std::io::Write as _;
use std::path::Path;

use aws_example::{expect, id_of, reset, run_of, Clients, Run};

const REGIONS: [&str; 2] = ["us-east-1", "us-west-2"];

fn run(dir: &Path, url: &str, args: &[&str], config: &[String]) -> Run {
    run_of("aws_asg", dir, url, args, config)
}

/// What only this test asks of moto.
impl Clients {
    /// The group's instances, sorted, and the template it launches from.
    async fn group(&self, name: &str) -> (Vec<String>, String) {
        let out = self
            .asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .unwrap();
        let g = &out.auto_scaling_groups()[0];
        let mut ids: Vec<String> = g
            .instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect();
        ids.sort();
        let lt = g
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .unwrap_or_default()
            .to_owned();
        (ids, lt)
    }

    /// The launch template each of `ids` was launched from (EC2's tag).
    async fn launched_from(&self, ids: &[String]) -> Vec<String> {
        let out = self
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .unwrap();
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                i.tags()
                    .iter()
                    .find(|t| t.key() == Some("aws:ec2launchtemplate:id"))
                    .and_then(|t| t.value())
                    .unwrap_or("(none)")
                    .to_owned()
            })
            .collect()
    }

    /// Every group, launch template and load balancer of the region.
    async fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        let groups = self
            .asg
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap();
        left.extend(
            groups
                .auto_scaling_groups()
                .iter()
                .map(|g| format!("group {:?}", g.auto_scaling_group_name())),
        );
        let lts = self.ec2.describe_launch_templates().send().await.unwrap();
        left.extend(
            lts.launch_templates()
                .iter()
                .map(|t| format!("launch template {:?}", t.launch_template_id())),
        );
        let lbs = self.elb.describe_load_balancers().send().await.unwrap();
        left.extend(
            lbs.load_balancers()
                .iter()
                .map(|l| format!("load balancer {:?}", l.load_balancer_arn())),
        );
        left
    }

    /// Every record of every hosted zone (Route 53 is global).
    async fn records(&self) -> Vec<String> {
        let mut left = Vec::new();
        let zones = self.route53.list_hosted_zones().send().await.unwrap();
        for z in zones.hosted_zones() {
            let sets = self
                .route53
                .list_resource_record_sets()
                .hosted_zone_id(z.id())
                .send()
                .await
                .unwrap();
            left.extend(
                sets.resource_record_sets()
                    .iter()
                    .map(|s| format!("{} {} {:?}", s.name(), s.r#type(), s.set_identifier())),
            );
        }
        left
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_regions_fail_over_by_dns_roll_a_new_template_through_each_group_and_leave_nothing() {
    let Ok(url) = std::env::var("DAFNCK_MOTO_URL") else {
        let why = "moto is not running (scripts/servers/moto.sh start, or scripts/test.sh)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("{why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        let _ = writeln!(std::io::stderr(), "SKIPPED aws_asg example: {why}");
        return;
    };
    reset(&url);
    let east = Clients::in_region(&url, REGIONS[0]).await;
    let west = Clients::in_region(&url, REGIONS[1]).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let ami = format!("ami={}", east.ami().await);
    // moto's AMIs differ by region.
    let base = vec![
        ami.clone(),
        format!("secondary_ami={}", west.ami().await),
        "batch_timeout_secs=20".to_owned(),
    ];

    // up, then nothing to do.
    let r = run(dir, &url, &["up", "--yes"], &base);
    expect(&r, 0);
    let r = run(dir, &url, &["preview", "--detailed-exitcode"], &base);
    expect(&r, 0);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);

    // A group of four in each region, behind its load balancer; the
    // failover pair in the zone.
    let primary = id_of(dir, &url, "primary-web");
    let secondary = id_of(dir, &url, "secondary-web");
    let (before, lt) = east.group(&primary).await;
    assert_eq!(before.len(), 4);
    assert_eq!(lt, id_of(dir, &url, "primary-web-lt"));
    assert_eq!(west.group(&secondary).await.0.len(), 4);
    let records = east.records().await;
    for role in ["primary", "secondary"] {
        assert!(
            records
                .iter()
                .any(|r| r.starts_with("www.dafnck-asg.example.com. A") && r.contains(role)),
            "{records:?}"
        );
    }

    // The primary group's maximum changed by hand: drift, put back by up.
    east.asg
        .update_auto_scaling_group()
        .auto_scaling_group_name(&primary)
        .max_size(12)
        .send()
        .await
        .unwrap();
    let r = run(dir, &url, &["drift"], &base);
    expect(&r, 2);
    assert!(
        r.stdout.contains("primary-web") && r.stdout.contains("max_size"),
        "{}",
        r.stdout
    );
    expect(&run(dir, &url, &["up", "--yes"], &base), 0);
    let out = east
        .asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&primary)
        .send()
        .await
        .unwrap();
    assert_eq!(out.auto_scaling_groups()[0].max_size(), Some(8));

    // A new version: a new template in each region, and the rolling policy
    // cycles every instance onto it.
    let v2 = [base.clone(), vec!["version=v2".to_owned()]].concat();
    let r = run(dir, &url, &["preview"], &v2);
    expect(&r, 0);
    assert!(
        r.stdout.contains("primary-web-lt")
            && r.stdout.contains("deploy by rolling, 25% at a time"),
        "{}",
        r.stdout
    );
    let r = run(dir, &url, &["up", "--yes"], &v2);
    expect(&r, 0);
    let new_lt = id_of(dir, &url, "primary-web-lt");
    assert_ne!(new_lt, lt, "a new launch template");
    let (after, now) = east.group(&primary).await;
    assert_eq!(now, new_lt, "the group launches from the new template");
    assert_eq!(after.len(), 4);
    assert!(
        after.iter().all(|i| !before.contains(i)),
        "every instance replaced"
    );
    assert_eq!(east.launched_from(&after).await, vec![new_lt.clone(); 4]);
    let old = east
        .ec2
        .describe_launch_templates()
        .send()
        .await
        .unwrap()
        .launch_templates()
        .iter()
        .filter(|t| t.launch_template_id() == Some(lt.as_str()))
        .count();
    assert_eq!(old, 0, "the old template is deleted");
    let r = run(dir, &url, &["rollout", "status", "primary-web-lt"], &v2);
    expect(&r, 0);
    assert!(r.stdout.contains("Completed"), "{}", r.stdout);
    let r = run(dir, &url, &["preview", "--detailed-exitcode"], &v2);
    expect(&r, 0);

    // destroy: nothing left in either region, and no record.
    expect(&run(dir, &url, &["destroy", "--yes"], &v2), 0);
    for (region, aws) in [(REGIONS[0], &east), (REGIONS[1], &west)] {
        assert_eq!(aws.leftovers().await, Vec::<String>::new(), "{region}");
    }
    assert_eq!(east.records().await, Vec::<String>::new());
}
