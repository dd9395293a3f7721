//! A local Kubernetes API server for dafnck's tests.
//!
//! No real API server (kube-apiserver, kind, k3s, envtest) can be
//! installed where dafnck's tests run, so the project carries this one. It
//! serves, for exactly the kinds the `kubernetes` provider manages
//! (Namespace, ConfigMap, Secret, Service, Deployment, Ingress and
//! HorizontalPodAutoscaler in `autoscaling/v2`), what clients such as
//! kube-rs and kubectl use, following the API concepts of
//! <https://kubernetes.io/docs/reference/using-api/api-concepts/>:
//!
//! - discovery (`/version`; `/api` and `/apis` aggregated or not; each
//!   group version) and an OpenAPI v3 index enough for `kubectl apply`
//!   ([`discovery`]);
//! - get, list (label and field selectors), create (`409 AlreadyExists`),
//!   replace with `resourceVersion` optimistic concurrency (`409
//!   Conflict`), delete (namespaces cascade), JSON, merge and strategic
//!   merge patches ([`patch`]), `dryRun=All`;
//! - server-side apply with `managedFields`, `force` and conflicts
//!   ([`ssa`], <https://kubernetes.io/docs/reference/using-api/server-side-apply/>);
//! - `/status` subresources (the main resource ignores `status`; the
//!   subresource ignores everything else), `uid`, `creationTimestamp`,
//!   `generation` bumped on spec changes, defaults such as a Service's
//!   cluster IP ([`defaults`]);
//! - `watch=true` streams, resumable from a resource version (`410 Gone`
//!   when too old);
//! - `Table` responses for `kubectl get` ([`table`]);
//! - a simulated Deployment controller and HPA ([`controller`]), which can
//!   be told to stall or fail a rollout.
//!
//! What it does not do: authentication (every request is allowed), TLS,
//! pods, ReplicaSets, admission, finalizers (deletes are immediate),
//! protobuf bodies (415), OpenAPI schemas, pagination
//! (`limit` is ignored: every list is one page), strict field validation
//! (unknown fields are kept).
//!
//! ```no_run
//! let server = dafnck_kube_fake::spawn().expect("the fake API server starts");
//! let kubeconfig = server.write_kubeconfig(std::env::temp_dir().join("kubeconfig")).unwrap();
//! println!("kubectl --kubeconfig {} get ns  # {}", kubeconfig.display(), server.url());
//! ```

pub mod controller;
pub mod defaults;
pub mod discovery;
pub mod fields;
pub mod http;
pub mod kinds;
pub mod meta;
pub mod patch;
pub mod select;
pub mod ssa;
pub mod store;
pub mod table;

pub use controller::{RolloutMode, ROLLOUT_ANNOTATION};
pub use meta::ApiError;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;

/// How often the simulated controllers take a step, unless told otherwise.
pub const DEFAULT_TICK: Duration = Duration::from_millis(100);

/// The cluster's state: its objects and the controllers' memory.
#[derive(Debug, Default)]
pub struct State {
    /// Every object.
    pub store: store::Store,
    /// The simulated controllers.
    pub controllers: controller::Controllers,
}

/// A fake cluster served at one address.
#[derive(Debug)]
pub struct Cluster {
    state: Mutex<State>,
    /// `host:port` it is served at (discovery's server address).
    pub address: String,
    /// Whether to log every request to standard error.
    pub verbose: bool,
}

impl Cluster {
    /// A new cluster (the built-in namespaces only) served at `address`.
    pub fn new(address: String, verbose: bool) -> Self {
        Cluster {
            state: Mutex::new(State::default()),
            address,
            verbose,
        }
    }

    /// The state, locked.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while locked leaves consistent data (every write is
        // applied or not): keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets how Deployment `ns/name`'s rollouts go.
    pub fn set_rollout(&self, ns: &str, name: &str, mode: RolloutMode) {
        self.lock().controllers.set_rollout(ns, name, mode);
    }

    /// Sets the replicas HorizontalPodAutoscaler `ns/name` asks for (what
    /// metrics would say); the HPA keeps it within its bounds.
    pub fn set_hpa_desired(&self, ns: &str, name: &str, replicas: i64) {
        self.lock().controllers.set_hpa_desired(ns, name, replicas);
    }

    /// One step of the simulated controllers.
    pub fn tick(&self) {
        let mut guard = self.lock();
        let State { store, controllers } = &mut *guard;
        controllers.tick(store);
    }
}

/// Serves `cluster` on `listener` until the task is dropped, stepping its
/// controllers every `tick`.
pub async fn serve(listener: TcpListener, cluster: Arc<Cluster>, tick: Duration) {
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
    loop {
        let accepted = tokio::select! {
            _ = every.tick() => {
                cluster.tick();
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let cluster = cluster.clone();
        dafnck_fake_server::spawn_connection(stream, move |req| http::handle(cluster.clone(), req));
    }
}

/// A fake API server running on its own thread (and tokio runtime), on a
/// free port of 127.0.0.1; stopped when dropped.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    cluster: Arc<Cluster>,
    _served: dafnck_fake_server::Background,
}

/// Starts a fake API server on a free port of 127.0.0.1 with the default
/// controller tick.
///
/// # Errors
/// When no port can be bound or no runtime started.
pub fn spawn() -> std::io::Result<Running> {
    spawn_on("127.0.0.1:0", DEFAULT_TICK, false)
}

/// Starts a fake API server on `bind` (`127.0.0.1:0`: a free port) whose
/// controllers step every `tick`; `verbose` logs every request.
///
/// # Errors
/// When `bind` cannot be bound or no runtime started.
pub fn spawn_on(bind: &str, tick: Duration, verbose: bool) -> std::io::Result<Running> {
    let listener = std::net::TcpListener::bind(bind)?;
    let addr = listener.local_addr()?;
    let cluster = Arc::new(Cluster::new(addr.to_string(), verbose));
    let served = cluster.clone();
    let background =
        dafnck_fake_server::Background::start("dafnck-kube-fake", listener, move |l| {
            serve(l, served, tick)
        })?;
    Ok(Running {
        addr,
        cluster,
        _served: background,
    })
}

impl Running {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The cluster it serves (to set rollout modes, read objects, step the
    /// controllers).
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// Writes a kubeconfig for this server to `path` (see [`kubeconfig`]);
    /// returns the path.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> std::io::Result<PathBuf> {
        let path = path.as_ref().to_path_buf();
        std::fs::write(&path, kubeconfig(&self.url()))?;
        Ok(path)
    }
}

/// A kubeconfig whose one context, `dafnck-fake`, talks to the server at
/// `url` over plain HTTP without credentials (namespace `default`).
pub fn kubeconfig(url: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: dafnck-fake
  cluster:
    server: {url}
contexts:
- name: dafnck-fake
  context:
    cluster: dafnck-fake
    user: dafnck-fake
    namespace: default
current-context: dafnck-fake
users:
- name: dafnck-fake
  user: {{}}
"
    )
}
