//! The ALB router against moto: each test makes a VPC with two subnets,
//! an application load balancer, two target groups and a listener, then
//! moves the listener's traffic through `AlbRouter` and checks it with
//! DescribeListeners. moto comes from `DAFNCK_MOTO_URL` (set by
//! `scripts/servers/moto.sh start` or `scripts/test.sh`); without it the
//! tests say they are skipped, unless `DAFNCK_REQUIRE_SERVERS=1`.
//!
//! The tests do not reset moto: every object has a name of its own, so
//! they run in parallel and beside the aws provider's tests' objects.
//! Throttling and access denied, which moto does not produce, come from a
//! proxy in front of moto that answers the first requests with AWS's error
//! and passes the rest through.

#![cfg(feature = "alb")]

mod support;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_elasticloadbalancingv2::config::Credentials;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, AuthenticateOidcActionConfig, ForwardActionConfig,
    LoadBalancerTypeEnum, ProtocolEnum, TargetDescription, TargetGroupStickinessConfig,
    TargetGroupTuple,
};
use aws_sdk_elasticloadbalancingv2::Client;
use dafnck_strategies::{
    AlbError, AlbRouter, Analysis, AnalysisSet, Canary, MemoryFleet, MemoryLog, Phase, Step,
    TargetGroupRouter, TargetHealth, TrafficRollout, TrafficRouter, Verdict, Weights,
};
use support::Script;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ------------------------------------------------------------ the world

/// An ALB with two target groups and a listener forwarding to the stable
/// one, in moto.
#[derive(Clone)]
struct Alb {
    url: String,
    config: SdkConfig,
    elb: Client,
    listener: String,
    stable: String,
    new: String,
}

/// A name no other test or run uses (load balancer and target group names
/// are unique per account, at most 32 characters).
fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}-{:x}-{:x}-{n}",
        std::process::id() & 0xffff,
        nanos >> 8
    )
}

/// moto's URL, or `None` (the test is skipped).
fn moto_url(test: &str) -> Option<String> {
    match std::env::var("DAFNCK_MOTO_URL") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_string()),
        _ => {
            let why = "DAFNCK_MOTO_URL is not set (eval \"$(scripts/servers/moto.sh start)\", or scripts/test.sh)";
            if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
                panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
            }
            // Straight to standard error, past the harness's capture.
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
            None
        }
    }
}

