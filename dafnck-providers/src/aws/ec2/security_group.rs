//! [`SecurityGroup`] (`aws:ec2:SecurityGroup`): a VPC firewall, with its
//! rules as typed values kept in place by diff.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType};
use aws_sdk_ec2::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::provider::DiffRequest;
use dafnck_core::state::CallKind;
use dafnck_core::ProviderError;
use dafnck_core::Value;

use super::super::error::{AwsError, Subject};
use super::super::{failed_after_create, lookup, one_call, tags, Aws};
use super::{known, required, VpcId};

ids! {
    /// The id of a [`SecurityGroup`] (`sg-...`).
    SecurityGroupId;
}

/// A security group of a VPC: which traffic its members accept (`ingress`)
/// and send (`egress`).
///
/// - `name`, `description`, `vpc_id`: changing any replaces the group.
/// - `ingress`: the rules for incoming traffic, authoritative: rules found
///   in AWS but not here are revoked. Changed in place, rule by rule
///   (new ones authorized first, then old ones revoked).
/// - `egress`: `None` (the default) leaves outgoing rules as AWS made them
///   (allow all) and does not watch them; `Some(rules)` makes them
///   authoritative like `ingress` (`Some(vec![])` allows no outgoing traffic).
/// - `tags`: the user's tags; set in place.
///
/// Rules compare by what they allow, not by how they are written: two rules
/// for one port range are the same as one rule with both ranges, and
/// protocol `"6"` is `"tcp"`.
///
/// # Drift
/// `read` reports rules added or removed outside the program.
///
/// # Caveats
/// Only IPv4 ranges are managed; rules that name other security groups,
/// IPv6 ranges or prefix lists are neither reported nor revoked.
///
/// ```
/// use dafnck_providers::aws::ec2::{Rule, SecurityGroup};
/// let web = SecurityGroup {
///     name: "web".into(),
///     description: "HTTP from anywhere".into(),
///     ingress: vec![Rule::tcp(80, "0.0.0.0/0"), Rule::tcp(443, "0.0.0.0/0")],
///     ..Default::default()
/// };
/// # let _ = web;
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:ec2:SecurityGroup", outputs = SecurityGroupOutputs)]
pub struct SecurityGroup {
    /// Its name, unique in the VPC; changing it replaces the group.
    #[resource(force_new)]
    pub name: Input<String>,
    /// What it is for; changing it replaces the group.
    #[resource(force_new)]
    pub description: Input<String>,
    /// The VPC; changing it replaces the group.
    #[resource(force_new)]
    pub vpc_id: Input<VpcId>,
    /// Rules for incoming traffic.
    pub ingress: Vec<Rule>,
    /// Rules for outgoing traffic; `None` leaves AWS's default alone.
    pub egress: Option<Vec<Rule>>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// One rule of a [`SecurityGroup`]: a protocol and port range, from (or to)
/// some IPv4 ranges.
///
/// `protocol` is `"tcp"`, `"udp"`, `"icmp"` or `"-1"` (all traffic, whose
/// ports are ignored); for ICMP, `from_port` is the type and `to_port` the
/// code (`-1`: any).
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct Rule {
    /// `tcp`, `udp`, `icmp`, or `-1` for all.
    pub protocol: String,
    /// The first port.
    pub from_port: i32,
    /// The last port.
    pub to_port: i32,
    /// The IPv4 ranges (`0.0.0.0/0`).
    pub cidr_blocks: Vec<String>,
}

impl Rule {
    /// TCP on one port from (or to) one range.
    pub fn tcp(port: u16, cidr: &str) -> Rule {
        Rule::tcp_range(port, port, cidr)
    }

    /// TCP on a port range from (or to) one range.
    pub fn tcp_range(from: u16, to: u16, cidr: &str) -> Rule {
        Rule {
            protocol: "tcp".into(),
            from_port: from.into(),
            to_port: to.into(),
            cidr_blocks: vec![cidr.to_owned()],
        }
    }

    /// All traffic from (or to) one range.
    pub fn all(cidr: &str) -> Rule {
        Rule {
            protocol: "-1".into(),
            from_port: 0,
            to_port: 0,
            cidr_blocks: vec![cidr.to_owned()],
        }
    }
}

/// What a [`SecurityGroup`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct SecurityGroupOutputs {
    /// Its id.
    pub security_group_id: SecurityGroupId,
    /// Its ARN.
    pub arn: String,
}

