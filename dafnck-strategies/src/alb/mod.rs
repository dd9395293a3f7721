//! The AWS Application Load Balancer traffic router: the split as the
//! weights of two target groups in a listener's default `forward` action,
//! changed by one ModifyListener call and confirmed by reading the listener
//! back. Behind the `alb` feature.
//!
//! [`AlbRouter`] changes a listener given by its ARN; [`TargetGroupRouter`]
//! finds the listener forwarding to two target groups itself, so a
//! `TargetGroup` resource under a deployment policy rolls out with nothing
//! but the groups' outputs.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_elasticloadbalancingv2::config::retry::RetryConfig;
use aws_sdk_elasticloadbalancingv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, AuthenticateOidcActionConfig, ForwardActionConfig, TargetGroupTuple,
};
use aws_sdk_elasticloadbalancingv2::Client;
use tokio::sync::{Mutex, OnceCell};

use crate::policy::Weights;
use crate::router::TrafficRouter;

mod discover;
mod health;
pub(crate) use health::judge as judge_target;

pub use discover::TargetGroupRouter;
pub use health::TargetHealth;

/// The IAM actions the router calls.
const PERMISSIONS: &str =
    "elasticloadbalancing:DescribeListeners and elasticloadbalancing:ModifyListener";

/// Why the ALB router could not put a split in effect. Every message names
/// the listener.
#[derive(Debug, thiserror::Error)]
pub enum AlbError {
    /// No listener has this ARN (or its load balancer is gone).
    #[error("ALB listener {listener}: not found ({code}: {message}); check the listener ARN and the region")]
    ListenerNotFound {
        /// The listener's ARN.
        listener: String,
        /// AWS's error code (`ListenerNotFound`, `LoadBalancerNotFound`).
        code: String,
        /// AWS's message.
        message: String,
    },
    /// A target group the router forwards to does not exist.
    #[error("ALB listener {listener}: a target group does not exist ({message}); stable is {stable}, new is {new}")]
    TargetGroupNotFound {
        /// The listener's ARN.
        listener: String,
        /// The stable target group's ARN.
        stable: String,
        /// The new target group's ARN.
        new: String,
        /// AWS's message.
        message: String,
    },
    /// The credentials may not call what the router needs.
    #[error("ALB listener {listener}: {call} was denied ({code}: {message}); the credentials need {PERMISSIONS} on it")]
    AccessDenied {
        /// The listener's ARN.
        listener: String,
        /// The API call.
        call: &'static str,
        /// AWS's error code.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// AWS kept throttling the call (or kept failing with its own
    /// trouble, or could not be reached) through every retry.
    #[error("ALB listener {listener}: {call} still failed after {attempts} attempts with backoff: {message}")]
    Throttled {
        /// The listener's ARN.
        listener: String,
        /// The API call.
        call: &'static str,
        /// How many times it was tried.
        attempts: u32,
        /// The last failure.
        message: String,
    },
    /// AWS answered with another error code.
    #[error("ALB listener {listener}: {call} failed: {code}: {message}")]
    Api {
        /// The listener's ARN.
        listener: String,
        /// The API call.
        call: &'static str,
        /// AWS's error code.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// The call could not be made or got no answer that is not a
    /// connection problem (no region, no credentials, a bad endpoint).
    #[error("ALB listener {listener}: {call} got no answer from AWS: {message}")]
    Transport {
        /// The listener's ARN.
        listener: String,
        /// The API call.
        call: &'static str,
        /// The SDK's description, with its causes.
        message: String,
    },
    /// The listener's default action does not forward (a redirect or a
    /// fixed response): the router does not replace it.
    #[error("ALB listener {listener}: its default action is {found}, not a forward to target groups; the router only changes the weights of a forward action")]
    NotForwarding {
        /// The listener's ARN.
        listener: String,
        /// The default actions found.
        found: String,
    },
    /// The listener forwards to a target group that is neither the stable
    /// nor the new one: the router does not take traffic from it.
    #[error("ALB listener {listener}: forwards to target group {group}, which is neither the stable ({stable}) nor the new ({new}) group; the router will not take its traffic away")]
    ForeignGroup {
        /// The listener's ARN.
        listener: String,
        /// The group found.
        group: String,
        /// The stable target group's ARN.
        stable: String,
        /// The new target group's ARN.
        new: String,
    },
    /// No listener's default action forwards to the stable or the new
    /// target group ([`TargetGroupRouter`] found none).
    #[error("no ALB listener forwards to target group {stable} (nor to the new group {new}); the router changes the default forward action of the listener that uses the stable group")]
    NoListener {
        /// The stable target group's ARN.
        stable: String,
        /// The new target group's ARN (empty when none was created).
        new: String,
    },
    /// Several listeners forward to the stable group ([`TargetGroupRouter`]
    /// does not choose among them).
    #[error("target group {stable} is forwarded to by several ALB listeners ({}); build an AlbRouter for the one whose weights the rollout moves", listeners.join(", "))]
    SeveralListeners {
        /// The stable target group's ARN.
        stable: String,
        /// The listeners found.
        listeners: Vec<String>,
    },
    /// The listener did not show the weights within the confirmation
    /// timeout after ModifyListener succeeded.
    #[error("ALB listener {listener}: the weights {wanted} were not in effect within {after:?} of ModifyListener; it shows {found}")]
    NotConfirmed {
        /// The listener's ARN.
        listener: String,
        /// The weights set.
        wanted: String,
        /// The weights last read.
        found: String,
        /// How long the router looked.
        after: Duration,
    },
}

/// Routes traffic through an AWS Application Load Balancer listener: the
/// stable and the new version are two target groups, and the split is
/// their weights in the listener's default `forward` action.
///
/// `set_weights` reads the listener (DescribeListeners), replaces its
/// forward action's target groups with the stable and new groups weighted
/// by their percentages, in one ModifyListener call, and reads the listener
/// back until it shows exactly those weights.
///
/// A group at 0% is left out of the action rather than listed with weight
/// 0 (ELBv2 accepts weights 0..=999, and at least one must be positive;
/// moto accepts either): a target group a listener forwards to cannot be
/// deleted, so after a rollback (0% new) or a promotion (0% stable) the
/// losing group is free to be deleted.
///
/// # Guarantees
/// - One ModifyListener call moves the traffic: ELBv2 switches the split
///   atomically, with no request in flight dropped.
/// - The listener's other settings are kept: port, protocol, certificates,
///   SSL policy and ALPN are not sent; other default actions (an
///   `authenticate-oidc` or `authenticate-cognito` before the forward, with
///   the existing client secret) and the forward's stickiness settings are
///   sent back as found.
/// - `set_weights` returns once DescribeListeners shows the weights; a
///   split the listener already shows is not sent again (idempotent).
/// - Throttling and AWS's own transient trouble (5xx, connection errors)
///   are retried with doubling pauses (8 attempts from 250 ms, at most
///   10 s apart, by default); access denied, a missing listener or target
///   group are reported at once, naming the listener.
/// - The router refuses a listener whose default action does not forward,
///   or forwards to a group that is neither the stable nor the new one.
///
/// # Configuration
/// [`AlbRouter::from_env`] loads region, credentials and endpoint from the
/// SDK's standard chain on first use (so `AWS_ENDPOINT_URL` points it at
/// moto); [`AlbRouter::with_config`] takes an [`SdkConfig`] the program
/// already loaded (one load shared by every router and the aws provider).
/// Either way the router's client has the SDK's own retries turned off, so
/// its retry policy ([`AlbRouter::retry`]) is the only one.
///
/// # Caveats
/// - Only the listener's default action is changed; listener rules (path
///   or host based) that forward to the groups are left alone.
/// - DescribeListeners shows the configuration; AWS applies it to the load
///   balancer's nodes within seconds after that.
///
/// # Example
/// ```no_run
/// # async fn f() -> Result<(), String> {
/// use dafnck_strategies::{AlbRouter, TrafficRouter, Weights};
/// let router = AlbRouter::from_env(
///     "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2",
///     "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/73e2d6bc24d8a067",
///     "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/2453ed029918f21f",
/// );
/// router.set_weights(Weights::to_new(20)).await?;
/// # Ok(()) }
/// ```
///
/// As the router of a [`Strategy`](crate::Strategy) attached to a target
/// group, built from the old and new groups' outputs (their `arn`):
/// ```no_run
/// # async fn f(listener_arn: String) -> Result<(), Box<dyn std::error::Error>> {
/// use dafnck_core::Value;
/// use dafnck_strategies::{AlbRouter, Canary, Strategy};
/// let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let arn = |outputs: &Value| {
///     outputs.get("arn").and_then(Value::as_str).map(str::to_owned)
///         .ok_or_else(|| "the target group's outputs have no arn".to_string())
/// };
/// let strategy = Strategy::canary(Canary::default(), move |old, new| {
///     Ok(AlbRouter::with_config(&config, &listener_arn, arn(old)?, arn(new)?))
/// })?;
/// # let _ = strategy; Ok(()) }
/// ```
pub struct AlbRouter {
    client: OnceCell<Client>,
    listener: String,
    stable: String,
    new: String,
    attempts: u32,
    first_pause: Duration,
    max_pause: Duration,
    confirm_timeout: Duration,
    confirm_poll: Duration,
    /// Serialises changes made through this router.
    changing: Mutex<()>,
}

impl AlbRouter {
    fn build(listener: String, stable: String, new: String, client: OnceCell<Client>) -> Self {
        AlbRouter {
            client,
            listener,
            stable,
            new,
            attempts: 8,
            first_pause: Duration::from_millis(250),
            max_pause: Duration::from_secs(10),
            confirm_timeout: Duration::from_secs(30),
            confirm_poll: Duration::from_secs(1),
            changing: Mutex::new(()),
        }
    }

    /// A router for the listener `listener_arn`, splitting its traffic
    /// between the target groups `stable_arn` and `new_arn`, with region,
    /// credentials and endpoint from the SDK's standard chain, loaded on
    /// the first call (not here).
    pub fn from_env(
        listener_arn: impl Into<String>,
        stable_arn: impl Into<String>,
        new_arn: impl Into<String>,
    ) -> Self {
        AlbRouter::build(
            listener_arn.into(),
            stable_arn.into(),
            new_arn.into(),
            OnceCell::new(),
        )
    }

    /// A router like [`AlbRouter::from_env`], with the SDK configuration
    /// `config` (its region, credentials and endpoint).
    pub fn with_config(
        config: &SdkConfig,
        listener_arn: impl Into<String>,
        stable_arn: impl Into<String>,
        new_arn: impl Into<String>,
    ) -> Self {
        AlbRouter::build(
            listener_arn.into(),
            stable_arn.into(),
            new_arn.into(),
            OnceCell::new_with(Some(client_for(config))),
        )
    }

    /// How often a throttled call is tried (at least once), and the first
    /// pause between tries, doubled after each (at most 10 s).
    pub fn retry(mut self, attempts: u32, first_pause: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.first_pause = first_pause;
        self
    }

    /// How long the listener may take to show the weights after
    /// ModifyListener (default 30 s), and how often it is read meanwhile
    /// (default 1 s).
    pub fn confirm(mut self, timeout: Duration, poll: Duration) -> Self {
        self.confirm_timeout = timeout;
        self.confirm_poll = poll;
        self
    }

    /// The listener's ARN.
    pub fn listener_arn(&self) -> &str {
        &self.listener
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                client_for(&aws_config::defaults(BehaviorVersion::latest()).load().await)
            })
            .await
    }

