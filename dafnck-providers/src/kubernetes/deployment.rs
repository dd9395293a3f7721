//! [`Deployment`] (`kubernetes:apps:Deployment`): replicated pods, rolled
//! out by Kubernetes' own rolling update; a create or update returns once
//! the rollout is done.

use std::time::Instant;

use dafnck_core::prelude::*;
use dafnck_core::ProviderError;
use k8s_openapi::api::apps::v1::DeploymentSpec;
use kube::api::DynamicObject;
use kube::Api;
use serde_json::Value as Json;

use super::client::Subject;
use super::Kube;

super::object::spec_kind! {
    /// A Deployment (`apps/v1`): its `spec` is k8s-openapi's
    /// `DeploymentSpec` (replicas, selector, pod template, strategy: the
    /// default rolling update with 25% max surge and max unavailable).
    ///
    /// A create or update returns once the rollout is done, as `kubectl
    /// rollout status` decides (see [`rollout`]); a rollout past its
    /// progress deadline (`spec.progressDeadlineSeconds`, 600 s by default)
    /// fails with the `Progressing` condition's message.
    ///
    /// Leave `spec.replicas` unset when a
    /// [`HorizontalPodAutoscaler`](super::HorizontalPodAutoscaler) scales
    /// it: then dafnck does not own the field, and the autoscaler's changes
    /// are not drift (set, it is dafnck's, and a change is drift).
    Deployment, "kubernetes:apps:Deployment", DeploymentSpec, k8s_openapi::api::apps::v1::Deployment,
    DeploymentKind, ready = await_rollout
}

/// Where a rollout stands, as `kubectl rollout status` reads a
/// Deployment's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rollout {
    /// Done: the new generation observed, every replica updated and
    /// available, no old one left.
    Done,
    /// Under way; what it waits for.
    Waiting(String),
    /// Failed: the `Progressing` condition's reason
    /// (`ProgressDeadlineExceeded`) and message.
    Failed {
        /// The condition's reason.
        reason: String,
        /// The condition's message.
        message: String,
    },
}

/// Where the rollout of `deployment` (a Deployment object as JSON) stands.
pub fn rollout(deployment: &Json) -> Rollout {
    let int = |v: &Json| v.as_i64().unwrap_or(0);
    let generation = int(&deployment["metadata"]["generation"]);
    let status = &deployment["status"];
    if int(&status["observedGeneration"]) < generation {
        return Rollout::Waiting("the controller to observe the new spec".into());
    }
    let progressing = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Progressing");
    if let Some(c) = progressing {
        if c["reason"] == "ProgressDeadlineExceeded" {
            return Rollout::Failed {
                reason: "ProgressDeadlineExceeded".into(),
                message: c["message"].as_str().unwrap_or_default().to_owned(),
            };
        }
    }
    let desired = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
    let (replicas, updated, available) = (
        int(&status["replicas"]),
        int(&status["updatedReplicas"]),
        int(&status["availableReplicas"]),
    );
    if updated < desired {
        Rollout::Waiting(format!("{updated} of {desired} new replicas updated"))
    } else if replicas > updated {
        Rollout::Waiting(format!(
            "{} old replicas pending termination",
            replicas - updated
        ))
    } else if available < updated {
        Rollout::Waiting(format!(
            "{available} of {updated} updated replicas available"
        ))
    } else {
        Rollout::Done
    }
}

/// Polls the Deployment until its rollout is done, failed, or the wait
/// times out.
async fn await_rollout(
    kube: &Kube,
    s: &Subject,
    api: &Api<DynamicObject>,
    applied: &Json,
) -> Result<(), ProviderError> {
    let name = applied["metadata"]["name"].as_str().unwrap_or_default();
    if applied["spec"]["paused"] == true {
        return Ok(());
    }
    let settings = kube.settings();
    let deadline = Instant::now() + settings.wait_timeout;
    let mut current = applied.clone();
    loop {
        match rollout(&current) {
            Rollout::Done => return Ok(()),
            Rollout::Failed { reason, message } => {
                return Err(s.error(format!(
                    "the rollout of deployment {name:?} failed: its Progressing condition says \
                     {reason}: {message}"
                )))
            }
            Rollout::Waiting(what) if Instant::now() >= deadline => {
                return Err(s.error(format!(
                    "the rollout of deployment {name:?} is not done after {:?}: waiting for {what}",
                    settings.wait_timeout
                )))
            }
            Rollout::Waiting(_) => {}
        }
        tokio::time::sleep(settings.poll_interval).await;
        let got = api.get(name).await.map_err(|e| s.kube("get", e))?;
        current = serde_json::to_value(got)
            .map_err(|e| s.error(format!("the object does not encode: {e}")))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(status: Json) -> Json {
        json!({"metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": status})
    }

    #[test]
    fn reads_a_rollout_as_kubectl_does() {
        assert!(matches!(
            rollout(&with(json!({"observedGeneration": 1}))),
            Rollout::Waiting(_)
        ));
        assert!(matches!(
            rollout(&with(json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3}))),
            Rollout::Waiting(w) if w.contains("old replicas")
        ));
        assert_eq!(
            rollout(&with(
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3})
            )),
            Rollout::Done
        );
        assert_eq!(
            rollout(&with(json!({"observedGeneration": 2, "conditions": [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                 "message": "ReplicaSet \"web-1\" has timed out progressing."}]}))),
            Rollout::Failed {
                reason: "ProgressDeadlineExceeded".into(),
                message: "ReplicaSet \"web-1\" has timed out progressing.".into()
            }
        );
    }
}
