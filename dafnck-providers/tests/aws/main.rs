//! The aws provider against a moto server on 127.0.0.1, driven through the
//! engine and checked through the AWS SDK, one module per concept.
//!
//! Each test takes the server's URL from `DAFNCK_MOTO_URL` (set by
//! `scripts/servers/moto.sh start` or `scripts/test.sh`); without it the test
//! says it is skipped and passes, unless `DAFNCK_REQUIRE_SERVERS=1`, when it
//! fails. The tests reset moto, so they run one at a time.
#![cfg(feature = "aws")]

mod access;
mod asg_conformance;
mod asg_stack;
mod bad_input;
mod conformance;
mod crash;
mod data_sources;
mod drift;
mod elbv2;
mod instance_options;
mod instances;
mod lambda_conformance;
mod lambda_stack;
mod network;
mod recovery;
mod route53_conformance;
mod route53_stack;
mod s3_iam_conformance;
mod s3_iam_stack;
mod support;
mod web_stack;
