//! The `aws` provider (package `aws`): EC2 networks, security groups,
//! instances, key pairs and elastic IPs ([`ec2`]), and application load balancers, target groups and
//! listeners ([`elbv2`]), Auto Scaling groups and their scaling policies
//! ([`autoscaling`]), CloudWatch alarms ([`cloudwatch`]), S3 buckets and
//! objects ([`s3`]), IAM roles, policies, attachments and instance
//! profiles ([`iam`]), Lambda functions, versions and aliases
//! ([`lambda`]), and Route 53 hosted zones, records and health checks
//! ([`route53`]), through the AWS SDK for Rust.
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
        #[derive(dafnck_core::prelude::Declare, ::serde::Serialize, ::serde::Deserialize, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// Registers a service's resource types, one line per type: `module:
/// Handler`. Each type is one file (its input and output structs, its id
/// type and its handler), declared with `mod` just above the list (where
/// `cargo fmt` and rustdoc can see it); its line re-exports the module's
/// public items and registers its handler in `register`, which
/// [`Provider::serving`] calls. Adding a type is its file, its `mod` line
/// and its line here.
macro_rules! resource_types {
    ($($module:ident: $handler:ident,)*) => {
        $(
            pub use $module::*;
        )*

        /// Registers the handler of every type of this service.
        pub(crate) fn register(
            kit: dafnck_core::provider::kit::Kit<$crate::aws::Aws>,
        ) -> dafnck_core::provider::kit::Kit<$crate::aws::Aws> {
            kit$(.with($module::$handler))*
        }
    };
}

/// One method of a handler, inside its `impl ResourceHandler`, from a macro:
/// `async fn $name(&self, $aws: &Aws, $arg: $arg_type) -> $output $body`
/// written out as `#[async_trait]` writes it, since it does not look into
/// a macro.
macro_rules! handler_method {
    (fn $name:ident($aws:ident, $arg:ident: $arg_type:ty) -> $output:ty $body:block) => {
        fn $name<'life0, 'life1, 'async_trait>(
            &'life0 self,
            $aws: &'life1 $crate::aws::Aws,
            $arg: $arg_type,
        ) -> ::std::pin::Pin<
            Box<dyn ::std::future::Future<Output = $output> + Send + 'async_trait>,
        >
        where
            'life0: 'async_trait,
            'life1: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move $body)
        }
    };
}

