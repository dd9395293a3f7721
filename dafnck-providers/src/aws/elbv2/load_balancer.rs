//! [`LoadBalancer`] (`aws:elbv2:LoadBalancer`): an application (or network)
//! load balancer in some subnets, waited for until it is active.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancerSchemeEnum, LoadBalancerStateEnum, LoadBalancerTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::provider::DiffRequest;
use dafnck_core::state::CallKind;

use super::super::ec2::{known, SecurityGroupId, SubnetId, VpcId};
use super::super::error::{AwsError, Subject};
use super::super::lookup::Lookup;
use super::super::tags::check_user_tags;
use super::super::{failed_after_create, lookup, Aws, Poll};
use super::{
    apply_tags, by_arn, existing, made_by, object_name, replace_conflict, same_set, tags_of,
    tags_on_create, user_tags,
};

ids! {
    /// The ARN of a [`LoadBalancer`].
    LoadBalancerArn;
}

/// A load balancer: the entry point that [`Listener`](super::Listener)s
/// listen on.
///
/// - `name`: its name, unique in the account and region (at most 32
///   letters, digits and hyphens); `None` (the default) derives one from
///   the resource's name. Changing it replaces the load balancer.
/// - `scheme`: [`Scheme::InternetFacing`] (the default) or
///   [`Scheme::Internal`]; changing it replaces the load balancer.
/// - `load_balancer_type`: [`LoadBalancerType::Application`] (the default)
///   or [`LoadBalancerType::Network`]; changing it replaces the load balancer.
/// - `subnet_ids`: its subnets, at least two in different zones for an
///   application load balancer; changed in place (SetSubnets).
/// - `security_group_ids`: its security groups; changed in place
///   (SetSecurityGroups). None: AWS's default (for an application load
///   balancer, the VPC's default group), which is then not watched for
///   drift.
/// - `tags`: the user's tags; set in place.
///
/// Create waits until it is `active`; delete waits until it is gone, so
/// its subnets and security groups can be deleted next.
///
/// # Drift
/// `read` reports the subnets, security groups, scheme, type and tags as
/// found.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:elbv2:LoadBalancer", outputs = LoadBalancerOutputs)]
pub struct LoadBalancer {
    /// Its name; `None` derives one. Changing it replaces the load balancer.
    #[resource(force_new)]
    pub name: Option<String>,
    /// Internet-facing or internal; changing it replaces the load balancer.
    #[resource(force_new)]
    pub scheme: Scheme,
    /// Application or network; changing it replaces the load balancer.
    #[resource(force_new)]
    pub load_balancer_type: LoadBalancerType,
    /// Its subnets; changed in place.
    pub subnet_ids: Vec<Input<SubnetId>>,
    /// Its security groups; changed in place.
    pub security_group_ids: Vec<Input<SecurityGroupId>>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// Whether a [`LoadBalancer`] takes traffic from the internet.
#[derive(Declare, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// Reachable from the internet (public addresses).
    #[default]
    InternetFacing,
    /// Reachable only from inside the VPC.
    Internal,
}

/// The kind of a [`LoadBalancer`].
#[derive(Declare, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancerType {
    /// HTTP(S), layer 7.
    #[default]
    Application,
    /// TCP/UDP, layer 4.
    Network,
}

/// What a [`LoadBalancer`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct LoadBalancerOutputs {
    /// Its ARN (and id).
    pub arn: LoadBalancerArn,
    /// Its name.
    pub name: String,
    /// Its DNS name: where clients connect.
    pub dns_name: String,
    /// The Route 53 hosted zone of its DNS name (for alias records).
    pub canonical_hosted_zone_id: String,
    /// Its VPC.
    pub vpc_id: VpcId,
}

type Found = aws_sdk_elasticloadbalancingv2::types::LoadBalancer;

described!(
    LoadBalancer,
    "DescribeLoadBalancers",
    describe_load_balancers,
    set_load_balancer_arns,
    load_balancers
);

async fn by_name(client: &Client, s: &Subject<'_>, name: &str) -> Lookup<Found> {
    let out = lookup::unless_not_found(
        s,
        "DescribeLoadBalancers",
        client.describe_load_balancers().names(name).send().await,
    )?;
    Ok(out.and_then(|out| {
        out.load_balancers()
            .iter()
            .find(|lb| lb.load_balancer_name() == Some(name))
            .cloned()
    }))
}

/// The load balancer a create with `token` made: the one with the name
/// that create used, if its token tag says so. One with that name made by
/// someone else is an error: adopting it would take over a stranger's
/// object.
async fn by_token(client: &Client, s: &Subject<'_>, name: &str, token: &str) -> Lookup<Found> {
    let Some(lb) = by_name(client, s, name).await? else {
        return Ok(None);
    };
    let tags = tags_of(client, s, lb.load_balancer_arn().unwrap_or_default()).await?;
    lookup::adopted(s, "a load balancer", name, lb, made_by(&tags, token))
}

fn arn_of(lb: &Found) -> &str {
    lb.load_balancer_arn().unwrap_or_default()
}