/// One thing a rule allows: protocol, port range, one range.
type Atom = (String, i32, i32, String);

fn protocol(p: &str) -> String {
    match p.to_ascii_lowercase().as_str() {
        "all" | "-1" => "-1".into(),
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        other => other.to_owned(),
    }
}

/// What a list of rules allows, one atom per range.
fn atoms(rules: &[Rule]) -> BTreeSet<Atom> {
    let mut out = BTreeSet::new();
    for r in rules {
        let p = protocol(&r.protocol);
        let (from, to) = if p == "-1" {
            (0, 0)
        } else {
            (r.from_port, r.to_port)
        };
        for c in &r.cidr_blocks {
            out.insert((p.clone(), from, to, c.clone()));
        }
    }
    out
}

/// What AWS's permissions allow, IPv4 ranges only.
fn atoms_of(permissions: &[IpPermission]) -> BTreeSet<Atom> {
    let mut out = BTreeSet::new();
    for perm in permissions {
        let p = protocol(perm.ip_protocol().unwrap_or("-1"));
        let (from, to) = if p == "-1" {
            (0, 0)
        } else {
            (perm.from_port().unwrap_or(0), perm.to_port().unwrap_or(0))
        };
        for range in perm.ip_ranges() {
            if let Some(c) = range.cidr_ip() {
                out.insert((p.clone(), from, to, c.to_owned()));
            }
        }
    }
    out
}

/// Atoms grouped back into rules, one per protocol and port range.
fn rules_of(atoms: &BTreeSet<Atom>) -> Vec<Rule> {
    let mut out: Vec<Rule> = Vec::new();
    for (p, from, to, cidr) in atoms {
        match out.last_mut() {
            Some(r) if &r.protocol == p && r.from_port == *from && r.to_port == *to => {
                r.cidr_blocks.push(cidr.clone());
            }
            _ => out.push(Rule {
                protocol: p.clone(),
                from_port: *from,
                to_port: *to,
                cidr_blocks: vec![cidr.clone()],
            }),
        }
    }
    out
}

/// The rules to report for what AWS allows: the recorded ones when they
/// allow exactly that (so a rule written differently is no drift), else
/// AWS's, grouped.
fn observed_rules(found: &BTreeSet<Atom>, recorded: &[Rule]) -> Vec<Rule> {
    if &atoms(recorded) == found {
        recorded.to_vec()
    } else {
        rules_of(found)
    }
}

/// Atoms as AWS's permissions, one per protocol and port range.
fn permissions(atoms: &BTreeSet<Atom>) -> Vec<IpPermission> {
    rules_of(atoms)
        .into_iter()
        .map(|r| {
            let all = r.protocol == "-1";
            IpPermission::builder()
                .ip_protocol(r.protocol)
                .set_from_port((!all).then_some(r.from_port))
                .set_to_port((!all).then_some(r.to_port))
                .set_ip_ranges(Some(
                    r.cidr_blocks
                        .iter()
                        .map(|c| IpRange::builder().cidr_ip(c).build())
                        .collect(),
                ))
                .build()
        })
        .collect()
}

