//! Deployment strategies for dafnck: blue-green, canary and rolling
//! updates, with health checks, metric gates and automatic rollback.
//!
//! A rollout drives three things through traits, so every cloud can plug
//! in: a [`Fleet`] (start the new version, retire the old), a
//! [`TrafficRouter`] (set the split between them) and [`Analysis`] (health
//! checks and metric gates giving a [`Verdict`]). Its every transition is
//! written to a [`RolloutLog`] as a [`RolloutRecord`]; a rollout run again
//! with its last record resumes after a crash, or retries after a rollback.
//! All timing goes through tokio's timer, so tests run whole rollouts on
//! paused, virtual time.
//!
//! Routers: [`NginxRouter`], [`MemoryRouter`], and with the feature `alb`
//! the AWS Application Load Balancer's `AlbRouter` (weighted target groups
//! on a listener) and `TargetGroupRouter` (the same, finding the listener
//! of a target group rolled out by the engine); with the feature `lambda`,
//! the AWS Lambda alias router `lambda::AliasRouter` (a canary as the
//! alias's additional version weight);
//! with the feature `route53`,
//! `Route53Router` (two weighted DNS records). With the feature `asg`, a
//! launch template change reaches an Auto Scaling group's instances by the
//! rolling policy (`asg::AsgFleet`) or by the group's instance refresh
//! (`asg::InstanceRefresh`). Rolling updates swap
//! instances in a pool instead ([`PoolFleet`] over a [`PoolRouter`]:
//! [`NginxRouter`], [`MemoryPool`]).
//!
//! With the feature `kubernetes`, a `Deployment`'s canary through
//! ingress-nginx's canary annotations (`kubernetes::IngressCanaryRouter`)
//! and its blue-green by a Service selector switch
//! (`kubernetes::ServiceSwitchRouter`).
//!
//! Metric sources: [`Prometheus`], and with the feature `cloudwatch`
//! Amazon CloudWatch (`cloudwatch::CloudWatch`, GetMetricData; and
//! `cloudwatch::AlarmGate`, an alarm's state as a gate).
//!
//! Through the engine, [`Strategy`] runs any of the three as a resource's
//! deployment policy (`Options::deploy_with`).

#[cfg(feature = "alb")]
pub mod alb;
pub mod analysis;
#[cfg(feature = "asg")]
pub mod asg;
pub mod clock;
#[cfg(feature = "cloudwatch")]
pub mod cloudwatch;
pub mod deploy;
pub mod fleet;
pub mod http;
mod journaled;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod nginx;
pub mod policy;
pub mod pool;
pub mod prometheus;
pub mod record;
pub mod rolling;
#[cfg(feature = "route53")]
pub mod route53;
pub mod router;
pub mod traffic;

#[cfg(feature = "alb")]
pub use alb::{AlbError, AlbRouter, TargetGroupRouter, TargetHealth};
pub use analysis::{Analysis, AnalysisSet, MetricGate, MetricSource, Threshold, Verdict};
pub use clock::{Clock, TokioClock};
pub use dafnck_core::deploy::RolloutControl;
pub use deploy::Strategy;
pub use fleet::{Fleet, FleetCall, MemoryFleet, MemoryRollingFleet, RollingFleet};
pub use http::HttpCheck;
pub use nginx::NginxRouter;
pub use policy::{
    BatchSize, BlueGreen, Canary, NoData, Policy, PolicyError, Rolling, Step, Weights,
};
pub use pool::{Member, MemoryPool, PoolFleet, PoolRouter};
pub use prometheus::Prometheus;
pub use record::{MemoryLog, Phase, RolloutHandle, RolloutLog, RolloutRecord};
pub use rolling::RollingRollout;
#[cfg(feature = "route53")]
pub use route53::{Route53Error, Route53Router};
pub use router::{MemoryRouter, TrafficRouter};
pub use traffic::{RolloutError, TrafficRollout};