fn outputs(lb: &Found) -> LoadBalancerOutputs {
    LoadBalancerOutputs {
        arn: LoadBalancerArn(arn_of(lb).to_owned()),
        name: lb.load_balancer_name().unwrap_or_default().to_owned(),
        dns_name: lb.dns_name().unwrap_or_default().to_owned(),
        canonical_hosted_zone_id: lb.canonical_hosted_zone_id().unwrap_or_default().to_owned(),
        vpc_id: VpcId(lb.vpc_id().unwrap_or_default().to_owned()),
    }
}

fn subnets_of(lb: &Found) -> Vec<String> {
    lb.availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id().map(str::to_owned))
        .collect()
}

fn declared_subnets(s: &Subject<'_>, v: &LoadBalancer) -> Result<Vec<String>, AwsError> {
    v.subnet_ids
        .iter()
        .map(|id| Ok(known(s, id, "subnet_ids")?.0.clone()))
        .collect()
}

fn declared_groups(s: &Subject<'_>, v: &LoadBalancer) -> Result<Vec<String>, AwsError> {
    v.security_group_ids
        .iter()
        .map(|id| Ok(known(s, id, "security_group_ids")?.0.clone()))
        .collect()
}

/// Waits until the load balancer is active.
async fn wait_active(
    p: &Aws,
    client: &Client,
    s: &Subject<'_>,
    arn: &str,
) -> Result<Found, AwsError> {
    p.wait_for(s, arn, "active", || async {
        let Some(lb) = by_arn::<LoadBalancer>(client, s, arn).await? else {
            return Ok(Poll::Pending("not visible yet".into()));
        };
        match lb.state().and_then(|st| st.code()) {
            Some(LoadBalancerStateEnum::Active) => Ok(Poll::Done(lb)),
            Some(LoadBalancerStateEnum::Failed) => Err(s.wait(
                arn,
                format!(
                    "failed to provision: {}",
                    lb.state()
                        .and_then(|st| st.reason())
                        .unwrap_or("no reason given")
                ),
            )),
            other => Ok(Poll::Pending(
                other.map_or("no state", |c| c.as_str()).to_owned(),
            )),
        }
    })
    .await
}

async fn delete_by_arn(
    p: &Aws,
    client: &Client,
    s: &Subject<'_>,
    arn: &str,
) -> Result<(), AwsError> {
    let deleting = lookup::unless_not_found(
        s,
        "DeleteLoadBalancer",
        client
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await,
    )?;
    if deleting.is_none() {
        return Ok(());
    }
    // Its network interfaces hold its subnets and security groups until
    // it is gone.
    p.wait_for(s, arn, "deleted", || async {
        Ok(match by_arn::<LoadBalancer>(client, s, arn).await? {
            None => Poll::Done(()),
            Some(lb) => Poll::Pending(
                lb.state()
                    .and_then(|st| st.code())
                    .map_or("still listed", |c| c.as_str())
                    .to_owned(),
            ),
        })
    })
    .await
}

/// What a read reports of `lb` (with its `tags`), found for `req`: shared
/// by `read` and `read_many` so both answer alike.
fn observed_as(
    req: &Read<LoadBalancer>,
    lb: &Found,
    tags: &BTreeMap<String, String>,
) -> kit::Found<LoadBalancer, LoadBalancerOutputs> {
    let s = Subject::of::<LoadBalancer>(&req.name);
    let recorded = req.recorded.decode_or_default();
    // Lists compare as sets: the declared order is kept when it holds.
    let found_subnets = subnets_of(lb);
    let subnet_ids = match declared_subnets(&s, &recorded) {
        Ok(declared) if same_set(&declared, &found_subnets) => recorded.subnet_ids.clone(),
        _ => found_subnets
            .into_iter()
            .map(|id| SubnetId(id).into())
            .collect(),
    };
    let found_groups = lb.security_groups().to_vec();
    // None declared: AWS gives an application load balancer the VPC's
    // default group, which is then not watched.
    let security_group_ids = match declared_groups(&s, &recorded) {
        Ok(declared) if declared.is_empty() || same_set(&declared, &found_groups) => {
            recorded.security_group_ids.clone()
        }
        _ => found_groups
            .into_iter()
            .map(|id| SecurityGroupId(id).into())
            .collect(),
    };
    let observed = LoadBalancer {
        name: recorded
            .name
            .map(|_| lb.load_balancer_name().unwrap_or_default().to_owned()),
        scheme: match lb.scheme() {
            Some(LoadBalancerSchemeEnum::Internal) => Scheme::Internal,
            _ => Scheme::InternetFacing,
        },
        load_balancer_type: match lb.r#type() {
            Some(LoadBalancerTypeEnum::Network) => LoadBalancerType::Network,
            _ => LoadBalancerType::Application,
        },
        subnet_ids,
        security_group_ids,
        tags: user_tags(tags),
    };
    lookup::observed(arn_of(lb), observed, outputs(lb))
}

