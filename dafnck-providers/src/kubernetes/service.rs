//! [`Service`] (`kubernetes:core:Service`): a stable address for a set of
//! pods.

use dafnck_core::prelude::*;
use k8s_openapi::api::core::v1::ServiceSpec;

super::object::spec_kind! {
    /// A Service (`v1`): its `spec` is k8s-openapi's `ServiceSpec`
    /// (selector, ports, type). The cluster IP the server assigns is not
    /// drift unless the spec sets it.
    Service, "kubernetes:core:Service", ServiceSpec, k8s_openapi::api::core::v1::Service, ServiceKind
}
