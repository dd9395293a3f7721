//! [`RouteTable`] (`aws:ec2:RouteTable`): routes of a VPC and the subnets
//! that use them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, RouteOrigin};
use aws_sdk_ec2::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::state::CallKind;
use dafnck_core::ProviderError;

use super::super::error::{AwsError, Subject};
use super::super::{failed_after_create, lookup, one_call, tags, Aws};
use super::{known, required, InternetGatewayId, SubnetId, VpcId};

ids! {
    /// The id of a [`RouteTable`] (`rtb-...`).
    RouteTableId;
}

/// A route table of a VPC, and the subnets associated with it.
///
/// - `vpc_id`: the VPC; changing it replaces the table.
/// - `routes`: where traffic for each range goes, authoritative (routes the
///   table has but the program does not declare are deleted, except the
///   VPC's own `local` route); changed in place.
/// - `subnet_ids`: the subnets that use this table; associated and
///   disassociated in place.
/// - `tags`: the user's tags; set in place.
///
/// ```
/// use dafnck_core::prelude::*;
/// use dafnck_providers::aws::ec2::{InternetGateway, Route, RouteTable, Subnet, Vpc};
///
/// fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
///     let vpc = stack.add("main", Vpc { cidr_block: "10.0.0.0/16".into(), ..Default::default() });
///     let gw = stack.add("gw", InternetGateway { vpc_id: Some(vpc.out().vpc_id), ..Default::default() });
///     let a = stack.add("a", Subnet { vpc_id: vpc.out().vpc_id, cidr_block: "10.0.1.0/24".into(), ..Default::default() });
///     stack.add("public", RouteTable {
///         vpc_id: vpc.out().vpc_id,
///         routes: vec![Route { destination_cidr_block: "0.0.0.0/0".into(), gateway_id: gw.out().internet_gateway_id }],
///         subnet_ids: vec![a.out().subnet_id],
///         ..Default::default()
///     });
///     Ok(())
/// }
/// # let _ = infra;
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:ec2:RouteTable", outputs = RouteTableOutputs)]
pub struct RouteTable {
    /// The VPC; changing it replaces the table.
    #[resource(force_new)]
    pub vpc_id: Input<VpcId>,
    /// Its routes (besides the VPC's `local` route).
    pub routes: Vec<Route>,
    /// The subnets that use it.
    pub subnet_ids: Vec<Input<SubnetId>>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// One route of a [`RouteTable`]: traffic for a range goes to an internet
/// gateway.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Route {
    /// The range (`0.0.0.0/0`).
    pub destination_cidr_block: String,
    /// The gateway traffic for it goes to.
    pub gateway_id: Input<InternetGatewayId>,
}

/// What a [`RouteTable`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct RouteTableOutputs {
    /// Its id.
    pub route_table_id: RouteTableId,
}

type Found = aws_sdk_ec2::types::RouteTable;

describe_by_id_and_token!(
    Found,
    "DescribeRouteTables",
    describe_route_tables,
    route_table_ids,
    route_tables
);

find_by_id_or_token!(Found);

describe_by_ids!(
    Found,
    "DescribeRouteTables",
    describe_route_tables,
    "route-table-id",
    route_tables
);

find_many_by_ids!(Found, route_table_id);

/// The table's routes the program manages: range → gateway.
fn routes_of(table: &Found) -> BTreeMap<String, String> {
    table
        .routes()
        .iter()
        .filter(|r| r.origin() != Some(&RouteOrigin::CreateRouteTable))
        .filter_map(|r| Some((r.destination_cidr_block()?, r.gateway_id()?)))
        .filter(|(_, gw)| *gw != "local")
        .map(|(d, gw)| (d.to_owned(), gw.to_owned()))
        .collect()
}

/// The subnets associated with the table: subnet → association.
fn associations_of(table: &Found) -> BTreeMap<String, String> {
    table
        .associations()
        .iter()
        .filter(|a| a.main() != Some(true))
        .filter_map(|a| {
            Some((
                a.subnet_id()?.to_owned(),
                a.route_table_association_id()?.to_owned(),
            ))
        })
        .collect()
}

