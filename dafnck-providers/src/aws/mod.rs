//! The `aws` provider (package `aws`): EC2 networks, security groups,
//! instances, key pairs and elastic IPs ([`ec2`]), and application load balancers, target groups and
//! listeners ([`elbv2`]), through the AWS SDK for Rust.
//!
//! Credentials, region and endpoint come from the SDK's standard chain
//! (environment, shared config and credentials files, web identity, ECS and
//! EC2 instance metadata), loaded once on first use, so `AWS_ENDPOINT_URL`
//! points the provider at a local fake such as moto with no code change. Every
//! object it creates carries the tags `dafnck:stack`, `dafnck:name` and
//! `dafnck:token` (see [`STACK_TAG`]), set by the create call itself: after a
//! crash mid-create the engine finds the object by its token instead of
//! making a second one. Throttling and not-yet-visible objects are reported
//! as retryable; bad inputs and conflicts are not, and name the resource.
//!
//! ```no_run
//! use dafnck_core::prelude::*;
//! use dafnck_providers::aws::ec2;
//!
//! fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
//!     let vpc = stack.add("main", ec2::Vpc { cidr_block: "10.0.0.0/16".into(), ..Default::default() });
//!     stack.add("public-a", ec2::Subnet {
//!         vpc_id: vpc.out().vpc_id,
//!         cidr_block: "10.0.1.0/24".into(),
//!         ..Default::default()
//!     });
//!     Ok(())
//! }
//!
//! # async fn run() -> std::process::ExitCode {
//! dafnck_core::cli::run(infra)
//!     .provider(dafnck_providers::aws::Provider::from_env())
//!     .await
//! # }
//! ```
//!
//! # Caveats
//! The SDK's default HTTPS client is the only TLS stack compiled in; the
//! `sso` and `credentials-process` sources of the credential chain are not
//! (use environment variables, a credentials file, web identity or instance
//! metadata).

/// Declares string id types (`VpcId`, `LoadBalancerArn`, ...): distinct
/// types, so one kind of id cannot be passed where another is expected.
macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(::serde::Serialize, ::serde::Deserialize, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The id as AWS writes it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }
    )*};
}

pub mod ec2;
pub mod elbv2;
mod error;
mod lookup;
mod tags;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use dafnck_core::provider::{
    standard_diff, CreateRequest, Created, DeleteRequest, Diff, DiffRequest, Observed,
    ProviderError, ReadRequest, UpdateRequest,
};
use dafnck_core::state::CallKind;
use dafnck_core::{Resource, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::OnceCell;

pub use tags::{NAME_TAG, STACK_TAG, TOKEN_TAG};

/// The SDK crates this provider is built on, for building an [`SdkConfig`]
/// or calling AWS directly.
pub mod sdk {
    pub use aws_config as config;
    pub use aws_sdk_ec2 as ec2;
    pub use aws_sdk_elasticloadbalancingv2 as elbv2;
}

use error::{AwsError, Subject};

/// The aws provider: serves the `aws:*` types.
///
/// Cheap to clone; clones share the loaded configuration and clients.
///
/// ```
/// use std::time::Duration;
/// // Loads credentials and region on first use, not here.
/// let provider = dafnck_providers::aws::Provider::from_env()
///     .poll_interval(Duration::from_secs(5));
/// # let _ = provider;
/// ```
#[derive(Clone)]
pub struct Provider {
    config: Arc<OnceCell<SdkConfig>>,
    ec2: Arc<OnceCell<aws_sdk_ec2::Client>>,
    elbv2: Arc<OnceCell<aws_sdk_elasticloadbalancingv2::Client>>,
    timing: Timing,
}

/// How the provider waits for objects to change state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Timing {
    /// Between two looks at an object's state.
    poll_interval: Duration,
    /// The longest wait for one state (an instance's `running`).
    wait_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            poll_interval: Duration::from_secs(2),
            wait_timeout: Duration::from_secs(600),
        }
    }
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("loaded", &self.config.initialized())
            .field("timing", &self.timing)
            .finish()
    }
}

impl Provider {
    /// A provider that loads its configuration from the SDK's standard
    /// chain (`AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_PROFILE`, credentials
    /// files, ...) on its first call, not now: building it needs no runtime
    /// and makes no request.
    pub fn from_env() -> Self {
        Provider {
            config: Arc::new(OnceCell::new()),
            ec2: Arc::new(OnceCell::new()),
            elbv2: Arc::new(OnceCell::new()),
            timing: Timing::default(),
        }
    }

