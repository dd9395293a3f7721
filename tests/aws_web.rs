//! The `aws_web` example as a user runs it, against a moto server on
//! 127.0.0.1: up → no-change preview → a tag and instance type change in
//! place → a subnet range change that replaces the subnet and its instance
//! in the right order → destroy, after which the SDK lists nothing of the
//! stack (EC2 or ELBv2).
//!
//! Needs `DAFNCK_MOTO_URL` (`scripts/servers/moto.sh start`, or
//! `scripts/test.sh`); without it the test says it is skipped, unless
//! `DAFNCK_REQUIRE_SERVERS=1`, when it fails.
#![cfg(feature = "aws")]

mod support;

#[path = "support/aws_example.rs"]
mod aws_example;

use aws_example::{done_at, expect, id_of, reset, run, Clients};
use dafnck::providers::aws::sdk::ec2;
use dafnck::providers::aws::STACK_TAG;

/// What only this test asks of moto.
impl Clients {
    async fn instance(&self, id: &str) -> ec2::types::Instance {
        let out = self
            .ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .unwrap();
        out.reservations()[0].instances()[0].clone()
    }

    /// What is left of the stack `dev` (by tag for EC2; every ELBv2 object,
    /// as moto has no other).
    async fn leftovers(&self) -> Vec<String> {
        let tagged = || {
            ec2::types::Filter::builder()
                .name(format!("tag:{STACK_TAG}"))
                .values("dev")
                .build()
        };
        let e = &self.ec2;
        let mut left = Vec::new();
        let vpcs = e.describe_vpcs().filters(tagged()).send().await.unwrap();
        left.extend(vpcs.vpcs().iter().map(|v| format!("{:?}", v.vpc_id())));
        let subnets = e.describe_subnets().filters(tagged()).send().await.unwrap();
        left.extend(
            subnets
                .subnets()
                .iter()
                .map(|s| format!("{:?}", s.subnet_id())),
        );
        let sgs = e
            .describe_security_groups()
            .filters(tagged())
            .send()
            .await
            .unwrap();
        left.extend(
            sgs.security_groups()
                .iter()
                .map(|g| format!("{:?}", g.group_id())),
        );
        let igws = e
            .describe_internet_gateways()
            .filters(tagged())
            .send()
            .await
            .unwrap();
        left.extend(
            igws.internet_gateways()
                .iter()
                .map(|g| format!("{:?}", g.internet_gateway_id())),
        );
        let rts = e
            .describe_route_tables()
            .filters(tagged())
            .send()
            .await
            .unwrap();
        left.extend(
            rts.route_tables()
                .iter()
                .map(|t| format!("{:?}", t.route_table_id())),
        );
        left.extend(self.live_instances().await);
        let lbs = self.elb.describe_load_balancers().send().await.unwrap();
        left.extend(
            lbs.load_balancers()
                .iter()
                .map(|l| format!("{:?}", l.load_balancer_arn())),
        );
        let tgs = self.elb.describe_target_groups().send().await.unwrap();
        left.extend(
            tgs.target_groups()
                .iter()
                .map(|g| format!("{:?}", g.target_group_arn())),
        );
        left
    }
}

