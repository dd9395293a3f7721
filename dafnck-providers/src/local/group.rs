//! [`ServiceGroup`] (`local:exec:ServiceGroup`): replicas of one service,
//! each a detached process on a port of its own, started and checked like
//! a [`Service`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    Create, CreateResult, Delete, Found, Made, Read, ReadResult, ResourceHandler, Update,
    UpdateResult,
};
use dafnck_core::ProviderError;
use sha2::{Digest, Sha256};

use super::error::LocalError;
use super::record::Records;
use super::service::{self, Service, ServiceOutputs};
use super::Local;

/// Fields whose change a group takes without restarting its replicas.
const SCALING: [&str; 3] = ["replicas", "startup_timeout_secs", "stop_timeout_secs"];

/// `replicas` copies of one service on this machine, each on a free port
/// of 127.0.0.1 (`{port}` in `args` and `env` values is replaced by it),
/// like a Kubernetes Deployment's pods or an autoscaling group's
/// instances.
///
/// Every object of a group gets its own generation in its id
/// (`<name>-<8 hex digits>`), and replica `i` runs as the service
/// `<id>-<i>` (its log is `.dafnck-local/services/<id>-<i>.log`). So a new
/// object starts beside the old one under the same `name`: what a rolling,
/// canary or blue-green deployment needs (`Options::deploy_with`).
///
/// - Create starts every replica at once and waits until each answers its
///   health check; if one cannot start, the others are stopped and the
///   step fails with that replica's log.
/// - A change of `replicas` (or the timeouts) scales in place: missing
///   replicas are started, extra ones stopped, the rest keep running. Any
///   other change restarts every replica (without a deployment policy).
/// - Delete stops every replica (SIGTERM, then SIGKILL after
///   `stop_timeout_secs`).
///
/// # Drift
/// `read` reports as `replicas` how many replicas still run, so a replica
/// that died shows as drift and `up` starts it again; with none left, the
/// group is reported deleted.
///
/// ```
/// use dafnck_providers::local::ServiceGroup;
/// let web = ServiceGroup {
///     name: "web".into(),
///     replicas: 4,
///     command: "./server".into(),
///     args: vec!["--port".into(), "{port}".into()],
///     ..Default::default()
/// };
/// assert_eq!(web.startup_timeout_secs, 30);
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug)]
#[serde(default)]
#[resource(type = "local:exec:ServiceGroup", outputs = ServiceGroupOutputs)]
pub struct ServiceGroup {
    /// Its name (letters, digits, `.`, `_`, `-`); changing it replaces the
    /// group.
    #[resource(force_new)]
    pub name: String,
    /// How many replicas run (at least 1).
    pub replicas: u16,
    /// The program, as for [`Service::command`].
    pub command: String,
    /// Its arguments; `{port}` is the replica's port.
    pub args: Vec<String>,
    /// Environment variables added to this process's; `{port}` in a value
    /// is the replica's port.
    pub env: BTreeMap<String, String>,
    /// The replicas' working directory, relative to the provider's work
    /// dir; `None` is the work dir.
    pub dir: Option<String>,
    /// The path of each replica's health check; `None` is `/health`.
    pub health_path: Option<String>,
    /// How long a replica may take to answer its health check (default 30).
    pub startup_timeout_secs: u64,
    /// How long a replica gets to exit after SIGTERM before SIGKILL
    /// (default 10).
    pub stop_timeout_secs: u64,
}

impl Default for ServiceGroup {
    /// No name or command, one replica, a 30 s startup and 10 s stop
    /// timeout.
    fn default() -> Self {
        ServiceGroup {
            name: String::new(),
            replicas: 1,
            command: String::new(),
            args: Vec::new(),
            env: BTreeMap::new(),
            dir: None,
            health_path: None,
            startup_timeout_secs: 30,
            stop_timeout_secs: 10,
        }
    }
}

impl ServiceGroup {
    /// The service replica `name` runs as.
    fn replica(&self, name: String) -> Service {
        Service {
            name,
            command: self.command.clone(),
            args: self.args.clone(),
            env: self.env.clone(),
            dir: self.dir.clone(),
            port: 0,
            health_path: self.health_path.clone(),
            startup_timeout_secs: self.startup_timeout_secs,
            stop_timeout_secs: self.stop_timeout_secs,
        }
    }
}

