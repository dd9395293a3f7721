//! Blue-green by a Service selector switch.

use async_trait::async_trait;

use super::{show, switch_selector, Cluster, Labels, Object};
use crate::policy::Weights;
use crate::router::TrafficRouter;

/// Moves all traffic at once between two versions of a Deployment by
/// switching the selector of the Service that reaches them: from the
/// serving version's pod labels (`stable`) to the new version's (`new`),
/// and back on rollback. For blue-green only: a Service cannot split
/// traffic by weight, so any split other than 0% or 100% is refused.
///
/// # Guarantees
/// - One server-side apply of `spec.selector` under
///   [`FIELD_MANAGER`](super::FIELD_MANAGER) (forcing) moves the traffic;
///   a Service already selecting the wanted labels is not written
///   (idempotent).
/// - The change is confirmed by the object the API server answers;
///   kube-proxy then updates its endpoints on its own, which the API cannot
///   confirm.
#[derive(Clone, Debug)]
pub struct ServiceSwitchRouter {
    cluster: Cluster,
    namespace: String,
    service: String,
    stable: Labels,
    new: Labels,
}

impl ServiceSwitchRouter {
    /// A router switching the Service `service` in `namespace` between the
    /// pods labelled `stable` (the serving version) and `new`.
    pub fn new(
        cluster: Cluster,
        namespace: impl Into<String>,
        service: impl Into<String>,
        stable: Labels,
        new: Labels,
    ) -> Self {
        ServiceSwitchRouter {
            cluster,
            namespace: namespace.into(),
            service: service.into(),
            stable,
            new,
        }
    }
}

#[async_trait]
impl TrafficRouter for ServiceSwitchRouter {
    fn describe(&self) -> String {
        format!(
            "selector switch of Service {}/{} ({} → {})",
            self.namespace,
            self.service,
            show(&self.stable),
            show(&self.new)
        )
    }

    async fn set_weights(&self, weights: Weights) -> Result<(), String> {
        let selector = match weights.new_share() {
            0 => &self.stable,
            100 => &self.new,
            n => {
                return Err(format!(
                    "Service {}/{}: a selector switch sends all traffic to one version and cannot give the new one {n}%; use it with a blue-green policy, or split with the IngressCanaryRouter",
                    self.namespace, self.service
                ))
            }
        };
        let object = Object {
            cluster: &self.cluster,
            kind: "Service",
            namespace: &self.namespace,
            name: &self.service,
        };
        switch_selector(&object, selector).await
    }
}