fn check_rules(s: &Subject<'_>, field: &str, rules: &[Rule]) -> Result<(), AwsError> {
    for (i, r) in rules.iter().enumerate() {
        let p = protocol(&r.protocol);
        let problem = if p.is_empty() {
            Some("has no protocol".to_owned())
        } else if r.cidr_blocks.is_empty() {
            Some("has no cidr_blocks".to_owned())
        } else if (p == "tcp" || p == "udp")
            && (!(0..=65535).contains(&r.from_port)
                || !(0..=65535).contains(&r.to_port)
                || r.from_port > r.to_port)
        {
            Some(format!(
                "has the port range {}..{}, which is not within 0..65535 in order",
                r.from_port, r.to_port
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(s.invalid(format!("{field}[{i}] {problem}")));
        }
    }
    Ok(())
}

type Found = aws_sdk_ec2::types::SecurityGroup;

describe_by_id_and_token!(
    Found,
    "DescribeSecurityGroups",
    describe_security_groups,
    group_ids,
    security_groups
);

find_by_id_or_token!(Found);

describe_by_ids!(
    Found,
    "DescribeSecurityGroups",
    describe_security_groups,
    "group-id",
    security_groups
);

find_many_by_ids!(Found, group_id);

fn outputs(group: &Found) -> SecurityGroupOutputs {
    SecurityGroupOutputs {
        security_group_id: SecurityGroupId(group.group_id().unwrap_or_default().to_owned()),
        arn: group.security_group_arn().unwrap_or_default().to_owned(),
    }
}

/// Which way a set of rules points.
#[derive(Clone, Copy)]
enum Direction {
    Ingress,
    Egress,
}

/// Authorizes `add`, then revokes `remove`, in one direction.
async fn change_rules(
    client: &Client,
    s: &Subject<'_>,
    id: &str,
    direction: Direction,
    add: &BTreeSet<Atom>,
    remove: &BTreeSet<Atom>,
) -> Result<(), AwsError> {
    if !add.is_empty() {
        let perms = Some(permissions(add));
        match direction {
            Direction::Ingress => client
                .authorize_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(perms)
                .send()
                .await
                .map(drop)
                .map_err(|e| s.error("AuthorizeSecurityGroupIngress", e))?,
            Direction::Egress => client
                .authorize_security_group_egress()
                .group_id(id)
                .set_ip_permissions(perms)
                .send()
                .await
                .map(drop)
                .map_err(|e| s.error("AuthorizeSecurityGroupEgress", e))?,
        }
    }
    if !remove.is_empty() {
        let perms = Some(permissions(remove));
        match direction {
            Direction::Ingress => client
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(perms)
                .send()
                .await
                .map(drop)
                .map_err(|e| s.error("RevokeSecurityGroupIngress", e))?,
            Direction::Egress => client
                .revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(perms)
                .send()
                .await
                .map(drop)
                .map_err(|e| s.error("RevokeSecurityGroupEgress", e))?,
        }
    }
    Ok(())
}

/// Brings the rules and tags of `group` to what `g` declares.
async fn converge(
    client: &Client,
    s: &Subject<'_>,
    group: &Found,
    g: &SecurityGroup,
) -> Result<(), AwsError> {
    let id = group.group_id().unwrap_or_default();
    let found = atoms_of(group.ip_permissions());
    let wanted = atoms(&g.ingress);
    let add = wanted.difference(&found).cloned().collect();
    let remove = found.difference(&wanted).cloned().collect();
    change_rules(client, s, id, Direction::Ingress, &add, &remove).await?;
    if let Some(egress) = &g.egress {
        let found = atoms_of(group.ip_permissions_egress());
        let wanted = atoms(egress);
        let add = wanted.difference(&found).cloned().collect();
        let remove = found.difference(&wanted).cloned().collect();
        change_rules(client, s, id, Direction::Egress, &add, &remove).await?;
    }
    tags::apply(client, s, id, &tags::user_tags(group.tags()), &g.tags).await
}

async fn delete_by_id(client: &Client, s: &Subject<'_>, id: &str) -> Result<(), AwsError> {
    lookup::deleted(
        s,
        "DeleteSecurityGroup",
        client.delete_security_group().group_id(id).send().await,
    )
}

fn check(s: &Subject<'_>, g: &SecurityGroup) -> Result<(), AwsError> {
    check_rules(s, "ingress", &g.ingress)?;
    if let Some(egress) = &g.egress {
        check_rules(s, "egress", egress)?;
    }
    tags::check_user_tags(s, &g.tags)
}

/// What a read reports of `group`, found for `req`: shared by `read` and
/// `read_many` so both answer alike.
fn observed_as(
    req: &Read<SecurityGroup>,
    group: &Found,
) -> kit::Found<SecurityGroup, SecurityGroupOutputs> {
    let recorded = req.recorded.decode_or_default();
    let observed = SecurityGroup {
        name: group.group_name().unwrap_or_default().to_owned().into(),
        description: group.description().unwrap_or_default().to_owned().into(),
        vpc_id: VpcId(group.vpc_id().unwrap_or_default().to_owned()).into(),
        ingress: observed_rules(&atoms_of(group.ip_permissions()), &recorded.ingress),
        egress: recorded
            .egress
            .map(|r| observed_rules(&atoms_of(group.ip_permissions_egress()), &r)),
        tags: tags::user_tags(group.tags()),
    };
    lookup::observed(
        group.group_id().unwrap_or_default(),
        observed,
        outputs(group),
    )
}

/// Serves [`SecurityGroup`].
pub(crate) struct SecurityGroupHandler;

#[async_trait]
impl ResourceHandler for SecurityGroupHandler {
    type Resource = SecurityGroup;
    type Context = Aws;

    fn replace_conflict(&self, req: &DiffRequest<'_>) -> Option<String> {
        replace_conflict(req)
    }

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<SecurityGroup>) -> CreateResult<SecurityGroup> {
        let s = Subject::of::<SecurityGroup>(&req.name);
        let g = &req.inputs;
        let name = required(&s, known(&s, &g.name, "name")?, "name")?;
        let description = required(&s, known(&s, &g.description, "description")?, "description")?;
        let vpc_id = required(&s, known(&s, &g.vpc_id, "vpc_id")?.as_str(), "vpc_id")?;
        check(&s, g)?;
        let client = p.ec2_client().await;
        let id = match by_token(client, &s, &req.token).await? {
            Some(group) => group.group_id().unwrap_or_default().to_owned(),
            None => client
                .create_security_group()
                .group_name(name)
                .description(description)
                .vpc_id(vpc_id)
                .tag_specifications(tags::for_create(ResourceType::SecurityGroup, &req, &g.tags))
                .send()
                .await
                .map_err(|e| s.error("CreateSecurityGroup", e))?
                .group_id
                .ok_or_else(|| s.incomplete("CreateSecurityGroup", "a group id"))?,
        };
        let configured = async {
            let group = existing(client, &s, &id).await?;
            converge(client, &s, &group, g).await?;
            Ok::<_, AwsError>(group)
        };
        match configured.await {
            Ok(group) => Ok(Made {
                id,
                outputs: outputs(&group),
            }),
            Err(e) => Err(failed_after_create(e, &id, delete_by_id(client, &s, &id)).await),
        }
    }

    async fn read(&self, p: &Aws, req: Read<SecurityGroup>) -> ReadResult<SecurityGroup> {
        let s = Subject::of::<SecurityGroup>(&req.name);
        let client = p.ec2_client().await;
        let found = find(client, &s, &req).await?;
        Ok(found.map(|group| observed_as(&req, &group)))
    }

    /// One DescribeSecurityGroups for every object read by id (an id AWS no longer
    /// knows is an absent object); a read by token alone, as `read`.
    fn reads_in_batches(&self) -> bool {
        true
    }

    async fn read_many(
        &self,
        p: &Aws,
        reqs: Vec<Read<SecurityGroup>>,
    ) -> Result<Vec<Option<kit::Found<SecurityGroup, SecurityGroupOutputs>>>, ProviderError> {
        let client = p.ec2_client().await;
        let found = find_many(client, &reqs).await?;
        Ok(reqs
            .iter()
            .zip(found)
            .map(|(req, found)| found.map(|group| observed_as(req, &group)))
            .collect())
    }

    async fn update(&self, p: &Aws, req: Update<SecurityGroup>) -> UpdateResult<SecurityGroup> {
        let s = Subject::of::<SecurityGroup>(&req.name);
        let g = &req.inputs;
        check(&s, g)?;
        let client = p.ec2_client().await;
        let group = existing(client, &s, &req.id).await?;
        converge(client, &s, &group, g).await?;
        Ok(outputs(&group))
    }

    deletes_by!(SecurityGroup, ec2_client, delete_by_id);
}

/// Why a new security group could not be created beside its old one: both
/// would have the same `name` in the same VPC, which EC2 keeps unique.
/// `None` for other types, a name that changes, or a VPC that changes or is
/// not known yet.
pub(crate) fn replace_conflict(req: &DiffRequest<'_>) -> Option<String> {
    if req.type_name != SecurityGroup::TYPE {
        return None;
    }
    let field = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).map(str::to_owned);
    let name = field(req.new_inputs, "name")?;
    let vpc = field(req.new_inputs, "vpc_id")?;
    let same = field(req.old_inputs, "name").as_deref() == Some(name.as_str())
        && field(req.old_inputs, "vpc_id").as_deref() == Some(vpc.as_str());
    same.then(|| {
        format!(
            "its `name` {name:?} stays the same, and security group names are unique in a VPC, so the new group cannot be made while the old one exists: change `name` with this change (say, with a version suffix)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_name_in_the_same_vpc_conflicts_with_a_replacement() {
        let diff = |old: serde_json::Value, new: serde_json::Value| {
            let (old, new) = (Value::from_json(old), Value::from_json(new));
            replace_conflict(&DiffRequest {
                name: "web-sg",
                type_name: SecurityGroup::TYPE,
                old_inputs: &old,
                new_inputs: &new,
                force_new: &[],
                ignore_changes: &[],
            })
        };
        let old = serde_json::json!({"name": "web", "description": "a", "vpc_id": "vpc-1"});
        let new = serde_json::json!({"name": "web", "description": "b", "vpc_id": "vpc-1"});
        let why = diff(old.clone(), new).unwrap();
        assert!(
            why.contains("\"web\" stays the same") && why.contains("unique in a VPC"),
            "{why}"
        );
        let renamed = serde_json::json!({"name": "web-2", "description": "b", "vpc_id": "vpc-1"});
        assert_eq!(diff(old.clone(), renamed), None);
        let moved = serde_json::json!({"name": "web", "description": "b", "vpc_id": "vpc-2"});
        assert_eq!(diff(old.clone(), moved), None);
        let unknown = serde_json::json!({"name": "web", "description": "b", "vpc_id": null});
        assert_eq!(diff(old, unknown), None);
    }

    #[test]
    fn rules_compare_by_what_they_allow() {
        let split = vec![Rule::tcp(80, "10.0.0.0/8"), Rule::tcp(80, "0.0.0.0/0")];
        let joined = vec![Rule {
            protocol: "6".into(),
            from_port: 80,
            to_port: 80,
            cidr_blocks: vec!["0.0.0.0/0".into(), "10.0.0.0/8".into()],
        }];
        assert_eq!(atoms(&split), atoms(&joined));
        // What is recorded is reported when AWS allows exactly that.
        assert_eq!(observed_rules(&atoms(&joined), &split), split);
        let all = Rule {
            from_port: -1,
            to_port: -1,
            ..Rule::all("0.0.0.0/0")
        };
        assert_eq!(atoms(&[all]), atoms(&[Rule::all("0.0.0.0/0")]));
    }

    #[test]
    fn permissions_group_ranges_and_drop_ports_for_all_traffic() {
        let set = atoms(&[
            Rule::tcp(22, "10.0.0.0/8"),
            Rule::tcp(22, "192.168.0.0/16"),
            Rule::all("0.0.0.0/0"),
        ]);
        let perms = permissions(&set);
        assert_eq!(perms.len(), 2);
        let all = perms
            .iter()
            .find(|p| p.ip_protocol() == Some("-1"))
            .unwrap();
        assert_eq!(all.from_port(), None);
        let ssh = perms
            .iter()
            .find(|p| p.ip_protocol() == Some("tcp"))
            .unwrap();
        assert_eq!((ssh.from_port(), ssh.to_port()), (Some(22), Some(22)));
        assert_eq!(ssh.ip_ranges().len(), 2);
        assert_eq!(atoms_of(&perms), set);
    }

    #[test]
    fn bad_rules_are_refused_naming_the_rule() {
        let s = Subject::of::<SecurityGroup>("web");
        let bad = [
            Rule {
                cidr_blocks: vec![],
                ..Rule::tcp(80, "x")
            },
            Rule::tcp_range(90, 80, "0.0.0.0/0"),
            Rule {
                protocol: String::new(),
                ..Rule::tcp(80, "0.0.0.0/0")
            },
        ];
        for (rule, words) in bad
            .into_iter()
            .zip(["no cidr_blocks", "port range", "no protocol"])
        {
            let e = check_rules(&s, "ingress", &[Rule::tcp(22, "0.0.0.0/0"), rule]).unwrap_err();
            assert!(e.to_string().contains("ingress[1]"), "{e}");
            assert!(e.to_string().contains(words), "{e}");
        }
    }
}