/// The load balancer a create with `token` made for `req`, under the name
/// that create gave it.
async fn by_read_token(
    client: &Client,
    s: &Subject<'_>,
    req: &Read<LoadBalancer>,
    token: &str,
) -> Lookup<Found> {
    let recorded = req.recorded.decode_or_default();
    let name = object_name(recorded.name.as_deref(), &req.name, token);
    by_token(client, s, &name, token).await
}

/// Serves [`LoadBalancer`].
pub(crate) struct LoadBalancerHandler;

#[async_trait]
impl ResourceHandler for LoadBalancerHandler {
    type Resource = LoadBalancer;
    type Context = Aws;

    fn replace_conflict(&self, req: &DiffRequest<'_>) -> Option<String> {
        replace_conflict(req)
    }

    /// Waited for until `active` (minutes), and until gone.
    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        Some(Duration::from_secs(match call {
            CallKind::Create => 120,
            CallKind::Delete => 30,
            _ => 1,
        }))
    }

    async fn create(&self, p: &Aws, req: Create<LoadBalancer>) -> CreateResult<LoadBalancer> {
        let s = Subject::of::<LoadBalancer>(&req.name);
        let v = &req.inputs;
        let subnets = declared_subnets(&s, v)?;
        let groups = declared_groups(&s, v)?;
        if subnets.is_empty() {
            return Err(s
                .invalid("`subnet_ids` must name at least one subnet")
                .into());
        }
        check_user_tags(&s, &v.tags)?;
        let name = object_name(v.name.as_deref(), &req.name, &req.token);
        let client = p.elbv2_client().await;
        let arn = match by_token(client, &s, &name, &req.token).await? {
            Some(lb) => arn_of(&lb).to_owned(),
            None => {
                let out = client
                    .create_load_balancer()
                    .name(&name)
                    .set_subnets(Some(subnets))
                    .set_security_groups((!groups.is_empty()).then_some(groups))
                    .scheme(match v.scheme {
                        Scheme::InternetFacing => LoadBalancerSchemeEnum::InternetFacing,
                        Scheme::Internal => LoadBalancerSchemeEnum::Internal,
                    })
                    .r#type(match v.load_balancer_type {
                        LoadBalancerType::Application => LoadBalancerTypeEnum::Application,
                        LoadBalancerType::Network => LoadBalancerTypeEnum::Network,
                    })
                    .set_tags(Some(tags_on_create(
                        &req.stack, &req.name, &req.token, &v.tags,
                    )))
                    .send()
                    .await
                    .map_err(|e| s.error("CreateLoadBalancer", e))?;
                out.load_balancers()
                    .first()
                    .map(arn_of)
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| s.incomplete("CreateLoadBalancer", "a load balancer"))?
                    .to_owned()
            }
        };
        match wait_active(p, client, &s, &arn).await {
            Ok(lb) => Ok(Made {
                id: arn,
                outputs: outputs(&lb),
            }),
            Err(e) => Err(failed_after_create(e, &arn, delete_by_arn(p, client, &s, &arn)).await),
        }
    }

    batched_reads! {
        /// DescribeLoadBalancers and DescribeTags for up to 20 load balancers
        /// read by ARN at a time (a chunk with an ARN AWS no longer knows is
        /// described again one by one, so that one reads as absent); a read by
        /// token alone, as `read`.
        LoadBalancer, elbv2_client, super::read, super::read_many
    }

    async fn update(&self, p: &Aws, req: Update<LoadBalancer>) -> UpdateResult<LoadBalancer> {
        let s = Subject::of::<LoadBalancer>(&req.name);
        let v = &req.inputs;
        let subnets = declared_subnets(&s, v)?;
        let groups = declared_groups(&s, v)?;
        check_user_tags(&s, &v.tags)?;
        let client = p.elbv2_client().await;
        let arn = req.id.as_str();
        let lb = existing::<LoadBalancer>(client, &s, arn).await?;
        if !same_set(&subnets, &subnets_of(&lb)) {
            client
                .set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(Some(subnets))
                .send()
                .await
                .map_err(|e| s.error("SetSubnets", e))?;
        }
        if !groups.is_empty() && !same_set(&groups, lb.security_groups()) {
            client
                .set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(groups))
                .send()
                .await
                .map_err(|e| s.error("SetSecurityGroups", e))?;
        }
        let current = user_tags(&tags_of(client, &s, arn).await?);
        apply_tags(client, &s, arn, &current, &v.tags).await?;
        let lb = existing::<LoadBalancer>(client, &s, arn).await?;
        Ok(outputs(&lb))
    }

    deletes_by!(LoadBalancer, elbv2_client, delete_by_arn, aws);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_scheme_and_type_replace_the_load_balancer() {
        assert_eq!(
            LoadBalancer::force_new_fields(),
            &["name", "scheme", "load_balancer_type"]
        );
    }

    #[test]
    fn scheme_and_type_serialize_as_aws_writes_them() {
        assert_eq!(
            serde_json::to_string(&Scheme::InternetFacing).unwrap(),
            "\"internet-facing\""
        );
        assert_eq!(
            serde_json::to_string(&LoadBalancerType::Application).unwrap(),
            "\"application\""
        );
    }
}