/// An SDK configuration for the endpoint `url`: explicit region and
/// credentials, so nothing is read from this process's environment.
async fn sdk_config(url: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

/// One EC2 Query API call to moto (the test has no EC2 SDK: what a load
/// balancer needs is a VPC and two subnets); the value of `field` in the
/// answer.
async fn ec2(url: &str, params: &[(&str, &str)], field: &str) -> String {
    let host = url.trim_start_matches("http://");
    let mut body = String::from("Version=2016-11-15");
    for (k, v) in params {
        body.push_str(&format!("&{k}={}", v.replace('/', "%2F")));
    }
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(host)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to moto at {url}: {e}"));
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (open, close) = (format!("<{field}>"), format!("</{field}>"));
    let start = response
        .find(&open)
        .unwrap_or_else(|| panic!("moto's answer to {params:?} has no {field}: {response}"))
        + open.len();
    let end = start + response[start..].find(&close).unwrap();
    response[start..end].to_string()
}

/// The listener's first default action for a new ALB: forward to `stable`
/// with plain `TargetGroupArn`, as most listeners are made.
fn plain_forward(stable: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(stable)
        .build()
}

async fn alb(test: &str) -> Option<Alb> {
    alb_with(test, |stable| vec![plain_forward(stable)]).await
}

/// An ALB whose listener starts with the default actions `actions` gives
/// for the stable group.
async fn alb_with(test: &str, actions: impl FnOnce(&str) -> Vec<Action>) -> Option<Alb> {
    let url = moto_url(test)?;
    let vpc = ec2(
        &url,
        &[("Action", "CreateVpc"), ("CidrBlock", "10.0.0.0/16")],
        "vpcId",
    )
    .await;
    let mut subnets = Vec::new();
    for (cidr, zone) in [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")] {
        let subnet = ec2(
            &url,
            &[
                ("Action", "CreateSubnet"),
                ("VpcId", &vpc),
                ("CidrBlock", cidr),
                ("AvailabilityZone", zone),
            ],
            "subnetId",
        )
        .await;
        subnets.push(subnet);
    }
    let config = sdk_config(&url).await;
    let elb = Client::new(&config);
    let lb = elb
        .create_load_balancer()
        .name(unique("alb"))
        .r#type(LoadBalancerTypeEnum::Application)
        .set_subnets(Some(subnets))
        .send()
        .await
        .unwrap();
    let lb = lb.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let mut groups = Vec::new();
    for color in ["blue", "green"] {
        let tg = elb
            .create_target_group()
            .name(unique(color))
            .protocol(ProtocolEnum::Http)
            .port(8080)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        groups.push(
            tg.target_groups()[0]
                .target_group_arn()
                .unwrap()
                .to_string(),
        );
    }
    let listener = elb
        .create_listener()
        .load_balancer_arn(&lb)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .set_default_actions(Some(actions(&groups[0])))
        .send()
        .await
        .unwrap();
    let listener = listener.listeners()[0].listener_arn().unwrap().to_string();
    let new = groups.pop().unwrap();
    let stable = groups.pop().unwrap();
    Some(Alb {
        url,
        config,
        elb,
        listener,
        stable,
        new,
    })
}

impl Alb {
    fn router(&self) -> AlbRouter {
        AlbRouter::with_config(&self.config, &self.listener, &self.stable, &self.new)
            .confirm(Duration::from_secs(5), Duration::from_millis(50))
    }

    /// The listener as DescribeListeners shows it, through the test's own
    /// client.
    async fn listener(&self) -> aws_sdk_elasticloadbalancingv2::types::Listener {
        let out = self
            .elb
            .describe_listeners()
            .listener_arns(&self.listener)
            .send()
            .await
            .unwrap();
        out.listeners()[0].clone()
    }

    /// (stable, new) weights in the listener's forward action; a group
    /// not listed counts 0.
    async fn weights(&self) -> (i32, i32) {
        let groups = self.forwarded().await;
        (
            groups.get(&self.stable).copied().unwrap_or(0),
            groups.get(&self.new).copied().unwrap_or(0),
        )
    }

    /// The groups the listener's forward action lists, with their weights.
    async fn forwarded(&self) -> BTreeMap<String, i32> {
        let l = self.listener().await;
        let forward = l
            .default_actions()
            .iter()
            .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
            .expect("the listener has no forward action");
        let groups: BTreeMap<String, i32> = match forward.forward_config() {
            Some(c) if !c.target_groups().is_empty() => c
                .target_groups()
                .iter()
                .map(|t| {
                    (
                        t.target_group_arn().unwrap().to_string(),
                        t.weight().unwrap(),
                    )
                })
                .collect(),
            _ => BTreeMap::from([(forward.target_group_arn().unwrap().to_string(), 1)]),
        };
        for g in groups.keys() {
            assert!(
                *g == self.stable || *g == self.new,
                "the listener forwards to a third group {g}"
            );
        }
        groups
    }
}

// ------------------------------------------------------ setting weights

#[tokio::test]
async fn weights_0_20_50_100_are_on_the_listener_when_set_weights_returns() {
    let Some(alb) = alb("weights_0_20_50_100_are_on_the_listener_when_set_weights_returns").await
    else {
        return;
    };
    let router = alb.router();
    assert_eq!(router.describe(), format!("ALB listener {}", alb.listener));
    assert_eq!(
        alb.weights().await,
        (1, 0),
        "before: plain forward to stable"
    );
    for (new, want) in [
        (0, (100, 0)),
        (20, (80, 20)),
        (50, (50, 50)),
        (100, (0, 100)),
    ] {
        router.set_weights(Weights::to_new(new)).await.unwrap();
        assert_eq!(alb.weights().await, want, "after setting {new}% new");
        // A group at 0% is not listed at all (so it can be deleted).
        let listed = alb.forwarded().await;
        assert_eq!(listed.contains_key(&alb.stable), new < 100, "{listed:?}");
        assert_eq!(listed.contains_key(&alb.new), new > 0, "{listed:?}");
        let l = alb.listener().await;
        assert_eq!(l.port(), Some(80), "the port is kept");
        assert_eq!(
            l.protocol(),
            Some(&ProtocolEnum::Http),
            "the protocol is kept"
        );
        assert_eq!(l.default_actions().len(), 1);
    }
    // Back down, and the same split twice is fine.
    for new in [20, 20, 0] {
        router.set_weights(Weights::to_new(new)).await.unwrap();
    }
    assert_eq!(alb.weights().await, (100, 0));
}

#[tokio::test]
async fn the_listeners_other_actions_and_stickiness_are_kept() {
    let test = "the_listeners_other_actions_and_stickiness_are_kept";
    let Some(alb) = alb_with(test, |stable| {
        vec![
            Action::builder()
                .r#type(ActionTypeEnum::AuthenticateOidc)
                .order(1)
                .authenticate_oidc_config(
                    AuthenticateOidcActionConfig::builder()
                        .issuer("https://idp.example.com")
                        .authorization_endpoint("https://idp.example.com/authorize")
                        .token_endpoint("https://idp.example.com/token")
                        .user_info_endpoint("https://idp.example.com/userinfo")
                        .client_id("web")
                        .client_secret("s3cret")
                        .build(),
                )
                .build(),
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .order(2)
                .forward_config(
                    ForwardActionConfig::builder()
                        .target_groups(
                            TargetGroupTuple::builder()
                                .target_group_arn(stable)
                                .weight(1)
                                .build(),
                        )
                        .target_group_stickiness_config(
                            TargetGroupStickinessConfig::builder()
                                .enabled(true)
                                .duration_seconds(300)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        ]
    })
    .await
    else {
        return;
    };
    alb.router().set_weights(Weights::to_new(20)).await.unwrap();
    assert_eq!(alb.weights().await, (80, 20));
    let l = alb.listener().await;
    let actions = l.default_actions();
    assert_eq!(actions.len(), 2, "{actions:?}");
    let oidc = actions
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::AuthenticateOidc))
        .expect("the authenticate-oidc action is kept");
    assert_eq!(oidc.order(), Some(1));
    let c = oidc.authenticate_oidc_config().unwrap();
    assert_eq!(c.issuer(), Some("https://idp.example.com"));
    assert_eq!(c.client_id(), Some("web"));
    let forward = actions
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .unwrap();
    assert_eq!(forward.order(), Some(2));
    let sticky = forward
        .forward_config()
        .unwrap()
        .target_group_stickiness_config()
        .unwrap();
    assert_eq!(sticky.enabled(), Some(true));
    assert_eq!(sticky.duration_seconds(), Some(300));
}

// ------------------------------------------------------------ rollouts

/// The ALB router, with the listener's weights read back (by the test's
/// own client) after every change it makes.
struct Watched {
    alb: Alb,
    router: AlbRouter,
    seen: Arc<Mutex<Vec<(i32, i32)>>>,
}

impl Watched {
    fn new(alb: &Alb) -> Self {
        Watched {
            alb: alb.clone(),
            router: alb.router(),
            seen: Arc::default(),
        }
    }
}

#[async_trait]
impl TrafficRouter for Watched {
    fn describe(&self) -> String {
        self.router.describe()
    }
    async fn set_weights(&self, weights: Weights) -> Result<(), String> {
        self.router.set_weights(weights).await?;
        let now = self.alb.weights().await;
        self.seen.lock().unwrap().push(now);
        Ok(())
    }
}

fn short_canary() -> Canary {
    Canary {
        steps: vec![
            Step::new(20, Duration::from_millis(600)),
            Step::new(50, Duration::ZERO),
        ],
        analysis_interval: Duration::from_millis(200),
        ready_timeout: Duration::from_secs(5),
        failure_limit: 0,
    }
}

#[tokio::test]
async fn a_canary_through_the_alb_sets_each_step_and_promotes_to_100_percent() {
    let test = "a_canary_through_the_alb_sets_each_step_and_promotes_to_100_percent";
    let Some(alb) = alb(test).await else {
        return;
    };
    let router = Watched::new(&alb);
    let seen = Arc::clone(&router.seen);
    let healthy = Script::always(Verdict::Pass);
    let log = MemoryLog::new();
    let mut rollout = TrafficRollout::canary("web", &short_canary(), MemoryFleet::new(), router)
        .unwrap()
        .analysis(AnalysisSet::new().with(healthy.clone()))
        .log(log.clone());
    let done = rollout.run(None).await.unwrap();
    assert_eq!(done.phase, Phase::Completed, "{done:?}");
    assert_eq!(*seen.lock().unwrap(), vec![(80, 20), (50, 50), (0, 100)]);
    assert_eq!(alb.weights().await, (0, 100));
    // Analysis ran during the steps (3 intervals of the first, 1 of the
    // second), so the weights were held, not just passed through.
    assert!(healthy.runs() >= 3, "{} analysis runs", healthy.runs());
    assert_eq!(
        log.records()
            .iter()
            .filter(|r| r.phase == Phase::Progressing)
            .map(|r| r.weight)
            .collect::<Vec<_>>(),
        vec![20, 50]
    );
}

#[tokio::test]
async fn a_canary_failing_its_analysis_ends_at_0_percent_on_the_alb() {
    let test = "a_canary_failing_its_analysis_ends_at_0_percent_on_the_alb";
    let Some(alb) = alb(test).await else {
        return;
    };
    let router = Watched::new(&alb);
    let seen = Arc::clone(&router.seen);
    let mut rollout = TrafficRollout::canary("web", &short_canary(), MemoryFleet::new(), router)
        .unwrap()
        .analysis(AnalysisSet::new().with(Script::always(support::fail("error rate 20%"))));
    let done = rollout.run(None).await.unwrap();
    assert_eq!(done.phase, Phase::RolledBack, "{done:?}");
    assert!(
        done.message.as_deref().unwrap().contains("error rate 20%"),
        "{done:?}"
    );
    assert_eq!(*seen.lock().unwrap(), vec![(80, 20), (100, 0)]);
    assert_eq!(alb.weights().await, (100, 0));
    assert!(done.rollback_time_ms().is_some());
}

// ------------------------------------------ readiness: the ALB's own view

#[tokio::test]
async fn prepare_attaches_the_new_group_at_weight_0_and_target_health_judges_its_targets() {
    let test = "prepare_attaches_the_new_group_at_weight_0_and_target_health_judges_its_targets";
    let Some(alb) = alb(test).await else {
        return;
    };
    let router = alb.router();
    // Before any traffic: the new group is in the forward at weight 0, so
    // a real ALB health checks its targets.
    router.prepare().await.unwrap();
    assert_eq!(
        alb.forwarded().await,
        BTreeMap::from([(alb.stable.clone(), 100), (alb.new.clone(), 0)])
    );
    router.prepare().await.unwrap();

    let health = TargetHealth::with_config(&alb.config, &alb.new);
    assert_eq!(health.name(), "target health");
    match health.run().await {
        Verdict::Fail(why) => assert!(why.contains("has no registered target"), "{why}"),
        other => panic!("an empty group is not ready: {other:?}"),
    }
    let image = ec2(
        &alb.url,
        &[("Action", "DescribeImages"), ("Owner.1", "amazon")],
        "imageId",
    )
    .await;
    let instance = ec2(
        &alb.url,
        &[
            ("Action", "RunInstances"),
            ("ImageId", &image),
            ("MinCount", "1"),
            ("MaxCount", "1"),
        ],
        "instanceId",
    )
    .await;
    alb.elb
        .register_targets()
        .target_group_arn(&alb.new)
        .targets(
            TargetDescription::builder()
                .id(&instance)
                .port(8080)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(health.run().await, Verdict::Pass, "a running instance");
    ec2(
        &alb.url,
        &[("Action", "StopInstances"), ("InstanceId.1", &instance)],
        "instanceId",
    )
    .await;
    match health.run().await {
        Verdict::Fail(why) => assert!(
            why.contains(&instance) && why.contains("Target.InvalidState"),
            "{why}"
        ),
        other => panic!("a stopped instance is not healthy: {other:?}"),
    }

    // Any split after it leaves a group at 0% out again.
    router.set_weights(Weights::to_new(0)).await.unwrap();
    assert_eq!(
        alb.forwarded().await,
        BTreeMap::from([(alb.stable.clone(), 100)])
    );
}

// ------------------------------------------ finding the listener itself

#[tokio::test]
async fn the_target_group_router_finds_the_listener_of_the_groups() {
    let Some(alb) = alb("the_target_group_router_finds_the_listener_of_the_groups").await else {
        return;
    };
    let router = TargetGroupRouter::with_config(&alb.config, &alb.stable, &alb.new)
        .confirm(Duration::from_secs(5), Duration::from_millis(50));
    // Found through the stable group's load balancers.
    assert_eq!(router.listener_arn().await.unwrap(), alb.listener);
    router.set_weights(Weights::to_new(20)).await.unwrap();
    assert_eq!(alb.weights().await, (80, 20));
    assert_eq!(
        TrafficRouter::describe(&router),
        format!("ALB listener {}", alb.listener)
    );
    router.set_weights(Weights::to_new(100)).await.unwrap();
    assert_eq!(alb.weights().await, (0, 100));
    // The next rollout's stable group got its place by ModifyListener,
    // which moto does not note in the group's LoadBalancerArns: found by
    // looking at the load balancers of its VPC.
    let next = TargetGroupRouter::with_config(&alb.config, &alb.new, "");
    assert_eq!(next.listener_arn().await.unwrap(), alb.listener);
    // Putting everything on it changes nothing.
    next.set_weights(Weights::to_new(0)).await.unwrap();
    assert_eq!(alb.weights().await, (0, 100));
}

#[tokio::test]
async fn no_listener_or_several_for_the_target_groups_are_clear_errors() {
    let test = "no_listener_or_several_for_the_target_groups_are_clear_errors";
    let Some(alb) = alb(test).await else {
        return;
    };
    // Nothing forwards to the new group alone.
    let lonely = TargetGroupRouter::with_config(&alb.config, &alb.new, "");
    let err = lonely.listener_arn().await.unwrap_err();
    assert!(
        matches!(&err, AlbError::NoListener { stable, .. } if *stable == alb.new),
        "{err:?}"
    );
    let text = lonely.set_weights(Weights::to_new(20)).await.unwrap_err();
    assert!(
        text.contains("no ALB listener forwards to target group") && text.contains(&alb.new),
        "{text}"
    );
    // All traffic off a group no listener uses already holds: a rollback
    // with nothing to undo finishes.
    lonely.set_weights(Weights::to_new(0)).await.unwrap();
    assert_eq!(alb.weights().await, (1, 0), "nothing was changed");

    // A second listener forwarding to the stable group: which one to move
    // is not guessed.
    let lb = alb.listener().await.load_balancer_arn().unwrap().to_owned();
    let second = alb
        .elb
        .create_listener()
        .load_balancer_arn(&lb)
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .default_actions(plain_forward(&alb.stable))
        .send()
        .await
        .unwrap();
    let second = second.listeners()[0].listener_arn().unwrap().to_owned();
    let router = TargetGroupRouter::with_config(&alb.config, &alb.stable, &alb.new);
    let err = router.listener_arn().await.unwrap_err();
    match &err {
        AlbError::SeveralListeners { listeners, .. } => {
            let mut expected = vec![alb.listener.clone(), second];
            expected.sort();
            assert_eq!(*listeners, expected);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("AlbRouter"), "{err}");
    assert!(router.set_weights(Weights::to_new(20)).await.is_err());
    assert_eq!(alb.weights().await, (1, 0), "nothing was changed");
}

// ------------------------------------------------------------- errors

#[tokio::test]
async fn a_listener_that_does_not_exist_is_a_clear_error() {
    let Some(alb) = alb("a_listener_that_does_not_exist_is_a_clear_error").await else {
        return;
    };
    // The real listener's load balancer, a listener id it does not have.
    let (lb_part, _) = alb.listener.rsplit_once('/').unwrap();
    let missing = format!("{lb_part}/0123456789abcdef");
    let router = AlbRouter::with_config(&alb.config, &missing, &alb.stable, &alb.new);
    let err = router.apply(Weights::to_new(20)).await.unwrap_err();
    assert!(
        matches!(&err, AlbError::ListenerNotFound { listener, code, .. } if *listener == missing && code == "ListenerNotFound"),
        "{err:?}"
    );
    let text = router.set_weights(Weights::to_new(20)).await.unwrap_err();
    assert!(text.contains(&missing), "{text}");
    assert!(text.contains("not found"), "{text}");
    // The real listener was not touched.
    assert_eq!(alb.weights().await, (1, 0));
}

#[tokio::test]
async fn a_listener_forwarding_to_a_third_group_is_refused() {
    let test = "a_listener_forwarding_to_a_third_group_is_refused";
    let Some(alb) = alb(test).await else {
        return;
    };
    // A router whose "stable" group is not the one the listener forwards to.
    let router = AlbRouter::with_config(&alb.config, &alb.listener, &alb.new, "arn:other");
    let err = router.apply(Weights::to_new(20)).await.unwrap_err();
    assert!(
        matches!(&err, AlbError::ForeignGroup { group, .. } if *group == alb.stable),
        "{err:?}"
    );
    assert!(err.to_string().contains(&alb.listener), "{err}");
    assert_eq!(alb.weights().await, (1, 0), "nothing was changed");
}

// ------------------- throttling, access denied, a listener that lags

/// What the proxy answers a request for an ELBv2 action with, instead of
/// passing it to moto: a status and a body.
type Inject = Box<dyn Fn(&str) -> Option<(u16, String)> + Send + Sync>;

/// A proxy in front of moto: every request is read, shown to `inject` by
/// its action (`DescribeListeners`), and answered by it or passed through
/// to moto. moto closes its connection after every answer, and so does the
/// proxy.
struct Proxy {
    url: String,
    injected: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    async fn start(moto: &str, inject: Inject) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = moto.trim_start_matches("http://").to_string();
        let inject = Arc::new(inject);
        let injected = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&injected);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let (upstream, inject, counter) =
                    (upstream.clone(), Arc::clone(&inject), Arc::clone(&counter));
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut conn).await else {
                        return;
                    };
                    let text = String::from_utf8_lossy(&request);
                    let action = text
                        .split(['&', '\n'])
                        .find_map(|p| p.trim().strip_prefix("Action="))
                        .unwrap_or_default()
                        .to_string();
                    match inject(&action) {
                        Some((status, body)) => {
                            counter.fetch_add(1, Ordering::SeqCst);
                            let response = format!(
                                "HTTP/1.1 {status} Injected\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            );
                            let _ = conn.write_all(response.as_bytes()).await;
                        }
                        None => {
                            let Ok(mut up) = TcpStream::connect(&upstream).await else {
                                return;
                            };
                            let _ = up.write_all(&request).await;
                            let _ = tokio::io::copy(&mut up, &mut conn).await;
                        }
                    }
                    let _ = conn.shutdown().await;
                });
            }
        });
        Proxy {
            url,
            injected,
            task,
        }
    }

    /// How many answers the proxy made up.
    fn injected(&self) -> u32 {
        self.injected.load(Ordering::SeqCst)
    }

    /// An SDK configuration pointed at the proxy.
    async fn config(&self) -> SdkConfig {
        sdk_config(&self.url).await
    }
}