    /// The target groups and weights `weights` is sent as: the stable and
    /// new groups with their percentages, a group at 0% left out.
    pub fn forwarding(&self, weights: Weights) -> BTreeMap<String, u16> {
        [
            (&self.stable, weights.stable()),
            (&self.new, weights.new_share()),
        ]
        .into_iter()
        .filter(|(_, w)| *w > 0)
        .map(|(arn, w)| (arn.clone(), u16::from(w)))
        .collect()
    }

    /// Puts `weights` in effect, like [`TrafficRouter::set_weights`], with
    /// a typed error.
    ///
    /// # Errors
    /// [`AlbError`]: the listener or a group is missing, access is denied,
    /// AWS kept throttling, the listener does not forward to these groups
    /// only, or it did not show the weights in time.
    pub async fn apply(&self, weights: Weights) -> Result<(), AlbError> {
        self.put(self.forwarding(weights)).await
    }

    /// Adds the new group to the listener's forward at weight 0 (all
    /// traffic stays on the stable group), so the load balancer health
    /// checks its targets before it gets any traffic; what
    /// [`TrafficRouter::prepare`] does.
    ///
    /// # Errors
    /// As [`AlbRouter::apply`].
    pub async fn attach_new(&self) -> Result<(), AlbError> {
        self.put(BTreeMap::from([
            (self.stable.clone(), 100),
            (self.new.clone(), 0),
        ]))
        .await
    }

