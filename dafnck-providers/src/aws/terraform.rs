//! How Terraform's AWS resource types map to ours, for
//! [`dafnck_core::terraform`]: adopting the objects of a Terraform state.

use dafnck_core::terraform::TypeMapping;

/// The Terraform types whose objects the AWS provider adopts: Terraform's
/// type, ours, and the attribute holding the id our provider reads the
/// object by.
pub const TYPES: &[TypeMapping] = &[
    TypeMapping::new("aws_vpc", "aws:ec2:Vpc", "id"),
    TypeMapping::new("aws_subnet", "aws:ec2:Subnet", "id"),
    TypeMapping::new("aws_security_group", "aws:ec2:SecurityGroup", "id"),
    TypeMapping::new("aws_internet_gateway", "aws:ec2:InternetGateway", "id"),
    TypeMapping::new("aws_route_table", "aws:ec2:RouteTable", "id"),
    TypeMapping::new("aws_instance", "aws:ec2:Instance", "id"),
    TypeMapping::new("aws_key_pair", "aws:ec2:KeyPair", "key_pair_id"),
    TypeMapping::new("aws_eip", "aws:ec2:ElasticIp", "allocation_id"),
    TypeMapping::new("aws_launch_template", "aws:ec2:LaunchTemplate", "id"),
    TypeMapping::new("aws_lb", "aws:elbv2:LoadBalancer", "arn"),
    TypeMapping::new("aws_lb_target_group", "aws:elbv2:TargetGroup", "arn"),
    TypeMapping::new("aws_lb_listener", "aws:elbv2:Listener", "arn"),
];