    /// A provider with this configuration (region, credentials, endpoint).
    ///
    /// ```no_run
    /// use dafnck_providers::aws::{sdk, Provider};
    /// # async fn run() {
    /// let config = sdk::config::defaults(sdk::config::BehaviorVersion::latest())
    ///     .region(sdk::config::Region::new("eu-west-1"))
    ///     .endpoint_url("http://127.0.0.1:5000")
    ///     .load()
    ///     .await;
    /// let provider = Provider::with_config(config);
    /// # let _ = provider;
    /// # }
    /// ```
    pub fn with_config(config: SdkConfig) -> Self {
        Provider {
            config: Arc::new(OnceCell::from(config)),
            ..Provider::from_env()
        }
    }

    /// Sets how often the provider looks at an object it waits for
    /// (default 2 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.timing.poll_interval = interval;
        self
    }

    /// Sets the longest wait for an object to reach a state, such as an
    /// instance's `running` (default 10 min).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.timing.wait_timeout = timeout;
        self
    }

    /// The SDK configuration, loaded from the standard chain on first use
    /// unless given to [`Provider::with_config`].
    pub async fn sdk_config(&self) -> &SdkConfig {
        self.config
            .get_or_init(|| aws_config::defaults(BehaviorVersion::latest()).load())
            .await
    }

    /// The EC2 client the provider uses.
    pub async fn ec2_client(&self) -> &aws_sdk_ec2::Client {
        let config = self.sdk_config().await;
        self.ec2
            .get_or_init(|| async { aws_sdk_ec2::Client::new(config) })
            .await
    }

    /// The Elastic Load Balancing (v2) client the provider uses.
    pub async fn elbv2_client(&self) -> &aws_sdk_elasticloadbalancingv2::Client {
        let config = self.sdk_config().await;
        self.elbv2
            .get_or_init(|| async { aws_sdk_elasticloadbalancingv2::Client::new(config) })
            .await
    }

    /// Calls `look` every poll interval until it returns `Some`, or fails
    /// with `what` when the wait timeout passes.
    async fn wait_for<T, F, Fut>(
        &self,
        subject: &Subject<'_>,
        id: &str,
        what: &str,
        mut look: F,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Poll<T>, AwsError>>,
    {
        let start = Instant::now();
        loop {
            let last = match look().await? {
                Poll::Done(v) => return Ok(v),
                Poll::Pending(seen) => seen,
            };
            if start.elapsed() >= self.timing.wait_timeout {
                return Err(subject.wait(
                    id,
                    format!(
                        "did not become {what} within {}s (last seen: {last})",
                        self.timing.wait_timeout.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(self.timing.poll_interval).await;
        }
    }
}

/// Settles a failure of a create after its object was made. A retryable
/// error is returned as it is: the engine's retry finds the object by its
/// token and finishes the job. Any other error would leave an object no
/// state records, so the object is deleted first (`undo`), and the error
/// says so.
async fn failed_after_create<Fut>(err: AwsError, id: &str, undo: Fut) -> ProviderError
where
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    if err.is_retryable() {
        return err.into();
    }
    match undo.await {
        Ok(()) => ProviderError::new(format!("{err} (the new {id} was deleted again)")),
        Err(e) => ProviderError::new(format!(
            "{err} (deleting the new {id} failed too: {e}; delete it by hand, it is tagged \
             {NAME_TAG})"
        )),
    }
}

/// One look at an object being waited for.
enum Poll<T> {
    /// It reached the state.
    Done(T),
    /// Not yet; what was seen, for the timeout's message.
    Pending(String),
}

/// The types this provider serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Vpc,
    Subnet,
    SecurityGroup,
    Instance,
    InternetGateway,
    RouteTable,
    KeyPair,
    ElasticIp,
    LoadBalancer,
    TargetGroup,
    Listener,
}

impl Kind {
    fn of(type_name: &str) -> Result<Kind, AwsError> {
        [
            (ec2::Vpc::TYPE, Kind::Vpc),
            (ec2::Subnet::TYPE, Kind::Subnet),
            (ec2::SecurityGroup::TYPE, Kind::SecurityGroup),
            (ec2::Instance::TYPE, Kind::Instance),
            (ec2::InternetGateway::TYPE, Kind::InternetGateway),
            (ec2::RouteTable::TYPE, Kind::RouteTable),
            (ec2::KeyPair::TYPE, Kind::KeyPair),
            (ec2::ElasticIp::TYPE, Kind::ElasticIp),
            (elbv2::LoadBalancer::TYPE, Kind::LoadBalancer),
            (elbv2::TargetGroup::TYPE, Kind::TargetGroup),
            (elbv2::Listener::TYPE, Kind::Listener),
        ]
        .into_iter()
        .find(|(t, _)| *t == type_name)
        .map(|(_, k)| k)
        .ok_or_else(|| AwsError::UnknownType(type_name.to_owned()))
    }
}

/// Reads a resource's inputs into its typed struct.
fn inputs_of<R: Resource + DeserializeOwned>(name: &str, inputs: &Value) -> Result<R, AwsError> {
    inputs
        .deserialize_into::<R>()
        .map_err(|e| AwsError::Invalid {
            type_name: R::TYPE,
            name: name.to_owned(),
            message: e.to_string(),
        })
}

/// A typed value as the engine's [`Value`].
fn value_of<T: Serialize>(value: &T) -> Value {
    // Every type passed here is plain data whose serialization cannot fail.
    Value::from_serialize(value).unwrap_or(Value::Null)
}

#[async_trait]
impl dafnck_core::Provider for Provider {
    fn package(&self) -> &str {
        "aws"
    }

    /// The standard diff; a load balancer or target group with a fixed
    /// `name`, or a security group keeping its name in its VPC, also says
    /// that its replacement cannot be made beside it.
    fn diff(&self, req: &DiffRequest<'_>) -> Diff {
        let mut diff = standard_diff(req);
        diff.replace_conflict =
            elbv2::replace_conflict(req).or_else(|| ec2::security_group::replace_conflict(req));
        diff
    }

    /// Rough priors, from the orders of magnitude commonly seen on AWS (not
    /// measured by this project): a call that waits for a state change
    /// takes tens of seconds (an instance `running` or `terminated`) to
    /// minutes (a load balancer `active`); the others are one or a few API
    /// calls, about a second. Only their ratios order an apply, and what the
    /// engine learns of real calls replaces them after the first run.
    fn expected_duration(&self, type_name: &str, call: CallKind) -> Option<Duration> {
        let secs = match (Kind::of(type_name).ok()?, call) {
            (Kind::Instance, CallKind::Create | CallKind::Delete) => 30,
            // Tags only (a second) or a new type (stop, modify, start:
            // minutes): no single guess.
            (Kind::Instance, CallKind::Update) => return None,
            (Kind::LoadBalancer, CallKind::Create) => 120,
            (Kind::LoadBalancer, CallKind::Delete) => 30,
            _ => 1,
        };
        Some(Duration::from_secs(secs))
    }

    async fn create(&self, req: CreateRequest) -> Result<Created, ProviderError> {
        match Kind::of(&req.type_name)? {
            Kind::Vpc => ec2::vpc::create(self, &req).await,
            Kind::Subnet => ec2::subnet::create(self, &req).await,
            Kind::SecurityGroup => ec2::security_group::create(self, &req).await,
            Kind::Instance => ec2::instance::create(self, &req).await,
            Kind::InternetGateway => ec2::internet_gateway::create(self, &req).await,
            Kind::RouteTable => ec2::route_table::create(self, &req).await,
            Kind::KeyPair => ec2::key_pair::create(self, &req).await,
            Kind::ElasticIp => ec2::elastic_ip::create(self, &req).await,
            Kind::LoadBalancer => elbv2::load_balancer::create(self, &req).await,
            Kind::TargetGroup => elbv2::target_group::create(self, &req).await,
            Kind::Listener => elbv2::listener::create(self, &req).await,
        }
    }

    async fn read(&self, req: ReadRequest) -> Result<Option<Observed>, ProviderError> {
        let observed = match Kind::of(&req.type_name)? {
            Kind::Vpc => ec2::vpc::read(self, &req).await,
            Kind::Subnet => ec2::subnet::read(self, &req).await,
            Kind::SecurityGroup => ec2::security_group::read(self, &req).await,
            Kind::Instance => ec2::instance::read(self, &req).await,
            Kind::InternetGateway => ec2::internet_gateway::read(self, &req).await,
            Kind::RouteTable => ec2::route_table::read(self, &req).await,
            Kind::KeyPair => ec2::key_pair::read(self, &req).await,
            Kind::ElasticIp => ec2::elastic_ip::read(self, &req).await,
            Kind::LoadBalancer => elbv2::load_balancer::read(self, &req).await,
            Kind::TargetGroup => elbv2::target_group::read(self, &req).await,
            Kind::Listener => elbv2::listener::read(self, &req).await,
        };
        Ok(observed?)
    }

    async fn update(&self, req: UpdateRequest) -> Result<Value, ProviderError> {
        let outputs = match Kind::of(&req.type_name)? {
            Kind::Vpc => ec2::vpc::update(self, &req).await,
            Kind::Subnet => ec2::subnet::update(self, &req).await,
            Kind::SecurityGroup => ec2::security_group::update(self, &req).await,
            Kind::Instance => ec2::instance::update(self, &req).await,
            Kind::InternetGateway => ec2::internet_gateway::update(self, &req).await,
            Kind::RouteTable => ec2::route_table::update(self, &req).await,
            Kind::KeyPair => ec2::key_pair::update(self, &req).await,
            Kind::ElasticIp => ec2::elastic_ip::update(self, &req).await,
            Kind::LoadBalancer => elbv2::load_balancer::update(self, &req).await,
            Kind::TargetGroup => elbv2::target_group::update(self, &req).await,
            Kind::Listener => elbv2::listener::update(self, &req).await,
        };
        Ok(outputs?)
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        match Kind::of(&req.type_name)? {
            Kind::Vpc => ec2::vpc::delete(self, &req).await,
            Kind::Subnet => ec2::subnet::delete(self, &req).await,
            Kind::SecurityGroup => ec2::security_group::delete(self, &req).await,
            Kind::Instance => ec2::instance::delete(self, &req).await,
            Kind::InternetGateway => ec2::internet_gateway::delete(self, &req).await,
            Kind::RouteTable => ec2::route_table::delete(self, &req).await,
            Kind::KeyPair => ec2::key_pair::delete(self, &req).await,
            Kind::ElasticIp => ec2::elastic_ip::delete(self, &req).await,
            Kind::LoadBalancer => elbv2::load_balancer::delete(self, &req).await,
            Kind::TargetGroup => elbv2::target_group::delete(self, &req).await,
            Kind::Listener => elbv2::listener::delete(self, &req).await,
        }?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _obj_safe(_: Box<dyn dafnck_core::Provider>) {}

    #[test]
    fn serves_the_ec2_and_elbv2_types_only() {
        assert_eq!(Kind::of("aws:ec2:Vpc").unwrap(), Kind::Vpc);
        assert_eq!(Kind::of("aws:ec2:Instance").unwrap(), Kind::Instance);
        assert_eq!(Kind::of("aws:elbv2:Listener").unwrap(), Kind::Listener);
        let e = ProviderError::from(Kind::of("aws:s3:Bucket").unwrap_err());
        assert!(e.message.contains("aws:s3:Bucket"), "{}", e.message);
        assert!(!e.retryable);
    }

    #[tokio::test]
    async fn an_endpoint_that_does_not_answer_is_a_retryable_error_naming_the_call() {
        // A loopback port nothing listens on; the SDK's own retries off.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        let p = Provider::with_config(config);
        let e = dafnck_core::Provider::read(
            &p,
            ReadRequest {
                name: "main".into(),
                stack: "dev".into(),
                type_name: ec2::Vpc::TYPE.into(),
                id: Some("vpc-1".into()),
                token: None,
                inputs: Value::Null,
            },
        )
        .await
        .unwrap_err();
        assert!(e.retryable, "{}", e.message);
        assert!(
            e.message
                .starts_with("aws:ec2:Vpc \"main\": DescribeVpcs got no answer from AWS"),
            "{}",
            e.message
        );
    }

    #[test]
    fn waited_for_calls_are_expected_to_take_longest() {
        let p = Provider::from_env();
        let expected = |t: &str, call| dafnck_core::Provider::expected_duration(&p, t, call);
        let instance = expected(ec2::Instance::TYPE, CallKind::Create).unwrap();
        let group = expected(ec2::SecurityGroup::TYPE, CallKind::Create).unwrap();
        let balancer = expected(elbv2::LoadBalancer::TYPE, CallKind::Create).unwrap();
        assert!(group < instance && instance < balancer);
        assert_eq!(expected(ec2::Instance::TYPE, CallKind::Update), None);
        assert_eq!(expected("aws:s3:Bucket", CallKind::Create), None);
    }

    #[test]
    fn from_env_loads_nothing_until_used() {
        let p = Provider::from_env().poll_interval(Duration::from_millis(10));
        assert!(!p.config.initialized());
        assert_eq!(p.timing.poll_interval, Duration::from_millis(10));
        assert_eq!(dafnck_core::Provider::package(&p), "aws");
    }
}
