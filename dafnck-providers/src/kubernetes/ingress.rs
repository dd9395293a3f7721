//! [`Ingress`] (`kubernetes:networking:Ingress`): HTTP routing into the
//! cluster, with TLS.

use dafnck_core::prelude::*;
use k8s_openapi::api::networking::v1::IngressSpec;

super::object::spec_kind! {
    /// An Ingress (`networking.k8s.io/v1`): its `spec` is k8s-openapi's
    /// `IngressSpec` (ingress class, TLS, rules). Controllers' annotations
    /// and the load balancer status are not drift.
    Ingress, "kubernetes:networking:Ingress", IngressSpec, k8s_openapi::api::networking::v1::Ingress, IngressKind
}
