//! EC2 resources (`aws:ec2:*`): [`Vpc`], [`Subnet`], [`SecurityGroup`],
//! [`Instance`], [`InternetGateway`], [`RouteTable`], [`KeyPair`] and
//! [`ElasticIp`]; data sources [`VpcLookup`] (a VPC by tags) and
//! [`AmiLookup`] (the latest image by name).
//!
//! Ids are distinct types ([`VpcId`], [`SubnetId`], ...), so a subnet id
//! cannot be passed where a VPC id is expected: `subnet.out().subnet_id`
//! is an `Input<SubnetId>`, and [`Instance::subnet_id`] takes nothing else.
//!
//! Every resource's `read` reports its inputs as found in AWS (for drift)
//! and its outputs, finds an object by id or — after a crash mid-create — by
//! the `dafnck:token` tag, and treats an object that is gone (or an
//! instance that is terminated) as absent. Import goes through `read`, by
//! id. Deleting an object that is already gone succeeds.

/// Defines `by_id` and `by_token` for an EC2 type whose `Describe*` call
/// (`$call`, made by `$describe`) takes its ids (`$ids`) and a token filter
/// and answers a list (`$list`): the object with this id, or `None` when
/// AWS does not know it; and (see `describe_by_token!`) the object a
/// create with `token` made, if any.
macro_rules! describe_by_id_and_token {
    ($found:ty, $call:literal, $describe:ident, $ids:ident, $list:ident) => {
        async fn by_id(
            client: &aws_sdk_ec2::Client,
            s: &$crate::aws::error::Subject<'_>,
            id: &str,
        ) -> Result<Option<$found>, $crate::aws::error::AwsError> {
            let out = $crate::aws::lookup::unless_not_found(
                s,
                $call,
                client.$describe().$ids(id).send().await,
            )?;
            Ok(out.and_then(|out| out.$list().first().cloned()))
        }

        describe_by_token!($found, $call, $describe, $list);
    };
}

/// Defines `by_token` for an EC2 type whose `Describe*` call (`$call`, made
/// by `$describe`) takes a token filter and answers a list (`$list`): the
/// object a create with `token` made, if any.
macro_rules! describe_by_token {
    ($found:ty, $call:literal, $describe:ident, $list:ident) => {
        async fn by_token(
            client: &aws_sdk_ec2::Client,
            s: &$crate::aws::error::Subject<'_>,
            token: &str,
        ) -> Result<Option<$found>, $crate::aws::error::AwsError> {
            let out = client
                .$describe()
                .filters($crate::aws::tags::token_filter(token))
                .send()
                .await
                .map_err(|e| s.error($call, e))?;
            Ok(out.$list().first().cloned())
        }
    };
}

/// Defines `find` and `existing` for an EC2 type with `by_id` and
/// `by_token`: the object a read asks about (by id, else by the token of
/// the create that may have made it), and the object an update needs to
/// exist.
macro_rules! find_by_id_or_token {
    ($found:ty) => {
        find_by_id_or_token!($found, find_only);

        async fn existing(
            client: &aws_sdk_ec2::Client,
            s: &$crate::aws::error::Subject<'_>,
            id: &str,
        ) -> Result<$found, $crate::aws::error::AwsError> {
            by_id(client, s, id).await?.ok_or_else(|| s.gone(id))
        }
    };
    ($found:ty, find_only) => {
        async fn find<R>(
            client: &aws_sdk_ec2::Client,
            s: &$crate::aws::error::Subject<'_>,
            req: &dafnck_core::provider::kit::Read<R>,
        ) -> Result<Option<$found>, $crate::aws::error::AwsError> {
            $crate::aws::lookup::find(
                req,
                |id| by_id(client, s, id),
                |token| by_token(client, s, token),
            )
            .await
        }
    };
}

/// Defines `by_ids` for an EC2 type whose `Describe*` call (`$call`, made
/// by `$describe`) filters on ids (`$filter`) and answers a list (`$list`):
/// the objects AWS knows among `ids`, in one call. A filter rather than the
/// ids parameter, because an unknown id then is simply not answered instead
/// of failing the whole call.
macro_rules! describe_by_ids {
    ($found:ty, $call:literal, $describe:ident, $filter:literal, $list:ident) => {
        async fn by_ids(
            client: &aws_sdk_ec2::Client,
            s: &$crate::aws::error::Subject<'_>,
            ids: Vec<String>,
        ) -> Result<Vec<$found>, $crate::aws::error::AwsError> {
            let filter = aws_sdk_ec2::types::Filter::builder()
                .name($filter)
                .set_values(Some(ids))
                .build();
            let out = client
                .$describe()
                .filters(filter)
                .send()
                .await
                .map_err(|e| s.error($call, e))?;
            Ok(out.$list().to_vec())
        }
    };
}