/// What a [`ServiceGroup`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceGroupOutputs {
    /// Each running replica, in replica order.
    pub instances: Vec<ServiceOutputs>,
    /// Their ports on 127.0.0.1, in the same order.
    pub ports: Vec<u16>,
}

impl ServiceGroupOutputs {
    fn of(instances: Vec<ServiceOutputs>) -> Self {
        ServiceGroupOutputs {
            ports: instances.iter().map(|i| i.port).collect(),
            instances,
        }
    }

    /// Each replica's address, `127.0.0.1:<port>`.
    pub fn addresses(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect()
    }
}

/// What the provider keeps per group: its replicas' service names.
#[derive(Serialize, Deserialize, Debug)]
struct GroupRecord {
    /// The idempotency token of the create, to find it after a crash.
    token: String,
    /// Replica `i`'s service name at index `i`.
    replicas: Vec<String>,
}

fn records(p: &Local) -> Records {
    Records::new(p, "groups")
}

fn invalid(message: impl Into<String>) -> LocalError {
    LocalError::Invalid {
        type_name: ServiceGroup::TYPE,
        message: message.into(),
    }
}

fn check(g: &ServiceGroup) -> Result<(), LocalError> {
    if g.replicas == 0 {
        return Err(invalid(format!(
            "group {}: `replicas` must be at least 1",
            g.name
        )));
    }
    // The replicas' own checks cover the name, command and health path.
    service::check(&g.replica(format!("{}-0", g.name)))
        .map_err(|e| invalid(format!("group {}: {e}", g.name)))
}

/// The id of the object a create with `token` makes: the name and a
/// generation derived from the token, so two objects of one name differ.
fn group_id(name: &str, token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let generation: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{name}-{generation}")
}

