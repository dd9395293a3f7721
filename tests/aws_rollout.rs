//! Web servers rolled out behind an ALB by the engine, against a moto
//! server on 127.0.0.1: the `aws_web` example with `rollout=canary` puts a
//! canary policy on its target group. A new version replaces the servers;
//! the engine creates a second target group holding them, the policy moves
//! the listener's weights step by step (watched here through the SDK while
//! `up` runs), and once promoted the listener forwards to the new group
//! only and the old group and servers are gone. A version the analysis
//! rejects is rolled back: the listener forwards to the serving group
//! exactly as recorded, the new group is gone, the serving servers still
//! run, and nothing has drifted. A run killed mid-canary leaves the
//! traffic split; the next `up` puts it back on the serving group, deletes
//! the orphaned group and rolls out again.
//!
//! Needs `DAFNCK_MOTO_URL` (`scripts/servers/moto.sh start`, or
//! `scripts/test.sh`); without it the test says it is skipped, unless
//! `DAFNCK_REQUIRE_SERVERS=1`, when it fails.
#![cfg(feature = "aws")]

mod support;

#[path = "support/aws_example.rs"]
mod aws_example;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_example::{command, done_at, expect, id_of, reset, run, Clients, Run, AWS_WEB};

/// A listener's forward: target group → weight.
type Forwarding = BTreeMap<String, i32>;

/// What only this test asks of moto.
impl Clients {
    /// Every target group's ARN, sorted.
    async fn target_groups(&self) -> Vec<String> {
        let out = self.elb.describe_target_groups().send().await.unwrap();
        let mut arns: Vec<String> = out
            .target_groups()
            .iter()
            .filter_map(|g| g.target_group_arn().map(str::to_owned))
            .collect();
        arns.sort();
        arns
    }

    /// The target groups and weights of the listener's default forward.
    async fn forwarding(&self, listener: &str) -> Forwarding {
        let out = self
            .elb
            .describe_listeners()
            .listener_arns(listener)
            .send()
            .await
            .unwrap();
        let actions = out.listeners()[0].default_actions();
        assert_eq!(actions.len(), 1, "one default action: {actions:?}");
        let forward = actions[0].forward_config().expect("a forward action");
        forward
            .target_groups()
            .iter()
            .map(|t| {
                (
                    t.target_group_arn().unwrap().to_owned(),
                    t.weight().unwrap_or(1),
                )
            })
            .collect()
    }

    /// Runs `up` with `config` while reading the listener's forward every
    /// 10 ms; returns the run and each distinct forward seen, in order.
    async fn up_watching(
        &self,
        dir: &Path,
        url: &str,
        listener: &str,
        config: &[String],
    ) -> (Run, Vec<Forwarding>) {
        AWS_WEB
            .up_watching(dir, url, config, || self.forwarding(listener))
            .await
    }
}

fn forward(groups: &[(&str, i32)]) -> Forwarding {
    groups.iter().map(|(g, w)| ((*g).to_owned(), *w)).collect()
}

