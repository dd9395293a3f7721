//! The AWS cost model for `preview --cost` (see [`dafnck_core::cost`]):
//! prices for US East (N. Virginia) shipped in `prices.json` (on-demand
//! list prices, with the date they were compiled), and how each AWS type
//! of this crate is priced.
//!
//! | type | fixed monthly price | by usage |
//! | --- | --- | --- |
//! | `Instance` | its type's hourly price; a public IPv4 address when its subnet gives one | — |
//! | `ElasticIp` | a public IPv4 address | — |
//! | `AutoScalingGroup` | desired capacity (else min size) × the hourly price of its launch template's type | — |
//! | `LoadBalancer` | the application or network load balancer hour | capacity units |
//! | `HostedZone`, `HealthCheck`, `MetricAlarm` | per zone, check, alarm | queries |
//! | `Function` | — | requests, GB-seconds |
//! | `Bucket` | — | storage, requests |
//! | VPCs, subnets, gateways, route tables, security groups, key pairs, launch templates, IAM, listeners, target groups, records, versions, aliases, scaling policies, objects | free | — |
//!
//! Not priced: EBS root volumes (their size comes from the AMI), data
//! transfer, and any instance type missing from the table (said as "no
//! price known"; add it with a `--prices` file).
//!
//! ```no_run
//! # fn infra(_: &mut dafnck_core::Stack) -> dafnck_core::Result<()> { Ok(()) }
//! # async fn f() -> std::process::ExitCode {
//! dafnck_core::cli::run(infra)
//!     .provider(dafnck_providers::aws::Provider::from_env())
//!     .cost_model(dafnck_providers::aws::cost::model())
//!     .await
//! # }
//! ```

use dafnck_core::cost::{CostModel, CostView, Estimate, PriceTable};
use dafnck_core::Input;

use super::autoscaling::AutoScalingGroup;
use super::cloudwatch::MetricAlarm;
use super::ec2::{ElasticIp, Instance, LaunchTemplate, Subnet};
use super::elbv2::{LoadBalancer, LoadBalancerType};
use super::lambda::Function;
use super::route53::{HealthCheck, HostedZone};
use super::s3::Bucket;

/// The shipped price table.
pub fn prices() -> PriceTable {
    PriceTable::from_json(include_str!("prices.json")).expect("the shipped price table is valid")
}

/// The key of an instance type's hourly price.
fn instance_key(instance_type: &str) -> String {
    format!("aws:ec2:Instance/{instance_type}")
}

/// Adds `count` instances of the type `instance_type` (unknown at plan
/// time: said so).
fn instances(e: &mut Estimate, view: &CostView<'_>, instance_type: &Input<String>, count: f64) {
    match instance_type.as_value() {
        Some(t) => e.hourly(
            view.prices(),
            &instance_key(t),
            &format!("instance {t}"),
            count,
        ),
        None => e.unknown("instance type known only after apply"),
    }
}

/// The AWS cost model: [`prices`] and every AWS type of this crate.
pub fn model() -> CostModel {
    CostModel::new(prices())
        .resource(|i: &Instance, view, e| {
            instances(e, view, &i.instance_type, 1.0);
            let subnet: Option<Subnet> = view.referenced(&i.subnet_id, "subnet_id");
            if subnet.is_some_and(|s| s.map_public_ip_on_launch) {
                e.hourly(
                    view.prices(),
                    "aws:ec2/public-ipv4",
                    "public IPv4 address",
                    1.0,
                );
            }
        })
        .resource(|_: &ElasticIp, view, e| {
            e.hourly(
                view.prices(),
                "aws:ec2/public-ipv4",
                "public IPv4 address",
                1.0,
            );
        })
        .resource(|g: &AutoScalingGroup, view, e| {
            let count = f64::from(g.desired_capacity.unwrap_or(g.min_size));
            let template: Option<LaunchTemplate> =
                view.referenced(&g.launch_template_id, "launch_template_id");
            match template {
                Some(t) => instances(e, view, &t.instance_type, count),
                None => e.unknown("launch template not declared in this program"),
            }
        })
        .resource(|lb: &LoadBalancer, view, e| {
            let (kind, units, what) = match lb.load_balancer_type {
                LoadBalancerType::Application => ("application", "application-lcu", "LCUs"),
                LoadBalancerType::Network => ("network", "network-nlcu", "NLCUs"),
            };
            let key = format!("aws:elbv2:LoadBalancer/{kind}");
            e.hourly(view.prices(), &key, &format!("{kind} load balancer"), 1.0);
            e.usage(
                view.prices(),
                &format!("aws:elbv2:LoadBalancer/{units}"),
                what,
            );
        })
        .resource(|_: &HostedZone, view, e| {
            e.monthly(
                view.prices(),
                "aws:route53:HostedZone/zone",
                "hosted zone",
                1.0,
            );
            e.usage(
                view.prices(),
                "aws:route53:HostedZone/queries",
                "DNS queries",
            );
        })
        .resource(|_: &HealthCheck, view, e| {
            e.monthly(
                view.prices(),
                "aws:route53:HealthCheck/basic",
                "health check",
                1.0,
            );
        })
        .resource(|_: &MetricAlarm, view, e| {
            e.monthly(
                view.prices(),
                "aws:cloudwatch:MetricAlarm/standard",
                "alarm",
                1.0,
            );
        })
        .resource(|_: &Function, view, e| {
            e.usage(view.prices(), "aws:lambda:Function/requests", "requests");
            e.usage(view.prices(), "aws:lambda:Function/duration", "compute");
        })
        .resource(|_: &Bucket, view, e| {
            e.usage(view.prices(), "aws:s3:Bucket/storage", "storage");
            e.usage(view.prices(), "aws:s3:Bucket/put-requests", "PUT requests");
        })
        .free::<super::ec2::Vpc>()
        .free::<Subnet>()
        .free::<super::ec2::InternetGateway>()
        .free::<super::ec2::RouteTable>()
        .free::<super::ec2::SecurityGroup>()
        .free::<super::ec2::KeyPair>()
        .free::<LaunchTemplate>()
        .free::<super::elbv2::Listener>()
        .free::<super::elbv2::TargetGroup>()
        .free::<super::iam::Role>()
        .free::<super::iam::Policy>()
        .free::<super::iam::RolePolicyAttachment>()
        .free::<super::iam::InstanceProfile>()
        .free::<super::route53::Record>()
        .free::<super::lambda::Version>()
        .free::<super::lambda::Alias>()
        .free::<super::autoscaling::ScalingPolicy>()
        .free::<super::s3::BucketObject>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_reads_and_every_type_is_modelled() {
        let table = prices();
        assert_eq!(
            (table.region.as_str(), table.currency.as_str()),
            ("us-east-1", "USD")
        );
        assert_eq!(table.hours_per_month, 730.0);
        assert_eq!(
            table.get("aws:ec2:Instance/t3.micro").unwrap().price,
            0.0104
        );
        let modelled: Vec<&str> = model().types().collect();
        for t in crate::aws::Provider::from_env().kit.types() {
            assert!(modelled.contains(&t), "{t} has no cost model");
        }
    }
}