/// Starts the replicas `names` of `g` at once; if any fails, stops the
/// others and returns the first failure.
async fn start_all(
    p: &Local,
    g: &ServiceGroup,
    names: &[String],
    token: &str,
) -> Result<Vec<ServiceOutputs>, LocalError> {
    let started = futures::future::join_all(
        names
            .iter()
            .map(|n| async move { service::start(p, &g.replica(n.clone()), token).await }),
    )
    .await;
    if started.iter().all(Result::is_ok) {
        return Ok(started.into_iter().flatten().collect());
    }
    let grace = service::secs(g.stop_timeout_secs);
    let mut first = None;
    for (name, result) in names.iter().zip(started) {
        match result {
            Ok(o) => service::stop(p, name, Some(&o), grace).await?,
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    Err(first.unwrap_or_else(|| invalid("a replica failed to start")))
}

/// Stops the replicas `names`, all at once.
async fn stop_all(p: &Local, names: &[String], grace: u64) -> Result<(), LocalError> {
    let grace = service::secs(grace);
    let stopped =
        futures::future::join_all(names.iter().map(|n| service::stop(p, n, None, grace))).await;
    stopped.into_iter().collect()
}

/// The replicas `names` that run, in order.
fn running(p: &Local, names: &[String]) -> Result<Vec<ServiceOutputs>, LocalError> {
    let mut found = Vec::new();
    for name in names {
        found.extend(service::running(p, name)?);
    }
    Ok(found)
}

/// Serves [`ServiceGroup`].
pub(super) struct ServiceGroupHandler;

#[async_trait]
impl ResourceHandler for ServiceGroupHandler {
    type Resource = ServiceGroup;
    type Context = Local;

    async fn create(&self, p: &Local, req: Create<ServiceGroup>) -> CreateResult<ServiceGroup> {
        let g = req.inputs;
        check(&g)?;
        let id = group_id(&g.name, &req.token);
        let names: Vec<String> = (0..g.replicas).map(|i| format!("{id}-{i}")).collect();
        let records = records(p);
        // Recorded before any replica starts, so a crash still finds them.
        records.save(
            &id,
            &GroupRecord {
                token: req.token.clone(),
                replicas: names.clone(),
            },
        )?;
        match start_all(p, &g, &names, &req.token).await {
            Ok(instances) => Ok(Made {
                id,
                outputs: ServiceGroupOutputs::of(instances),
            }),
            Err(e) => {
                records.remove(&id)?;
                Err(e.into())
            }
        }
    }

    async fn read(&self, p: &Local, req: Read<ServiceGroup>) -> ReadResult<ServiceGroup> {
        let mut g = req.recorded.decode()?;
        let id = match (&req.id, &req.token) {
            (Some(id), _) => id.clone(),
            (None, Some(token)) => group_id(&g.name, token),
            (None, None) => return Ok(None),
        };
        let Some(record) = records(p).load::<GroupRecord>(&id)? else {
            return Ok(None);
        };
        // Without an id, only the create that carried this token counts.
        if req.id.is_none() && req.token.as_deref() != Some(record.token.as_str()) {
            return Ok(None);
        }
        let instances = running(p, &record.replicas)?;
        if instances.is_empty() {
            return Ok(None);
        }
        g.replicas = u16::try_from(instances.len()).unwrap_or(u16::MAX);
        Ok(Some(Found {
            id,
            inputs: g,
            outputs: ServiceGroupOutputs::of(instances),
        }))
    }

    async fn update(&self, p: &Local, req: Update<ServiceGroup>) -> UpdateResult<ServiceGroup> {
        let g = req.inputs;
        check(&g)?;
        let records = records(p);
        let record = records
            .load::<GroupRecord>(&req.id)?
            .unwrap_or(GroupRecord {
                token: String::new(),
                replicas: Vec::new(),
            });
        let names: Vec<String> = (0..g.replicas).map(|i| format!("{}-{i}", req.id)).collect();
        let extra: Vec<String> = record
            .replicas
            .iter()
            .filter(|n| !names.contains(n))
            .cloned()
            .collect();
        let restart = !req.changed.iter().all(|f| SCALING.contains(&f.as_str()));
        // Stopped: the extra replicas, and every one on a restart.
        let to_stop = if restart {
            record.replicas.clone()
        } else {
            extra
        };
        stop_all(p, &to_stop, g.stop_timeout_secs).await?;
        let mut to_start = Vec::new();
        for name in &names {
            if restart || service::running(p, name)?.is_none() {
                to_start.push(name.clone());
            }
        }
        records.save(
            &req.id,
            &GroupRecord {
                token: record.token.clone(),
                replicas: names.clone(),
            },
        )?;
        start_all(p, &g, &to_start, &record.token).await?;
        Ok(ServiceGroupOutputs::of(running(p, &names)?))
    }

    async fn delete(&self, p: &Local, req: Delete<ServiceGroup>) -> Result<(), ProviderError> {
        let g = req.inputs.decode()?;
        let records = records(p);
        match records.load::<GroupRecord>(&req.id)? {
            Some(record) => stop_all(p, &record.replicas, g.stop_timeout_secs).await?,
            // No record (removed by hand): the processes the state knows of.
            None => {
                let outputs = req.outputs.decode_or_default();
                let grace = service::secs(g.stop_timeout_secs);
                for (i, o) in outputs.instances.iter().enumerate() {
                    service::stop(p, &format!("{}-{i}", req.id), Some(o), grace).await?;
                }
            }
        }
        Ok(records.remove(&req.id)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_object_of_a_name_gets_its_own_generation() {
        let a = group_id("web", "run1-web");
        let b = group_id("web", "run2-web");
        assert!(a.starts_with("web-") && a.len() == "web-".len() + 8, "{a}");
        assert_ne!(a, b);
        assert_eq!(a, group_id("web", "run1-web"));
    }

    #[test]
    fn zero_replicas_or_a_bad_name_is_refused() {
        let g = ServiceGroup {
            name: "web".into(),
            replicas: 0,
            command: "true".into(),
            ..Default::default()
        };
        assert!(check(&g).unwrap_err().to_string().contains("at least 1"));
        let g = ServiceGroup {
            name: "we b".into(),
            command: "true".into(),
            ..Default::default()
        };
        let err = check(&g).unwrap_err().to_string();
        assert!(
            err.contains("group we b") && err.contains("letters, digits"),
            "{err}"
        );
    }
}