/// The read methods of a handler that reads in batches, inside its `impl
/// ResourceHandler`: `read` by `$read(client, req)`, `reads_in_batches`
/// (documented by the doc lines given first) and `read_many` by
/// `$read_many(client, reqs)`, `client` being `Aws::$client()`.
macro_rules! batched_reads {
    ($(#[$doc:meta])* $resource:ty, $client:ident, $read:path, $read_many:path) => {
        handler_method! {
            fn read(p, req: dafnck_core::provider::kit::Read<$resource>)
                -> dafnck_core::provider::kit::ReadResult<$resource>
            {
                $read(p.$client().await, req).await
            }
        }

        $(#[$doc])*
        fn reads_in_batches(&self) -> bool {
            true
        }

        handler_method! {
            fn read_many(p, reqs: Vec<dafnck_core::provider::kit::Read<$resource>>)
                -> dafnck_core::provider::kit::ReadManyResult<$resource>
            {
                $read_many(p.$client().await, reqs).await
            }
        }
    };
}

/// The `delete` method of a handler, inside its `impl ResourceHandler`:
/// `$delete(client, subject, id)`, `client` being `Aws::$client()` (with
/// `aws` last, `$delete(aws, client, subject, id)`, for a delete that
/// waits).
macro_rules! deletes_by {
    ($resource:ty, $client:ident, $delete:path $(, $aws:ident)?) => {
        handler_method! {
            fn delete(p, req: dafnck_core::provider::kit::Delete<$resource>)
                -> Result<(), dafnck_core::ProviderError>
            {
                let client = p.$client().await;
                let s = $crate::aws::error::Subject::of::<$resource>(&req.name);
                Ok($delete($(deletes_by!(@$aws p),)? client, &s, &req.id).await?)
            }
        }
    };
    (@aws $p:ident) => {
        $p
    };
}

pub mod autoscaling;
pub mod cloudwatch;
pub mod cost;
pub mod ec2;
pub mod elbv2;
mod error;
pub mod iam;
pub mod lambda;
mod lookup;
pub mod policy;
pub mod route53;
pub mod s3;
mod tags;
pub mod terraform;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use dafnck_core::provider::kit::Kit;
use dafnck_core::provider::ProviderError;
use dafnck_core::state::CallKind;
use tokio::sync::OnceCell;

pub use tags::{NAME_TAG, STACK_TAG, TOKEN_TAG};

/// The SDK crates this provider is built on, for building an [`SdkConfig`]
/// or calling AWS directly.
pub mod sdk {
    pub use aws_config as config;
    pub use aws_sdk_autoscaling as autoscaling;
    pub use aws_sdk_cloudwatch as cloudwatch;
    pub use aws_sdk_ec2 as ec2;
    pub use aws_sdk_elasticloadbalancingv2 as elbv2;
    pub use aws_sdk_iam as iam;
    pub use aws_sdk_lambda as lambda;
    pub use aws_sdk_route53 as route53;
    pub use aws_sdk_s3 as s3;
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
#[derive(Clone, Debug)]
pub struct Provider {
    kit: Kit<Aws>,
}

served_by_kit!(Provider);

/// The module a program imports a type defined in `module` from: every
/// service's types are re-exported by its module (`aws::ec2`), whichever
/// file defines them; the content of objects is in `content`.
fn public_module(module: &str) -> Option<String> {
    if module == "dafnck_providers::content" {
        return Some(module.to_owned());
    }
    let rest = module.strip_prefix("dafnck_providers::aws::")?;
    let service = rest.split("::").next()?;
    Some(format!("dafnck_providers::aws::{service}"))
}

/// What the aws handlers share: the configuration, loaded once, the
/// clients made from it, and how to wait.
#[derive(Clone)]
pub(crate) struct Aws {
    config: Arc<OnceCell<SdkConfig>>,
    ec2: Arc<OnceCell<aws_sdk_ec2::Client>>,
    elbv2: Arc<OnceCell<aws_sdk_elasticloadbalancingv2::Client>>,
    autoscaling: Arc<OnceCell<aws_sdk_autoscaling::Client>>,
    cloudwatch: Arc<OnceCell<aws_sdk_cloudwatch::Client>>,
    s3: Arc<OnceCell<aws_sdk_s3::Client>>,
    iam: Arc<OnceCell<aws_sdk_iam::Client>>,
    lambda: Arc<OnceCell<aws_sdk_lambda::Client>>,
    route53: Arc<OnceCell<aws_sdk_route53::Client>>,
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

impl std::fmt::Debug for Aws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aws")
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
        Provider::serving(Aws {
            config: Arc::new(OnceCell::new()),
            ec2: Arc::new(OnceCell::new()),
            elbv2: Arc::new(OnceCell::new()),
            autoscaling: Arc::new(OnceCell::new()),
            cloudwatch: Arc::new(OnceCell::new()),
            s3: Arc::new(OnceCell::new()),
            iam: Arc::new(OnceCell::new()),
            lambda: Arc::new(OnceCell::new()),
            route53: Arc::new(OnceCell::new()),
            timing: Timing::default(),
        })
    }

    /// The handlers of every type, sharing `aws`.
    fn serving(aws: Aws) -> Self {
        let kit = elbv2::register(ec2::register(Kit::new("aws", aws)));
        let kit = cloudwatch::register(autoscaling::register(kit));
        let kit = iam::register(s3::register(kit));
        let kit = lambda::register(kit);
        let kit = route53::register(kit);
        let kit = ec2::lookups::register(kit);
        let kit = kit.declared_in(public_module, "dafnck_providers::aws::Provider::from_env()");
        Provider { kit }
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
        let mut p = Provider::from_env();
        p.kit.context_mut().config = Arc::new(OnceCell::from(config));
        p
    }

    /// Sets how often the provider looks at an object it waits for
    /// (default 2 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.kit.context_mut().timing.poll_interval = interval;
        self
    }

    /// Sets the longest wait for an object to reach a state, such as an
    /// instance's `running` (default 10 min).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.kit.context_mut().timing.wait_timeout = timeout;
        self
    }

    /// The SDK configuration, loaded from the standard chain on first use
    /// unless given to [`Provider::with_config`].
    pub async fn sdk_config(&self) -> &SdkConfig {
        self.kit.context().sdk_config().await
    }

    /// The EC2 client the provider uses.
    pub async fn ec2_client(&self) -> &aws_sdk_ec2::Client {
        self.kit.context().ec2_client().await
    }

    /// The Elastic Load Balancing (v2) client the provider uses.
    pub async fn elbv2_client(&self) -> &aws_sdk_elasticloadbalancingv2::Client {
        self.kit.context().elbv2_client().await
    }

    /// The EC2 Auto Scaling client the provider uses.
    pub async fn autoscaling_client(&self) -> &aws_sdk_autoscaling::Client {
        self.kit.context().autoscaling_client().await
    }

    /// The CloudWatch client the provider uses.
    pub async fn cloudwatch_client(&self) -> &aws_sdk_cloudwatch::Client {
        self.kit.context().cloudwatch_client().await
    }

    /// The Lambda client the provider uses.
    pub async fn lambda_client(&self) -> &aws_sdk_lambda::Client {
        self.kit.context().lambda_client().await
    }

    /// The Route 53 client the provider uses.
    pub async fn route53_client(&self) -> &aws_sdk_route53::Client {
        self.kit.context().route53_client().await
    }

    /// The S3 client the provider uses (path-style addressing when an
    /// endpoint is set).
    pub async fn s3_client(&self) -> &aws_sdk_s3::Client {
        self.kit.context().s3_client().await
    }
}