/// The action the JSON plan has for `name`.
fn action<'a>(plan: &'a serde_json::Value, name: &str) -> &'a str {
    aws_example::named(&plan["changes"], name)["action"]
        .as_str()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_is_deployed_changed_in_place_replaced_in_order_and_destroyed() {
    let Some(url) = aws_example::moto_url("aws_web example") else {
        return;
    };
    reset(&url);
    let aws = Clients::new(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let ami = format!("ami={}", aws.ami().await);
    let base = vec![ami.clone()];

    // up, then nothing to do.
    let r = run(dir, &url, &["up", "--yes"], &base);
    expect(&r, 0);
    assert!(
        r.stdout.contains("Apply complete") && r.stdout.contains("url"),
        "{}",
        r.stdout
    );
    let r = run(dir, &url, &["preview", "--detailed-exitcode"], &base);
    expect(&r, 0);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);

    let web1 = id_of(dir, &url, "web-1");
    let web2 = id_of(dir, &url, "web-2");
    let tg = id_of(dir, &url, "web-tg");
    let lb = id_of(dir, &url, "lb");
    let mut both = vec![web1.clone(), web2.clone()];
    both.sort();
    assert_eq!(aws.targets(&tg).await, both, "both web servers are targets");
    let listeners = aws
        .elb
        .describe_listeners()
        .load_balancer_arn(&lb)
        .send()
        .await
        .unwrap();
    let forward = listeners.listeners()[0].default_actions()[0]
        .forward_config()
        .unwrap()
        .target_groups();
    assert_eq!(forward.len(), 1);
    assert_eq!(forward[0].target_group_arn(), Some(tg.as_str()));
    assert_eq!(listeners.listeners()[0].port(), Some(80));

    // A tag and the instance type: every change in place, same instances.
    let resized = vec![
        ami.clone(),
        "instance_type=t3.small".to_owned(),
        "team=platform".to_owned(),
    ];
    let r = run(dir, &url, &["preview", "--json"], &resized);
    expect(&r, 0);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(plan["summary"]["replace"], 0, "{plan}");
    assert_eq!(plan["summary"]["create"], 0, "{plan}");
    for name in ["web-1", "web-2", "lb", "web-tg", "http", "vpc", "public-1"] {
        assert_eq!(action(&plan, name), "update", "{name}: {plan}");
    }
    expect(&run(dir, &url, &["up", "--yes"], &resized), 0);
    assert_eq!(id_of(dir, &url, "web-1"), web1);
    assert_eq!(id_of(dir, &url, "web-2"), web2);
    assert_eq!(id_of(dir, &url, "lb"), lb);
    let i = aws.instance(&web1).await;
    assert_eq!(i.instance_type().unwrap().as_str(), "t3.small");
    assert!(i
        .tags()
        .iter()
        .any(|t| t.key() == Some("team") && t.value() == Some("platform")));
    let lb_tags = aws
        .elb
        .describe_tags()
        .resource_arns(&lb)
        .send()
        .await
        .unwrap();
    assert!(lb_tags.tag_descriptions()[0]
        .tags()
        .iter()
        .any(|t| t.key() == Some("team") && t.value() == Some("platform")));
    assert_eq!(aws.targets(&tg).await, both);

    // A new range for the second subnet replaces it and the instance in
    // it; the load balancer, target group and route table follow in place,
    // and the old objects go only once nothing uses them.
    let old_subnet = id_of(dir, &url, "public-2");
    let moved = [
        resized.clone(),
        vec!["subnet_cidrs=10.0.1.0/24,10.0.3.0/24".to_owned()],
    ]
    .concat();
    let r = run(dir, &url, &["preview", "--json"], &moved);
    expect(&r, 0);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(action(&plan, "public-2"), "replace", "{plan}");
    assert_eq!(action(&plan, "web-2"), "replace", "{plan}");
    assert_eq!(action(&plan, "web-1"), "noop", "{plan}");
    for name in ["lb", "web-tg", "public-routes"] {
        assert_eq!(action(&plan, name), "update", "{name}: {plan}");
    }
    let r = run(dir, &url, &["up", "--yes"], &moved);
    expect(&r, 0);
    let e = &r.stderr;
    let new_subnet = done_at(e, "create replacement public-2");
    let new_web = done_at(e, "create replacement web-2");
    let targets = done_at(e, "update web-tg");
    let lb_subnets = done_at(e, "update lb");
    let routes = done_at(e, "update public-routes");
    let old_web = done_at(e, "delete replaced web-2");
    let old_subnet_gone = done_at(e, "delete replaced public-2");
    assert!(new_subnet < new_web, "{e}");
    assert!(new_web < targets && targets < old_web, "{e}");
    assert!(
        new_subnet < lb_subnets && lb_subnets < old_subnet_gone,
        "{e}"
    );
    assert!(routes < old_subnet_gone && old_web < old_subnet_gone, "{e}");

    let web2_new = id_of(dir, &url, "web-2");
    let subnet_new = id_of(dir, &url, "public-2");
    assert_ne!(web2_new, web2);
    assert_ne!(subnet_new, old_subnet);
    assert_eq!(
        aws.instance(&web2_new).await.subnet_id(),
        Some(subnet_new.as_str())
    );
    let mut both = vec![web1.clone(), web2_new.clone()];
    both.sort();
    assert_eq!(aws.live_instances().await, both, "the old web-2 is gone");
    assert_eq!(aws.targets(&tg).await, both, "the target group follows");
    let found = aws
        .elb
        .describe_load_balancers()
        .load_balancer_arns(&lb)
        .send()
        .await
        .unwrap();
    let mut lb_subnets: Vec<&str> = found.load_balancers()[0]
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id())
        .collect();
    lb_subnets.sort_unstable();
    let mut expected = vec![id_of(dir, &url, "public-1"), subnet_new.clone()];
    expected.sort();
    assert_eq!(lb_subnets, expected);
    assert!(
        aws.ec2
            .describe_subnets()
            .subnet_ids(&old_subnet)
            .send()
            .await
            .is_err(),
        "the old subnet is deleted"
    );
    let r = run(dir, &url, &["preview", "--detailed-exitcode"], &moved);
    expect(&r, 0);

    // destroy leaves nothing of the stack.
    expect(&run(dir, &url, &["destroy", "--yes"], &moved), 0);
    let left = aws.leftovers().await;
    assert!(left.is_empty(), "left behind: {left:?}");
}
