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

#[path = "../support/mod.rs"]
mod support;

mod discovery;
mod errors;
mod faults;
mod rollouts;
mod weights;
mod world;