/// AWS's answer for the error `code` (the Query protocol's wrapped XML).
fn aws_error(status: u16, code: &str) -> Option<(u16, String)> {
    Some((
        status,
        format!(
            "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">\
             <Error><Type>Sender</Type><Code>{code}</Code><Message>injected by the test</Message></Error>\
             <RequestId>0</RequestId></ErrorResponse>"
        ),
    ))
}

/// Answers the first `n` requests (any action) with the error `code`.
fn first_n(n: u32, status: u16, code: &'static str) -> Inject {
    let left = AtomicU32::new(n);
    Box::new(move |_| {
        left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1))
            .ok()
            .and_then(|_| aws_error(status, code))
    })
}

/// Reads one HTTP request (headers and a `Content-Length` body); `None`
/// when the connection closes first.
async fn read_request(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Some(buf);
            }
        }
    }
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_until_it_passes_or_attempts_run_out() {
    let test = "throttling_is_retried_with_backoff_until_it_passes_or_attempts_run_out";
    let Some(alb) = alb(test).await else {
        return;
    };
    let proxy = Proxy::start(&alb.url, first_n(2, 400, "Throttling")).await;
    let router =
        AlbRouter::with_config(&proxy.config().await, &alb.listener, &alb.stable, &alb.new)
            .retry(3, Duration::from_millis(100))
            .confirm(Duration::from_secs(5), Duration::from_millis(50));
    let started = std::time::Instant::now();
    router.set_weights(Weights::to_new(20)).await.unwrap();
    assert_eq!(proxy.injected(), 2, "both throttled answers were given");
    // 100 ms then 200 ms of backoff.
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(alb.weights().await, (80, 20));

    let proxy = Proxy::start(&alb.url, first_n(3, 400, "Throttling")).await;
    let router =
        AlbRouter::with_config(&proxy.config().await, &alb.listener, &alb.stable, &alb.new)
            .retry(3, Duration::from_millis(10));
    let err = router.apply(Weights::to_new(50)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            AlbError::Throttled {
                call: "DescribeListeners",
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&alb.listener) && text.contains("Throttling"),
        "{text}"
    );
    assert_eq!(proxy.injected(), 3);
    assert_eq!(alb.weights().await, (80, 20), "nothing was changed");
}