/// Whether `wanted` occur in `seen` in this order (others may come
/// between), as traffic: a group at weight 0 gets none, so `{a: 100}` and
/// `{a: 100, b: 0}` (a new group attached for its health checks, or a
/// reset seen only once the next rollout attached its group) are the same.
fn in_order(seen: &[Forwarding], wanted: &[Forwarding]) -> bool {
    let traffic = |f: &Forwarding| -> Forwarding {
        f.iter()
            .filter(|(_, w)| **w != 0)
            .map(|(g, w)| (g.clone(), *w))
            .collect()
    };
    let mut it = seen.iter();
    wanted.iter().all(|w| it.any(|s| traffic(s) == traffic(w)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_behind_an_alb_are_rolled_out_by_canary_and_rolled_back() {
    let Some(url) = aws_example::moto_url("aws rollout") else {
        return;
    };
    reset(&url);
    let aws = Clients::new(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let base = [
        format!("ami={}", aws.ami().await),
        "rollout=canary".to_owned(),
        "analysis_interval_ms=1000".to_owned(),
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter()
            .cloned()
            .chain(extra.iter().map(|s| (*s).to_owned()))
            .collect()
    };

    // v1: everything created; the listener forwards to the one group.
    let v1 = with(&["version=v1", "canary_steps=20:2,50:2"]);
    expect(&run(dir, &url, &["up", "--yes"], &v1), 0);
    let tg1 = id_of(dir, &url, "web-tg");
    let listener = id_of(dir, &url, "http");
    let mut servers_v1 = vec![id_of(dir, &url, "web-1"), id_of(dir, &url, "web-2")];
    servers_v1.sort();
    assert_eq!(aws.targets(&tg1).await, servers_v1);
    assert_eq!(aws.forwarding(&listener).await, forward(&[(&tg1, 100)]));

    // v2: new servers, so the group's targets change: the plan rolls the
    // group out by canary.
    let v2 = with(&["version=v2", "canary_steps=20:2,50:2"]);
    let r = run(dir, &url, &["preview"], &v2);
    expect(&r, 0);
    assert!(
        r.stdout.contains("deploy by canary 20%"),
        "the plan shows the canary:\n{}",
        r.stdout
    );
    let (r, seen) = aws.up_watching(dir, &url, &listener, &v2).await;
    expect(&r, 0);
    let tg2 = id_of(dir, &url, "web-tg");
    assert_ne!(tg2, tg1, "a new target group");
    assert!(
        in_order(
            &seen,
            &[
                forward(&[(&tg1, 100)]),
                // (Attached at 0% in between while its targets' health is
                // checked: moto reports running instances healthy at once,
                // too briefly to be seen here; tests/alb/rollouts.rs of the
                // strategies shows it.)
                forward(&[(&tg1, 80), (&tg2, 20)]),
                forward(&[(&tg1, 50), (&tg2, 50)]),
                forward(&[(&tg2, 100)]),
            ]
        ),
        "the listener follows the steps: {seen:?}"
    );
    assert_eq!(
        aws.forwarding(&listener).await,
        forward(&[(&tg2, 100)]),
        "the listener forwards to the new group only"
    );
    assert_eq!(
        aws.target_groups().await,
        vec![tg2.clone()],
        "the old group is deleted"
    );
    let mut servers_v2 = vec![id_of(dir, &url, "web-1"), id_of(dir, &url, "web-2")];
    servers_v2.sort();
    assert_eq!(aws.targets(&tg2).await, servers_v2);
    assert_eq!(
        aws.live_instances().await,
        servers_v2,
        "the old servers are terminated"
    );
    // The engine's order: the new group rolled out, then the listener
    // updated onto it, then the old group deleted, then the old servers.
    let e = &r.stderr;
    let rolled_out = done_at(e, "create replacement web-tg");
    let listener_updated = done_at(e, "update http");
    let old_group = done_at(e, "delete replaced web-tg");
    for server in ["web-1", "web-2"] {
        let new_server = done_at(e, &format!("create replacement {server}"));
        let old_server = done_at(e, &format!("delete replaced {server}"));
        assert!(new_server < rolled_out && old_group < old_server, "{e}");
    }
    assert!(
        rolled_out < listener_updated && listener_updated < old_group,
        "{e}"
    );
    // Nothing left to do, and nothing drifted.
    let r = run(dir, &url, &["preview", "--detailed-exitcode"], &v2);
    expect(&r, 0);
    let r = run(dir, &url, &["up", "--yes"], &v2);
    expect(&r, 0);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);

    // v3, which the analysis rejects: rolled back at its first step.
    let v3 = with(&["version=v3", "reject_version=v3", "canary_steps=20:2,50:2"]);
    let (r, seen) = aws.up_watching(dir, &url, &listener, &v3).await;
    assert_ne!(r.code, 0, "a rolled-back rollout fails the run");
    assert!(
        r.stderr.contains("rolled back") && r.stderr.contains("version v3 is rejected"),
        "the run says why:\n{}",
        r.stderr
    );
    let canary: Vec<&Forwarding> = seen
        .iter()
        .filter(|f| f.len() == 2 && f.get(&tg2) != Some(&100))
        .filter(|f| f.values().all(|w| *w > 0))
        .collect();
    assert!(
        !canary.is_empty() && canary.iter().all(|f| f.get(&tg2) == Some(&80)),
        "the new group got its first step's 20% and no more: {seen:?}"
    );
    assert_eq!(
        aws.forwarding(&listener).await,
        forward(&[(&tg2, 100)]),
        "all traffic back on the serving group, as recorded"
    );
    assert_eq!(
        id_of(dir, &url, "web-tg"),
        tg2,
        "the state lists the serving group"
    );
    assert_eq!(
        aws.target_groups().await,
        vec![tg2.clone()],
        "the new group is deleted"
    );
    assert_eq!(aws.targets(&tg2).await, servers_v2);
    let live = aws.live_instances().await;
    assert!(
        servers_v2.iter().all(|s| live.contains(s)),
        "the serving servers still run: {live:?}"
    );
    let r = run(dir, &url, &["drift", "--json"], &v3);
    expect(&r, 0);
    assert_eq!(r.stdout.trim(), "[]", "nothing drifted");

    // v4, its `up` killed at 20%: nobody watches the split. The next `up`
    // first puts all traffic back on the serving group and deletes the
    // orphaned new group, then rolls v4 out afresh.
    let slow = with(&["version=v4", "canary_steps=20:60,50:60"]);
    let mut up = command(dir, &url, &["up", "--yes"], &slow)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the aws_web example");
    let deadline = Instant::now() + Duration::from_secs(120);
    let split = loop {
        let now = aws.forwarding(&listener).await;
        // Past the 0% attachment of the readiness check.
        if now.len() == 2 && now.values().all(|w| *w > 0) {
            break now;
        }
        assert!(Instant::now() < deadline, "v4 never got 20%: {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // kill -9: nothing of the run gets to clean up.
    up.kill().unwrap();
    assert!(!up.wait().unwrap().success());
    assert_eq!(split.get(&tg2), Some(&80), "{split:?}");
    let orphan = split.keys().find(|g| **g != tg2).unwrap().clone();
    assert_eq!(aws.forwarding(&listener).await, split, "still split");
    let v4 = with(&["version=v4", "canary_steps=20:2,50:2"]);
    let (r, seen) = aws.up_watching(dir, &url, &listener, &v4).await;
    expect(&r, 0);
    let tg4 = id_of(dir, &url, "web-tg");
    assert!(tg4 != tg2 && tg4 != orphan, "a new group of its own");
    assert!(
        in_order(
            &seen,
            &[
                split.clone(),
                forward(&[(&tg2, 100)]),
                forward(&[(&tg2, 80), (&tg4, 20)]),
                forward(&[(&tg2, 50), (&tg4, 50)]),
                forward(&[(&tg4, 100)]),
            ]
        ),
        "reset to the serving group, then rolled out again: {seen:?}"
    );
    assert_eq!(aws.target_groups().await, vec![tg4.clone()]);
    let mut servers_v4 = vec![id_of(dir, &url, "web-1"), id_of(dir, &url, "web-2")];
    servers_v4.sort();
    assert_eq!(aws.targets(&tg4).await, servers_v4);
    assert_eq!(
        aws.live_instances().await,
        servers_v4,
        "every earlier server is terminated"
    );
    let r = run(dir, &url, &["drift", "--json"], &v4);
    expect(&r, 0);

    // The state is whole: destroy leaves no server and no group.
    expect(&run(dir, &url, &["destroy", "--yes"], &v4), 0);
    assert!(aws.live_instances().await.is_empty());
    assert!(aws.target_groups().await.is_empty());
}