impl Aws {
    /// The SDK configuration, loaded from the standard chain on first use.
    async fn sdk_config(&self) -> &SdkConfig {
        self.config
            .get_or_init(|| aws_config::defaults(BehaviorVersion::latest()).load())
            .await
    }

    /// The EC2 client.
    async fn ec2_client(&self) -> &aws_sdk_ec2::Client {
        let config = self.sdk_config().await;
        self.ec2
            .get_or_init(|| async { aws_sdk_ec2::Client::new(config) })
            .await
    }

    /// The Elastic Load Balancing (v2) client.
    async fn elbv2_client(&self) -> &aws_sdk_elasticloadbalancingv2::Client {
        let config = self.sdk_config().await;
        self.elbv2
            .get_or_init(|| async { aws_sdk_elasticloadbalancingv2::Client::new(config) })
            .await
    }

    /// The EC2 Auto Scaling client.
    async fn autoscaling_client(&self) -> &aws_sdk_autoscaling::Client {
        let config = self.sdk_config().await;
        self.autoscaling
            .get_or_init(|| async { aws_sdk_autoscaling::Client::new(config) })
            .await
    }

    /// The CloudWatch client.
    async fn cloudwatch_client(&self) -> &aws_sdk_cloudwatch::Client {
        let config = self.sdk_config().await;
        self.cloudwatch
            .get_or_init(|| async { aws_sdk_cloudwatch::Client::new(config) })
            .await
    }