    /// Makes the listener forward to `wanted` (group → weight) and waits
    /// until it shows them.
    async fn put(&self, wanted: BTreeMap<String, u16>) -> Result<(), AlbError> {
        let _turn = self.changing.lock().await;
        let found = self.describe().await?;
        let forward = self.forward_of(&found)?;
        if forward == wanted {
            return Ok(());
        }
        let actions: Vec<Action> = found
            .default_actions()
            .iter()
            .map(|a| self.resend(a, &wanted))
            .collect();
        let client = self.client().await;
        self.call("ModifyListener", || {
            client
                .modify_listener()
                .listener_arn(&self.listener)
                .set_default_actions(Some(actions.clone()))
                .send()
        })
        .await?;
        tracing::info!(listener = %self.listener, weights = %show(&wanted), "ALB listener weights set");
        let deadline = tokio::time::Instant::now() + self.confirm_timeout;
        loop {
            let now = self.forward_of(&self.describe().await?)?;
            if now == wanted {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(AlbError::NotConfirmed {
                    listener: self.listener.clone(),
                    wanted: show(&wanted),
                    found: show(&now),
                    after: self.confirm_timeout,
                });
            }
            tokio::time::sleep(self.confirm_poll).await;
        }
    }

    /// The listener as DescribeListeners shows it.
    async fn describe(&self) -> Result<aws_sdk_elasticloadbalancingv2::types::Listener, AlbError> {
        let client = self.client().await;
        let out = self
            .call("DescribeListeners", || {
                client
                    .describe_listeners()
                    .listener_arns(&self.listener)
                    .send()
            })
            .await?;
        out.listeners()
            .iter()
            .find(|l| l.listener_arn() == Some(self.listener.as_str()))
            .cloned()
            .ok_or_else(|| AlbError::ListenerNotFound {
                listener: self.listener.clone(),
                code: "(none)".into(),
                message: "DescribeListeners did not list it".into(),
            })
    }