/// Defines `find_many` for an EC2 type with `by_ids` and `find`: the
/// objects a batch of reads asks about, in order (see
/// [`lookup::find_many`](super::lookup::find_many)), each known by `$id`.
macro_rules! find_many_by_ids {
    ($found:ty, $id:ident) => {
        async fn find_many<R: dafnck_core::Resource>(
            client: &aws_sdk_ec2::Client,
            reqs: &[dafnck_core::provider::kit::Read<R>],
        ) -> Result<Vec<Option<$found>>, $crate::aws::error::AwsError> {
            // A failed listing names the batch's first resource.
            let first = reqs.first().map_or("", |r| r.name.as_str());
            let s = $crate::aws::error::Subject::of::<R>(first);
            $crate::aws::lookup::find_many(
                reqs,
                |ids| by_ids(client, &s, ids),
                <$found>::$id,
                |req| async move {
                    let s = $crate::aws::error::Subject::of::<R>(&req.name);
                    find(client, &s, req).await
                },
            )
            .await
        }
    };
}

/// Defines `$name(client, s, id, on)`: the `Modify*Attribute` call `$call`
/// (made by `$modify`, given the object's id by `$id`) that turns the
/// attribute `$flag` on or off.
macro_rules! set_flag_by {
    ($name:ident, $call:literal, $modify:ident, $id:ident, $flag:ident) => {
        async fn $name(
            client: &aws_sdk_ec2::Client,
            s: &$crate::aws::error::Subject<'_>,
            id: &str,
            on: bool,
        ) -> Result<(), $crate::aws::error::AwsError> {
            let on = aws_sdk_ec2::types::AttributeBooleanValue::builder()
                .value(on)
                .build();
            client
                .$modify()
                .$id(id)
                .$flag(on)
                .send()
                .await
                .map_err(|e| s.error($call, e))?;
            Ok(())
        }
    };
}

mod elastic_ip;
mod instance;
mod instance_options;
mod internet_gateway;
mod key_pair;
mod launch_template;
mod route_table;
mod security_group;
mod subnet;
mod vpc;

pub use instance_options::{BlockDevice, HttpTokens, MetadataOptions};
pub mod lookups;
pub use lookups::{
    AmiLookup, AmiLookupOutputs, AmiLookupOutputsRefs, AvailabilityZones, AvailabilityZonesOutputs,
    AvailabilityZonesOutputsRefs, VpcLookup, VpcLookupOutputs, VpcLookupOutputsRefs,
};

resource_types! {
    elastic_ip: ElasticIpHandler,
    instance: InstanceHandler,
    internet_gateway: InternetGatewayHandler,
    key_pair: KeyPairHandler,
    launch_template: LaunchTemplateHandler,
    route_table: RouteTableHandler,
    security_group: SecurityGroupHandler,
    subnet: SubnetHandler,
    vpc: VpcHandler,
}

/// The value of a typed input, or `what` is missing.
pub(crate) fn known<'a, T>(
    subject: &super::Subject<'_>,
    input: &'a dafnck_core::Input<T>,
    what: &str,
) -> Result<&'a T, super::AwsError> {
    input
        .as_value()
        .ok_or_else(|| subject.invalid(format!("`{what}` is not resolved")))
}

/// A string that must not be empty.
pub(crate) fn required<'a>(
    subject: &super::Subject<'_>,
    value: &'a str,
    what: &str,
) -> Result<&'a str, super::AwsError> {
    if value.is_empty() {
        Err(subject.invalid(format!("`{what}` must be set")))
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_as_plain_strings() {
        let id = VpcId::from("vpc-1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"vpc-1\"");
        assert_eq!(id.to_string(), "vpc-1");
        let back: SubnetId = serde_json::from_str("\"subnet-1\"").unwrap();
        assert_eq!(back.as_str(), "subnet-1");
    }
}
