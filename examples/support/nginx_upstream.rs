//! The nginx and Prometheus side of the canary example: where nginx is,
//! the `demo:nginx:Upstream` resource that points nginx's upstream at the
//! serving version between rollouts, and the Prometheus scrape-target file.
//!
//! During a rollout the strategy's `NginxRouter` owns the upstream file and
//! splits traffic between the old and new objects; between rollouts this
//! resource does: it lists the one serving object (created with the first
//! version, updated once a rollout promoted a new one). Both write the same
//! file, the same way (atomically, `nginx -t`, graceful reload, waiting for
//! the new workers).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::provider::{
    CreateRequest, Created, DeleteRequest, Observed, Provider, ProviderError, ReadRequest,
    UpdateRequest,
};
use dafnck_core::Value;
use dafnck_strategies::{NginxRouter, TrafficRouter, Weights};

/// Where nginx is and which upstream of it the program owns.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct NginxSite {
    /// The nginx binary.
    pub bin: String,
    /// nginx's main configuration file (`nginx -c`).
    pub config: String,
    /// nginx's prefix (`nginx -p`), if it runs with one.
    pub prefix: Option<String>,
    /// The pid file of nginx's master.
    pub pid_file: String,
    /// The file holding the `upstream` block, included by nginx's `http {}`.
    pub upstream_file: String,
    /// The upstream's name (`proxy_pass http://<name>;`).
    pub upstream: String,
    /// A file for a `server {}` block listening on 127.0.0.1:`listen` and
    /// proxying to the upstream, when nginx's own configuration has none.
    pub site_file: Option<String>,
    /// The port of that server block.
    pub listen: Option<u16>,
}

impl NginxSite {
    /// A router between `stable` and `new` backends (`host:port`); `new`
    /// may be empty (all traffic on `stable`).
    pub fn router(&self, stable: Vec<String>, new: Vec<String>) -> Result<NginxRouter, String> {
        let mut router = NginxRouter::new(
            &self.config,
            &self.upstream_file,
            &self.upstream,
            stable,
            new,
        )?
        .binary(&self.bin)
        .pid_file(&self.pid_file);
        if let Some(prefix) = &self.prefix {
            router = router.prefix(prefix);
        }
        Ok(router)
    }

    /// The `server {}` block of `site_file`, if one is asked for.
    fn site(&self) -> Option<(PathBuf, String)> {
        let (file, port) = (self.site_file.as_ref()?, self.listen?);
        Some((
            PathBuf::from(file),
            format!(
                "# Written by dafnck's canary example.\n\
                 server {{\n    listen 127.0.0.1:{port};\n    location / {{\n        \
                 proxy_pass http://{};\n        proxy_http_version 1.1;\n        \
                 proxy_set_header Connection \"\";\n    }}\n}}\n",
                self.upstream
            ),
        ))
    }
}

/// The pid file named by the `pid` directive of nginx's configuration
/// `config`, if it has one.
pub fn pid_file_of(config: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config).ok()?;
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("pid")?;
        rest.starts_with(char::is_whitespace)
            .then(|| rest.trim().trim_end_matches(';').trim().to_string())
    })
}

/// Writes Prometheus' file-discovery list `file` with `targets`
/// (`host:port`), atomically (Prometheus may read it at any moment).
pub fn write_scrape_targets(file: &Path, targets: &[String]) -> Result<(), String> {
    let json = serde_json::json!([{ "targets": targets, "labels": { "app": "dafnck-demo" } }]);
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, json.to_string())
        .and_then(|()| std::fs::rename(&tmp, file))
        .map_err(|e| format!("cannot write the scrape targets {}: {e}", file.display()))
}

/// nginx's upstream pointing at the serving object, which Prometheus
/// scrapes (`demo:nginx:Upstream`). Creating or updating it writes the
/// upstream with that one backend and reloads nginx; deleting it removes
/// the scrape target and leaves nginx's files alone (nginx keeps serving
/// its last configuration).
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "demo:nginx:Upstream", outputs = UpstreamOutputs)]
pub struct Upstream {
    /// Where nginx is.
    pub nginx: NginxSite,
    /// The serving object's port on 127.0.0.1 (0: none).
    pub port: Input<u16>,
    /// The serving object's ports, when it has several (a group's
    /// replicas).
    pub ports: Input<Vec<u16>>,
    /// Prometheus' file-discovery list of the app's targets, if any.
    pub scrape_file: Option<String>,
}

/// What an [`Upstream`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct UpstreamOutputs {
    /// The backends nginx sends all traffic to: `127.0.0.1:<port>`.
    pub backends: Vec<String>,
}

/// The provider of `demo:*` types: just [`Upstream`].
pub struct DemoProvider;

fn parse(inputs: &Value) -> Result<(Upstream, Vec<String>), ProviderError> {
    let u: Upstream = inputs
        .deserialize_into()
        .map_err(|e| ProviderError::new(format!("{}: {e}", Upstream::TYPE)))?;
    let unresolved = || ProviderError::new("the upstream's ports are not resolved");
    let port = *u.port.as_value().ok_or_else(unresolved)?;
    let ports = u.ports.as_value().ok_or_else(unresolved)?;
    let backends: Vec<String> = std::iter::once(port)
        .filter(|p| *p != 0)
        .chain(ports.iter().copied())
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    if backends.is_empty() {
        return Err(ProviderError::new("the upstream has no backend"));
    }
    Ok((u, backends))
}

fn outputs(backends: &[String]) -> Value {
    Value::from_serialize(&UpstreamOutputs {
        backends: backends.to_vec(),
    })
    .unwrap_or(Value::Null)
}

/// Points nginx (and Prometheus) at the serving backends.
async fn apply(inputs: &Value) -> Result<(Upstream, Value), ProviderError> {
    let (u, backends) = parse(inputs)?;
    if let Some((file, content)) = u.nginx.site() {
        std::fs::write(&file, content).map_err(|e| {
            ProviderError::new(format!("cannot write nginx's site {}: {e}", file.display()))
        })?;
    }
    let router = u
        .nginx
        .router(backends.clone(), Vec::new())
        .map_err(ProviderError::new)?;
    router
        .set_weights(Weights::to_new(0))
        .await
        .map_err(ProviderError::new)?;
    if let Some(file) = &u.scrape_file {
        write_scrape_targets(Path::new(file), &backends).map_err(ProviderError::new)?;
    }
    Ok((u, outputs(&backends)))
}

#[async_trait]
impl Provider for DemoProvider {
    fn package(&self) -> &str {
        "demo"
    }

    async fn create(&self, req: CreateRequest) -> Result<Created, ProviderError> {
        let (u, outputs) = apply(&req.inputs).await?;
        Ok(Created {
            id: u.nginx.upstream_file,
            outputs,
        })
    }

    async fn read(&self, req: ReadRequest) -> Result<Option<Observed>, ProviderError> {
        let (u, backends) = parse(&req.inputs)?;
        if !Path::new(&u.nginx.upstream_file).exists() {
            return Ok(None);
        }
        Ok(Some(Observed {
            id: u.nginx.upstream_file,
            inputs: req.inputs,
            outputs: outputs(&backends),
        }))
    }

    async fn update(&self, req: UpdateRequest) -> Result<Value, ProviderError> {
        Ok(apply(&req.new_inputs).await?.1)
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        let (u, _) = parse(&req.inputs)?;
        if let Some(file) = &u.scrape_file {
            match std::fs::remove_file(file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(ProviderError::new(format!("cannot remove {file}: {e}")))
                }
                _ => {}
            }
        }
        Ok(())
    }
}