    /// The groups and weights of the listener's forward action, checked to
    /// be the stable and new groups only.
    fn forward_of(
        &self,
        l: &aws_sdk_elasticloadbalancingv2::types::Listener,
    ) -> Result<BTreeMap<String, u16>, AlbError> {
        let Some(action) = l
            .default_actions()
            .iter()
            .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        else {
            let found: Vec<&str> = l
                .default_actions()
                .iter()
                .filter_map(|a| a.r#type().map(ActionTypeEnum::as_str))
                .collect();
            return Err(AlbError::NotForwarding {
                listener: self.listener.clone(),
                found: if found.is_empty() {
                    "missing".into()
                } else {
                    found.join(", ")
                },
            });
        };
        let groups = forwarded(action);
        for group in groups.keys() {
            if group != &self.stable && group != &self.new {
                return Err(AlbError::ForeignGroup {
                    listener: self.listener.clone(),
                    group: group.clone(),
                    stable: self.stable.clone(),
                    new: self.new.clone(),
                });
            }
        }
        // Compared as listed: a group at weight 0 gets no traffic, but it
        // is in use (health checked, and it cannot be deleted), so a split
        // that leaves it out must take it off.
        Ok(groups)
    }

    /// `action` as it is sent back: the forward with the new groups (its
    /// order and stickiness kept), anything else as found.
    fn resend(&self, action: &Action, wanted: &BTreeMap<String, u16>) -> Action {
        match action.r#type() {
            Some(ActionTypeEnum::Forward) => {
                let tuples = wanted
                    .iter()
                    .map(|(arn, w)| {
                        TargetGroupTuple::builder()
                            .target_group_arn(arn)
                            .weight(i32::from(*w))
                            .build()
                    })
                    .collect();
                let stickiness = action
                    .forward_config()
                    .and_then(|c| c.target_group_stickiness_config())
                    .cloned();
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .set_order(action.order())
                    .forward_config(
                        ForwardActionConfig::builder()
                            .set_target_groups(Some(tuples))
                            .set_target_group_stickiness_config(stickiness)
                            .build(),
                    )
                    .build()
            }
            Some(ActionTypeEnum::AuthenticateOidc) => {
                let mut a = action.clone();
                if let Some(c) = action.authenticate_oidc_config() {
                    a = Action::builder()
                        .r#type(ActionTypeEnum::AuthenticateOidc)
                        .set_order(action.order())
                        .authenticate_oidc_config(keep_secret(c))
                        .build();
                }
                a
            }
            _ => action.clone(),
        }
    }