#[tokio::test]
async fn access_denied_is_reported_at_once_with_the_permissions_needed() {
    let test = "access_denied_is_reported_at_once_with_the_permissions_needed";
    let Some(alb) = alb(test).await else {
        return;
    };
    // Allowed to read the listener, not to change it.
    let proxy = Proxy::start(
        &alb.url,
        Box::new(|action| {
            (action == "ModifyListener")
                .then(|| aws_error(403, "AccessDenied"))
                .flatten()
        }),
    )
    .await;
    let router =
        AlbRouter::with_config(&proxy.config().await, &alb.listener, &alb.stable, &alb.new)
            .retry(5, Duration::from_millis(10));
    let err = router.apply(Weights::to_new(20)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            AlbError::AccessDenied {
                call: "ModifyListener",
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&alb.listener), "{text}");
    assert!(
        text.contains("elasticloadbalancing:ModifyListener"),
        "{text}"
    );
    assert_eq!(proxy.injected(), 1, "access denied is not retried");
    assert_eq!(alb.weights().await, (1, 0), "nothing was changed");
}

#[tokio::test]
async fn set_weights_does_not_return_before_the_listener_shows_the_weights() {
    let test = "set_weights_does_not_return_before_the_listener_shows_the_weights";
    let Some(alb) = alb(test).await else {
        return;
    };
    // ModifyListener "succeeds" without reaching moto: the listener never
    // shows the new weights.
    let proxy = Proxy::start(
        &alb.url,
        Box::new(|action| {
            (action == "ModifyListener").then(|| {
                (
                    200,
                    "<ModifyListenerResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">\
                     <ModifyListenerResult><Listeners/></ModifyListenerResult>\
                     <ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></ModifyListenerResponse>"
                        .to_string(),
                )
            })
        }),
    )
    .await;
    let router =
        AlbRouter::with_config(&proxy.config().await, &alb.listener, &alb.stable, &alb.new)
            .confirm(Duration::from_millis(500), Duration::from_millis(50));
    let started = std::time::Instant::now();
    let err = router.apply(Weights::to_new(20)).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(
        matches!(&err, AlbError::NotConfirmed { listener, .. } if *listener == alb.listener),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("{} weight 20", alb.new))
            && text.contains(&format!("{} weight 1", alb.stable)),
        "{text}"
    );
    assert_eq!(proxy.injected(), 1);
}