fn declared_routes(s: &Subject<'_>, t: &RouteTable) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    for r in &t.routes {
        let d = required(
            s,
            &r.destination_cidr_block,
            "routes[].destination_cidr_block",
        )?;
        let gw = known(s, &r.gateway_id, "routes[].gateway_id")?;
        if out.insert(d.to_owned(), gw.0.clone()).is_some() {
            return Err(s.invalid(format!("two routes for {d}")));
        }
    }
    Ok(out)
}

fn declared_subnets(s: &Subject<'_>, t: &RouteTable) -> Result<BTreeSet<String>, AwsError> {
    t.subnet_ids
        .iter()
        .map(|id| Ok(known(s, id, "subnet_ids")?.0.clone()))
        .collect()
}

/// Brings the routes, associations and tags of `table` to what `t` declares.
async fn converge(
    client: &Client,
    s: &Subject<'_>,
    table: &Found,
    t: &RouteTable,
) -> Result<(), AwsError> {
    let id = table.route_table_id().unwrap_or_default();
    let want = declared_routes(s, t)?;
    let have = routes_of(table);
    for (dest, gw) in &want {
        match have.get(dest) {
            Some(current) if current == gw => {}
            Some(_) => {
                client
                    .replace_route()
                    .route_table_id(id)
                    .destination_cidr_block(dest)
                    .gateway_id(gw)
                    .send()
                    .await
                    .map_err(|e| s.error("ReplaceRoute", e))?;
            }
            None => {
                client
                    .create_route()
                    .route_table_id(id)
                    .destination_cidr_block(dest)
                    .gateway_id(gw)
                    .send()
                    .await
                    .map_err(|e| s.error("CreateRoute", e))?;
            }
        }
    }
    for dest in have.keys().filter(|d| !want.contains_key(*d)) {
        client
            .delete_route()
            .route_table_id(id)
            .destination_cidr_block(dest)
            .send()
            .await
            .map_err(|e| s.error("DeleteRoute", e))?;
    }
    let want = declared_subnets(s, t)?;
    let have = associations_of(table);
    for subnet in want.iter().filter(|sn| !have.contains_key(*sn)) {
        client
            .associate_route_table()
            .route_table_id(id)
            .subnet_id(subnet)
            .send()
            .await
            .map_err(|e| s.error("AssociateRouteTable", e))?;
    }
    for (_, association) in have.iter().filter(|(sn, _)| !want.contains(*sn)) {
        disassociate(client, s, association).await?;
    }
    tags::apply(client, s, id, &tags::user_tags(table.tags()), &t.tags).await
}

async fn disassociate(client: &Client, s: &Subject<'_>, association: &str) -> Result<(), AwsError> {
    lookup::unless_not_found(
        s,
        "DisassociateRouteTable",
        client
            .disassociate_route_table()
            .association_id(association)
            .send()
            .await,
    )?;
    Ok(())
}

async fn delete_by_id(client: &Client, s: &Subject<'_>, id: &str) -> Result<(), AwsError> {
    let Some(table) = by_id(client, s, id).await? else {
        return Ok(());
    };
    for association in associations_of(&table).values() {
        disassociate(client, s, association).await?;
    }
    lookup::deleted(
        s,
        "DeleteRouteTable",
        client.delete_route_table().route_table_id(id).send().await,
    )
}

fn outputs(id: &str) -> RouteTableOutputs {
    RouteTableOutputs {
        route_table_id: RouteTableId(id.to_owned()),
    }
}