    /// Runs `call`, retrying throttling and transient failures with
    /// doubling pauses.
    async fn call<T, E, R, Fut>(
        &self,
        name: &'static str,
        mut call: impl FnMut() -> Fut,
    ) -> Result<T, AlbError>
    where
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let mut pause = self.first_pause;
        let mut attempt = 1;
        loop {
            let err = match call().await {
                Ok(out) => return Ok(out),
                Err(e) => e,
            };
            let failure = Failure::of(&err);
            if failure.kind != Kind::Retry {
                return Err(self.error(name, failure));
            }
            if attempt >= self.attempts {
                return Err(AlbError::Throttled {
                    listener: self.listener.clone(),
                    call: name,
                    attempts: attempt,
                    message: failure.describe(),
                });
            }
            tracing::warn!(listener = %self.listener, call = name, attempt, error = %failure.describe(), "retrying");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(self.max_pause);
            attempt += 1;
        }
    }

    fn error(&self, call: &'static str, f: Failure) -> AlbError {
        let listener = self.listener.clone();
        match (f.kind, f.code) {
            (Kind::ListenerNotFound, Some(code)) => AlbError::ListenerNotFound {
                listener,
                code,
                message: f.message,
            },
            (Kind::TargetGroupNotFound, _) => AlbError::TargetGroupNotFound {
                listener,
                stable: self.stable.clone(),
                new: self.new.clone(),
                message: f.message,
            },
            (Kind::AccessDenied, Some(code)) => AlbError::AccessDenied {
                listener,
                call,
                code,
                message: f.message,
            },
            (_, Some(code)) => AlbError::Api {
                listener,
                call,
                code,
                message: f.message,
            },
            (_, None) => AlbError::Transport {
                listener,
                call,
                message: f.message,
            },
        }
    }
}

#[async_trait]
impl TrafficRouter for AlbRouter {
    fn describe(&self) -> String {
        format!("ALB listener {}", self.listener)
    }

    async fn set_weights(&self, weights: Weights) -> Result<(), String> {
        self.apply(weights).await.map_err(|e| e.to_string())
    }

