//! [`HorizontalPodAutoscaler`] (`kubernetes:autoscaling:HorizontalPodAutoscaler`):
//! scales a workload between bounds on its metrics.

use dafnck_core::prelude::*;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec;

super::object::spec_kind! {
    /// A HorizontalPodAutoscaler (`autoscaling/v2`): its `spec` is
    /// k8s-openapi's `HorizontalPodAutoscalerSpec` (target, min and max
    /// replicas, metrics such as CPU 70% and memory 80% utilization). The
    /// replicas it sets on its target are not drift of a
    /// [`Deployment`](super::Deployment) that leaves `replicas` unset.
    HorizontalPodAutoscaler, "kubernetes:autoscaling:HorizontalPodAutoscaler", HorizontalPodAutoscalerSpec,
    k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler, HpaKind
}
