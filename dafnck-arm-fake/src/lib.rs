//! A local Azure Resource Manager server for dafnck's tests.
//!
//! No ARM emulator exists on any registry, so the project carries this
//! one. It speaks the ARM wire format
//! (<https://github.com/Azure/azure-resource-manager-rpc>) for exactly the
//! types the `azure` provider manages, at the api-versions the
//! `azure_mgmt_*` 0.21 crates send:
//!
//! - resource groups (`Microsoft.Resources`, 2021-04-01);
//! - virtual networks and subnets, network security groups and security
//!   rules, public IP addresses, network interfaces, load balancers
//!   (`Microsoft.Network`, 2024-03-01; see [`network`]);
//! - virtual machines and virtual machine scale sets, with a scale set's
//!   instances, model versions and upgrade policies (`Microsoft.Compute`,
//!   2024-07-01; see [`compute`]);
//! - autoscale settings (`Microsoft.Insights`, 2022-10-01; see [`insights`]).
//!
//! ARM semantics ([`store`]): api-version checks per type ([`types`]),
//! resource ids with case-insensitive names ([`ids`]), PUT
//! create-or-update (201, then 200), GET, PATCH (tags; compute's update),
//! DELETE (202, 204 when absent), long-running operations with
//! `Azure-AsyncOperation`, `Location` and `Retry-After` and provisioning
//! states ([`ops`]), children inline in their parent's body (subnets,
//! security rules) replaced by the parent's PUT and served by their own
//! endpoints, references checked on write (400) and on delete (409 in
//! use), ARM error bodies ([`error`]), and fault injection ([`faults`]).
//!
//! ```no_run
//! let server = dafnck_arm_fake::spawn().expect("the fake ARM server starts");
//! println!("export DAFNCK_ARM_URL={}", server.url());
//! ```

pub mod compute;
pub mod error;
pub mod faults;
mod hooks;
pub mod http;
pub mod ids;
pub mod insights;
pub mod network;
pub mod ops;
pub mod refs;
pub mod store;
pub mod types;

pub use error::ArmError;

use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpListener;

/// A fake ARM served at one address.
#[derive(Debug)]
pub struct Arm {
    state: Mutex<store::State>,
    /// `host:port` it is served at.
    pub address: String,
    /// Whether to log every request to standard error.
    pub verbose: bool,
}

impl Arm {
    /// An empty ARM (no resource groups) served at `address`.
    pub fn new(address: String, verbose: bool) -> Self {
        Arm {
            state: Mutex::new(store::State::default()),
            address,
            verbose,
        }
    }

    /// The state, locked.
    pub fn lock(&self) -> MutexGuard<'_, store::State> {
        // Every write is applied whole or not at all: keep serving after a
        // panic elsewhere.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies a fault-control body, as `POST /_fake/faults` does (see
    /// [`faults`]).
    ///
    /// # Errors
    /// When a field is malformed.
    pub fn set_faults(&self, control: &Value) -> Result<(), ArmError> {
        self.lock().faults.apply(control)
    }

    /// The ids of every resource held (resource groups included).
    pub fn resource_ids(&self) -> Vec<String> {
        self.lock()
            .resources
            .values()
            .map(|r| r.id.clone())
            .collect()
    }
}

/// Serves `arm` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, arm: Arc<Arm>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let arm = arm.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| http::handle(arm.clone(), req));
            // A client that goes away mid-request is its own business.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A fake ARM running on its own thread (and tokio runtime); stopped when
/// dropped.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    arm: Arc<Arm>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts a fake ARM on a free port of 127.0.0.1.
///
/// # Errors
/// When no port can be bound or no runtime started.
pub fn spawn() -> std::io::Result<Running> {
    spawn_on("127.0.0.1:0", false)
}

/// Starts a fake ARM on `bind` (`127.0.0.1:0`: a free port); `verbose`
/// logs every request.
///
/// # Errors
/// When `bind` cannot be bound or no runtime started.
pub fn spawn_on(bind: &str, verbose: bool) -> std::io::Result<Running> {
    let std_listener = std::net::TcpListener::bind(bind)?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let arm = Arc::new(Arm::new(addr.to_string(), verbose));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = arm.clone();
    let thread = std::thread::Builder::new()
        .name("dafnck-arm-fake".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("dafnck-arm-fake: cannot listen: {e}");
                        return;
                    }
                };
                tokio::select! {
                    _ = serve(listener, served) => {}
                    _ = stopped => {}
                }
            });
            runtime.shutdown_background();
        })?;
    Ok(Running {
        addr,
        arm,
        stop: Some(stop),
        thread: Some(thread),
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

    /// The ARM it serves (to inject faults, list what it holds).
    pub fn arm(&self) -> &Arc<Arm> {
        &self.arm
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