    async fn prepare(&self) -> Result<(), String> {
        self.attach_new().await.map_err(|e| e.to_string())
    }
}

/// An ELBv2 client for `config` without the SDK's own retries.
fn client_for(config: &SdkConfig) -> Client {
    let conf = aws_sdk_elasticloadbalancingv2::config::Builder::from(config)
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

/// The groups and weights a forward action names (a plain
/// `TargetGroupArn` is one group of weight 1).
fn forwarded(action: &Action) -> BTreeMap<String, u16> {
    match action.forward_config() {
        Some(c) if !c.target_groups().is_empty() => c
            .target_groups()
            .iter()
            .filter_map(|t| {
                // ELBv2 defaults a missing weight to 1.
                let w = t.weight().unwrap_or(1).clamp(0, i32::from(u16::MAX));
                Some((t.target_group_arn()?.to_owned(), w as u16))
            })
            .collect(),
        _ => action
            .target_group_arn()
            .map(|arn| BTreeMap::from([(arn.to_owned(), 1)]))
            .unwrap_or_default(),
    }
}

/// An OIDC action as found, told to keep its client secret (which
/// DescribeListeners does not show and ModifyListener would otherwise
/// require).
fn keep_secret(c: &AuthenticateOidcActionConfig) -> AuthenticateOidcActionConfig {
    let mut b = AuthenticateOidcActionConfig::builder()
        .set_issuer(c.issuer().map(str::to_owned))
        .set_authorization_endpoint(c.authorization_endpoint().map(str::to_owned))
        .set_token_endpoint(c.token_endpoint().map(str::to_owned))
        .set_user_info_endpoint(c.user_info_endpoint().map(str::to_owned))
        .set_client_id(c.client_id().map(str::to_owned))
        .set_session_cookie_name(c.session_cookie_name().map(str::to_owned))
        .set_scope(c.scope().map(str::to_owned))
        .set_session_timeout(c.session_timeout())
        .set_authentication_request_extra_params(c.authentication_request_extra_params().cloned())
        .set_on_unauthenticated_request(c.on_unauthenticated_request().cloned());
    b = match c.client_secret() {
        Some(secret) => b.client_secret(secret),
        None => b.use_existing_client_secret(true),
    };
    b.build()
}

fn show(groups: &BTreeMap<String, u16>) -> String {
    if groups.is_empty() {
        return "no target groups".into();
    }
    groups
        .iter()
        .map(|(arn, w)| format!("{arn} weight {w}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a failed call means for the router.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Throttling, AWS's own trouble, a connection problem: try again.
    Retry,
    ListenerNotFound,
    TargetGroupNotFound,
    AccessDenied,
    Other,
}

/// A failed call: its kind, AWS's code (none without an answer) and a
/// message.
#[derive(Debug)]
struct Failure {
    kind: Kind,
    code: Option<String>,
    message: String,
}

impl Failure {
    fn of<E, R>(err: &SdkError<E, R>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        match err.code() {
            Some(code) => Failure {
                kind: kind_of_code(code),
                code: Some(code.to_owned()),
                message: err.message().unwrap_or("(no message)").to_owned(),
            },
            None => Failure {
                kind: match err {
                    SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Kind::Retry,
                    SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => Kind::Retry,
                    _ => Kind::Other,
                },
                code: None,
                message: DisplayErrorContext(err).to_string(),
            },
        }
    }

    fn describe(&self) -> String {
        match &self.code {
            Some(code) => format!("{code}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// What an ELBv2 error code means for the router.
fn kind_of_code(code: &str) -> Kind {
    match code {
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "PriorRequestNotComplete"
        | "InternalFailure"
        | "InternalError"
        | "ServiceUnavailable"
        | "Unavailable" => Kind::Retry,
        "ListenerNotFound" | "LoadBalancerNotFound" => Kind::ListenerNotFound,
        "TargetGroupNotFound" => Kind::TargetGroupNotFound,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => Kind::AccessDenied,
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests;