    /// The S3 client: path-style addressing when an endpoint is set (an
    /// S3-compatible server such as moto rarely resolves `bucket.host`).
    async fn s3_client(&self) -> &aws_sdk_s3::Client {
        let config = self.sdk_config().await;
        self.s3
            .get_or_init(|| async {
                let mut s3 = aws_sdk_s3::config::Builder::from(config);
                if config.endpoint_url().is_some() {
                    s3 = s3.force_path_style(true);
                }
                aws_sdk_s3::Client::from_conf(s3.build())
            })
            .await
    }

    /// The IAM client.
    async fn iam_client(&self) -> &aws_sdk_iam::Client {
        let config = self.sdk_config().await;
        self.iam
            .get_or_init(|| async { aws_sdk_iam::Client::new(config) })
            .await
    }

    /// The Lambda client.
    async fn lambda_client(&self) -> &aws_sdk_lambda::Client {
        let config = self.sdk_config().await;
        self.lambda
            .get_or_init(|| async { aws_sdk_lambda::Client::new(config) })
            .await
    }

    /// The Route 53 client.
    async fn route53_client(&self) -> &aws_sdk_route53::Client {
        let config = self.sdk_config().await;
        self.route53
            .get_or_init(|| async { aws_sdk_route53::Client::new(config) })
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

/// The prior of a call that waits for nothing: one or a few API calls,
/// about a second. Rough, from the orders of magnitude commonly seen on
/// AWS (not measured by this project): only the ratios between types order
/// an apply, and what the engine learns of real calls replaces them after
/// the first run.
fn one_call(_: CallKind) -> Option<Duration> {
    Some(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dafnck_core::provider::ReadRequest;
    use dafnck_core::{Resource, Value};

    fn _obj_safe(_: Box<dyn dafnck_core::Provider>) {}

    #[test]
    fn serves_every_type() {
        let p = Provider::from_env();
        let mut types: Vec<&str> = p.kit.types().collect();
        types.sort_unstable();
        assert_eq!(types.len(), 27);
        for t in [
            "aws:ec2:Vpc",
            "aws:ec2:Instance",
            "aws:elbv2:Listener",
            "aws:autoscaling:AutoScalingGroup",
            "aws:autoscaling:ScalingPolicy",
            "aws:cloudwatch:MetricAlarm",
            "aws:s3:Bucket",
            "aws:iam:Role",
            "aws:lambda:Function",
            "aws:lambda:Version",
            "aws:lambda:Alias",
            "aws:route53:HostedZone",
            "aws:route53:Record",
            "aws:route53:HealthCheck",
        ] {
            assert!(types.contains(&t), "{t}");
        }
    }

    #[test]
    fn serves_the_s3_and_iam_types() {
        let p = Provider::from_env();
        let types: Vec<&str> = p.kit.types().collect();
        for t in [
            "aws:s3:Bucket",
            "aws:s3:BucketObject",
            "aws:iam:Role",
            "aws:iam:Policy",
            "aws:iam:RolePolicyAttachment",
            "aws:iam:InstanceProfile",
        ] {
            assert!(types.contains(&t), "{t}");
        }
    }

    #[tokio::test]
    async fn other_types_are_refused_by_name() {
        let e = dafnck_core::Provider::read(
            &Provider::from_env(),
            ReadRequest {
                name: "b".into(),
                stack: "dev".into(),
                type_name: "aws:sqs:Queue".into(),
                id: Some("b".into()),
                token: None,
                inputs: Value::Null,
            },
        )
        .await
        .unwrap_err();
        assert!(e.message.contains("aws:sqs:Queue"), "{}", e.message);
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
        assert_eq!(expected("aws:sqs:Queue", CallKind::Create), None);
    }

    #[test]
    fn from_env_loads_nothing_until_used() {
        let p = Provider::from_env().poll_interval(Duration::from_millis(10));
        assert!(!p.kit.context().config.initialized());
        assert_eq!(
            p.kit.context().timing.poll_interval,
            Duration::from_millis(10)
        );
        assert_eq!(dafnck_core::Provider::package(&p), "aws");
    }
}
