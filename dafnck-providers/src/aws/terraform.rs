//! How Terraform's and Pulumi's AWS resource types map to ours, for
//! [`dafnck_core::terraform`] and [`dafnck_core::pulumi`]: adopting the
//! objects of a Terraform state or a Pulumi stack export; and reading a
//! Terraform state where an S3 backend keeps it ([`read_state`]).

use dafnck_core::terraform::TypeMapping;
use dafnck_core::Error;

use super::Provider;

/// The Terraform types whose objects the AWS provider adopts: Terraform's
/// type, ours, the attribute holding the id our provider reads the object
/// by, and Pulumi's type.
///
/// Not mapped (their objects are listed as unmapped): `aws_s3_object`,
/// `aws_iam_role_policy_attachment` and `aws_route53_record`, whose
/// Terraform ids are not ours (ours join the bucket and key, the role and
/// policy, the zone, name and type), and Lambda versions, which Terraform
/// publishes from `aws_lambda_function` rather than as objects of their
/// own.
pub const TYPES: &[TypeMapping] = &[
    TypeMapping::new("aws_vpc", "aws:ec2:Vpc", "id").pulumi("aws:ec2/vpc:Vpc"),
    TypeMapping::new("aws_subnet", "aws:ec2:Subnet", "id").pulumi("aws:ec2/subnet:Subnet"),
    TypeMapping::new("aws_security_group", "aws:ec2:SecurityGroup", "id")
        .pulumi("aws:ec2/securityGroup:SecurityGroup"),
    TypeMapping::new("aws_internet_gateway", "aws:ec2:InternetGateway", "id")
        .pulumi("aws:ec2/internetGateway:InternetGateway"),
    TypeMapping::new("aws_route_table", "aws:ec2:RouteTable", "id")
        .pulumi("aws:ec2/routeTable:RouteTable"),
    TypeMapping::new("aws_instance", "aws:ec2:Instance", "id").pulumi("aws:ec2/instance:Instance"),
    TypeMapping::new("aws_key_pair", "aws:ec2:KeyPair", "key_pair_id")
        .pulumi("aws:ec2/keyPair:KeyPair"),
    TypeMapping::new("aws_eip", "aws:ec2:ElasticIp", "allocation_id").pulumi("aws:ec2/eip:Eip"),
    TypeMapping::new("aws_launch_template", "aws:ec2:LaunchTemplate", "id")
        .pulumi("aws:ec2/launchTemplate:LaunchTemplate"),
    TypeMapping::new("aws_lb", "aws:elbv2:LoadBalancer", "arn")
        .pulumi("aws:lb/loadBalancer:LoadBalancer"),
    TypeMapping::new("aws_lb_target_group", "aws:elbv2:TargetGroup", "arn")
        .pulumi("aws:lb/targetGroup:TargetGroup"),
    TypeMapping::new("aws_lb_listener", "aws:elbv2:Listener", "arn")
        .pulumi("aws:lb/listener:Listener"),
    TypeMapping::new(
        "aws_autoscaling_group",
        "aws:autoscaling:AutoScalingGroup",
        "id",
    )
    .pulumi("aws:autoscaling/group:Group"),
    TypeMapping::new(
        "aws_autoscaling_policy",
        "aws:autoscaling:ScalingPolicy",
        "arn",
    )
    .pulumi("aws:autoscaling/policy:Policy"),
    TypeMapping::new(
        "aws_cloudwatch_metric_alarm",
        "aws:cloudwatch:MetricAlarm",
        "id",
    )
    .pulumi("aws:cloudwatch/metricAlarm:MetricAlarm"),
    TypeMapping::new("aws_s3_bucket", "aws:s3:Bucket", "id").pulumi("aws:s3/bucket:Bucket"),
    TypeMapping::new("aws_iam_role", "aws:iam:Role", "id").pulumi("aws:iam/role:Role"),
    TypeMapping::new("aws_iam_policy", "aws:iam:Policy", "arn").pulumi("aws:iam/policy:Policy"),
    TypeMapping::new("aws_iam_instance_profile", "aws:iam:InstanceProfile", "id")
        .pulumi("aws:iam/instanceProfile:InstanceProfile"),
    TypeMapping::new(
        "aws_lambda_function",
        "aws:lambda:Function",
        "function_name",
    )
    .pulumi("aws:lambda/function:Function"),
    TypeMapping::new("aws_lambda_alias", "aws:lambda:Alias", "arn")
        .pulumi("aws:lambda/alias:Alias"),
    TypeMapping::new("aws_route53_zone", "aws:route53:HostedZone", "zone_id")
        .pulumi("aws:route53/zone:Zone"),
    TypeMapping::new("aws_route53_health_check", "aws:route53:HealthCheck", "id")
        .pulumi("aws:route53/healthCheck:HealthCheck"),
];

/// The text of a Terraform state at `location`: `s3://BUCKET/KEY`, the
/// object an S3 backend keeps (`bucket` and `key` of its `backend "s3"`
/// block; a workspace other than `default` is under
/// `env:/WORKSPACE/KEY`), read with the provider's AWS settings (region,
/// endpoint, credentials); anything else is a local file.
///
/// # Errors
/// [`Error::Usage`] naming `location` when it cannot be read.
pub async fn read_state(provider: &Provider, location: &str) -> dafnck_core::Result<String> {
    let cannot = |e: &dyn std::fmt::Display| {
        Error::Usage(format!("cannot read the Terraform state {location}: {e}"))
    };
    let Some(path) = location.strip_prefix("s3://") else {
        return std::fs::read_to_string(location).map_err(|e| cannot(&e));
    };
    let Some((bucket, key)) = path
        .split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
    else {
        return Err(cannot(&"an S3 location is s3://BUCKET/KEY"));
    };
    let object = provider
        .s3_client()
        .await
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| cannot(&aws_sdk_s3::error::DisplayErrorContext(e)))?;
    let bytes = object.body.collect().await.map_err(|e| cannot(&e))?;
    String::from_utf8(bytes.into_bytes().to_vec()).map_err(|e| cannot(&e))
}

/// Reads Terraform states where S3 backends keep them (`s3://BUCKET/KEY`,
/// see [`read_state`]) for a program's command line:
/// `Cli::state_reader(S3StateReader::new(provider.clone()))` lets
/// `import --terraform s3://..` and `adopt --terraform s3://..` read them.
#[derive(Clone, Debug)]
pub struct S3StateReader {
    provider: Provider,
}

impl S3StateReader {
    /// Reads with `provider`'s AWS settings (region, endpoint, credentials).
    pub fn new(provider: Provider) -> Self {
        S3StateReader { provider }
    }
}

#[async_trait::async_trait]
impl dafnck_core::terraform::StateReader for S3StateReader {
    fn scheme(&self) -> &str {
        "s3"
    }

    async fn read(&self, location: &str) -> dafnck_core::Result<String> {
        read_state(&self.provider, location).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_mapping_is_to_a_served_type_once_and_names_a_pulumi_type() {
        let served: HashSet<&str> = Provider::from_env().kit.types().collect();
        let mut terraform = HashSet::new();
        let mut pulumi = HashSet::new();
        for m in TYPES {
            assert!(served.contains(m.type_name), "{} is served", m.type_name);
            assert!(terraform.insert(m.terraform), "{} once", m.terraform);
            let p = m.pulumi.expect("every AWS mapping names Pulumi's type");
            assert!(p.starts_with("aws:") && pulumi.insert(p), "{p} once");
        }
    }
}