/// What a read reports of `table`, found for `req`: shared by `read` and
/// `read_many` so both answer alike.
fn observed_as(req: &Read<RouteTable>, table: &Found) -> kit::Found<RouteTable, RouteTableOutputs> {
    let s = Subject::of::<RouteTable>(&req.name);
    let recorded = req.recorded.decode_or_default();
    let id = table.route_table_id().unwrap_or_default().to_owned();
    // The declared order is kept when the same routes and subnets are found.
    let routes = routes_of(table);
    let routes = match declared_routes(&s, &recorded) {
        Ok(declared) if declared == routes => recorded.routes.clone(),
        _ => routes
            .into_iter()
            .map(|(d, gw)| Route {
                destination_cidr_block: d,
                gateway_id: InternetGatewayId(gw).into(),
            })
            .collect(),
    };
    let subnets: BTreeSet<String> = associations_of(table).into_keys().collect();
    let subnet_ids = match declared_subnets(&s, &recorded) {
        Ok(declared) if declared == subnets => recorded.subnet_ids.clone(),
        _ => subnets.into_iter().map(|sn| SubnetId(sn).into()).collect(),
    };
    let observed = RouteTable {
        vpc_id: VpcId(table.vpc_id().unwrap_or_default().to_owned()).into(),
        routes,
        subnet_ids,
        tags: tags::user_tags(table.tags()),
    };
    lookup::observed(&id, observed, outputs(&id))
}

/// Serves [`RouteTable`].
pub(crate) struct RouteTableHandler;

#[async_trait]
impl ResourceHandler for RouteTableHandler {
    type Resource = RouteTable;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<RouteTable>) -> CreateResult<RouteTable> {
        let s = Subject::of::<RouteTable>(&req.name);
        let t = &req.inputs;
        let vpc_id = required(&s, known(&s, &t.vpc_id, "vpc_id")?.as_str(), "vpc_id")?;
        declared_routes(&s, t)?;
        declared_subnets(&s, t)?;
        tags::check_user_tags(&s, &t.tags)?;
        let client = p.ec2_client().await;
        let table = match by_token(client, &s, &req.token).await? {
            Some(table) => table,
            None => client
                .create_route_table()
                .vpc_id(vpc_id)
                .client_token(tags::client_token(&req.token))
                .tag_specifications(tags::for_create(ResourceType::RouteTable, &req, &t.tags))
                .send()
                .await
                .map_err(|e| s.error("CreateRouteTable", e))?
                .route_table
                .ok_or_else(|| s.incomplete("CreateRouteTable", "a route table"))?,
        };
        let id = table.route_table_id().unwrap_or_default().to_owned();
        if let Err(e) = converge(client, &s, &table, t).await {
            return Err(failed_after_create(e, &id, delete_by_id(client, &s, &id)).await);
        }
        Ok(Made {
            outputs: outputs(&id),
            id,
        })
    }

    async fn read(&self, p: &Aws, req: Read<RouteTable>) -> ReadResult<RouteTable> {
        let s = Subject::of::<RouteTable>(&req.name);
        let client = p.ec2_client().await;
        let found = find(client, &s, &req).await?;
        Ok(found.map(|table| observed_as(&req, &table)))
    }

    /// One DescribeRouteTables for every object read by id (an id AWS no longer
    /// knows is an absent object); a read by token alone, as `read`.
    fn reads_in_batches(&self) -> bool {
        true
    }

    async fn read_many(
        &self,
        p: &Aws,
        reqs: Vec<Read<RouteTable>>,
    ) -> Result<Vec<Option<kit::Found<RouteTable, RouteTableOutputs>>>, ProviderError> {
        let client = p.ec2_client().await;
        let found = find_many(client, &reqs).await?;
        Ok(reqs
            .iter()
            .zip(found)
            .map(|(req, found)| found.map(|table| observed_as(req, &table)))
            .collect())
    }

    async fn update(&self, p: &Aws, req: Update<RouteTable>) -> UpdateResult<RouteTable> {
        let s = Subject::of::<RouteTable>(&req.name);
        let t = &req.inputs;
        tags::check_user_tags(&s, &t.tags)?;
        let client = p.ec2_client().await;
        let table = existing(client, &s, &req.id).await?;
        converge(client, &s, &table, t).await?;
        Ok(outputs(&req.id))
    }

    deletes_by!(RouteTable, ec2_client, delete_by_id);
}
