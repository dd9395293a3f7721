//! `preview --cost` and the `cost.budget` rule on the `aws_web` example
//! against moto: the web tier's monthly cost checked against a hand
//! computation from the shipped US East prices, the change of instance
//! type priced before → after, and an `up` over the budget refused before
//! anything changes.
//!
//! Needs `DAFNCK_MOTO_URL` (`scripts/servers/moto.sh start`, or
//! `scripts/test.sh`); without it the test says it is skipped, unless
//! `DAFNCK_REQUIRE_SERVERS=1`, when it fails.
#![cfg(feature = "aws")]

mod support;

#[path = "support/aws_example.rs"]
mod aws_example;

use aws_example::{expect, reset, run, Clients};

/// The shipped prices the hand computation uses (`prices.json`, US East):
/// t3.micro $0.0104/h, t3.small $0.0208/h, a public IPv4 address
/// $0.005/h, an application load balancer $0.0225/h, 730 h a month.
const T3_MICRO: f64 = 0.0104;
const T3_SMALL: f64 = 0.0208;
const IPV4: f64 = 0.005;
const ALB: f64 = 0.0225;
const HOURS: f64 = 730.0;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// The monthly cost `preview --cost --json` gives `name`, after the change.
fn resource_cost(cost: &serde_json::Value, side: &str, name: &str) -> f64 {
    aws_example::named(&cost[side]["resources"], name)["estimate"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["monthly"].as_f64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_tier_is_priced_as_by_hand_and_a_change_over_budget_is_refused() {
    let Some(url) = aws_example::moto_url("aws_cost") else {
        return;
    };
    reset(&url);
    let aws = Clients::new(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let ami = format!("ami={}", aws.ami().await);
    let base = vec![ami.clone()];

    // Before anything exists: two t3.micro web servers, each with a
    // public address (their subnets map public IPs on launch), and an
    // application load balancer, whose capacity units are priced by use.
    let r = run(dir, &url, &["preview", "--cost", "--json"], &base);
    expect(&r, 0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let cost = &doc["cost"];
    let web = (T3_MICRO + IPV4) * HOURS;
    let lb = ALB * HOURS;
    assert!(close(resource_cost(cost, "after", "web-1"), web), "{cost}");
    assert!(close(resource_cost(cost, "after", "web-2"), web), "{cost}");
    assert!(close(resource_cost(cost, "after", "lb"), lb), "{cost}");
    assert!(close(resource_cost(cost, "after", "vpc"), 0.0), "{cost}");
    let total = 2.0 * web + lb;
    assert!(close(total, 38.909), "the hand computation: {total}");
    assert!(
        close(cost["after"]["monthly"].as_f64().unwrap(), total),
        "{cost}"
    );
    assert_eq!(cost["before"]["monthly"].as_f64(), Some(0.0));
    assert_eq!(
        (cost["region"].as_str(), cost["currency"].as_str()),
        (Some("us-east-1"), Some("USD"))
    );
    let lb_usage = &cost["after"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "lb")
        .unwrap()["estimate"]["usage"][0];
    assert_eq!(
        (lb_usage["unit"].as_str(), lb_usage["unit_price"].as_f64()),
        (Some("LCU-hour"), Some(0.008))
    );

    // Within a budget of 50 a month, `up` goes ahead.
    let budget = "cost.budget=50".to_owned();
    let r = run(dir, &url, &["up", "--yes"], &[ami.clone(), budget.clone()]);
    expect(&r, 0);
    let made = aws.live_instances().await;
    assert_eq!(made.len(), 2);

    // t3.small: priced before → after in the text preview...
    let small = vec![ami.clone(), "instance_type=t3.small".to_owned()];
    let r = run(dir, &url, &["preview", "--cost"], &small);
    expect(&r, 0);
    let after = 2.0 * (T3_SMALL + IPV4) * HOURS + lb;
    assert!(close(after, 54.093), "the hand computation: {after}");
    assert!(
        r.stdout
            .contains("Total: 38.91 → 54.09 USD/month (+15.18); usage-based prices are extra."),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("instance t3.small : 730 hour × 0.0208 = 15.18"),
        "{}",
        r.stdout
    );

    // ...and refused by the budget before any change: the instances keep
    // their type.
    let mut over = small.clone();
    over.push(budget);
    let r = run(dir, &url, &["up", "--yes"], &over);
    expect(&r, 1);
    assert!(
        r.stderr.contains("DAF-COST-001")
            && r.stderr.contains("54.09 USD, over the budget of 50.00 USD"),
        "{}",
        r.stderr
    );
    assert_eq!(aws.live_instances().await, made);
    let r = run(dir, &url, &["preview", "--detailed-exitcode"], &base);
    expect(&r, 0);

    // A price file overrides the shipped one; a broken one is named.
    let prices = dir.join("prices.json");
    std::fs::write(
        &prices,
        r#"{"date":"2027-01-01","currency":"USD","region":"us-east-1",
            "prices":{"aws:ec2:Instance/t3.micro":{"unit":"hour","price":0.02}}}"#,
    )
    .unwrap();
    let r = run(
        dir,
        &url,
        &["preview", "--cost", "--prices", prices.to_str().unwrap()],
        &base,
    );
    expect(&r, 0);
    let repriced = 2.0 * (0.02 + IPV4) * HOURS + lb;
    assert!(
        r.stdout
            .contains(&format!("Total: {repriced:.2} → {repriced:.2}")),
        "{}",
        r.stdout
    );
    std::fs::write(&prices, "{").unwrap();
    let r = run(
        dir,
        &url,
        &["preview", "--cost", "--prices", prices.to_str().unwrap()],
        &base,
    );
    expect(&r, 1);
    assert!(
        r.stderr.contains("prices.json: not a price table"),
        "{}",
        r.stderr
    );

    expect(&run(dir, &url, &["destroy", "--yes"], &[ami]), 0);
}
