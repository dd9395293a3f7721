//! The ingress-nginx canary router.

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::{json, Value};

use super::{show, switch_selector, Cluster, Labels, Object, FIELD_MANAGER};
use crate::policy::Weights;
use crate::router::TrafficRouter;

/// ingress-nginx's annotation that marks an Ingress as the canary of the
/// Ingress with the same host and path.
pub const CANARY_ANNOTATION: &str = "nginx.ingress.kubernetes.io/canary";
/// ingress-nginx's annotation with the canary's share of requests, out of
/// 100.
pub const WEIGHT_ANNOTATION: &str = "nginx.ingress.kubernetes.io/canary-weight";

/// Moves traffic between two versions of a Deployment with ingress-nginx's
/// canary annotations.
///
/// The serving version is reached through an Ingress (`ingress`) whose
/// rules route to a Service (`service`) selecting the serving version's
/// pods (`stable` labels, which must tell the versions apart: a `version`
/// label, say). For a split, the router applies beside them
///
/// - a canary Service (`<service>-canary`) with the serving Service's
///   ports, selecting the new version's pods (`new` labels), and
/// - a canary Ingress (`<ingress>-canary`) with the serving Ingress's
///   class and rules, each backend on `service` pointed at the canary
///   Service instead, annotated `nginx.ingress.kubernetes.io/canary:
///   "true"` and `canary-weight: "<new %>"`.
///
/// # Guarantees
/// - A step changes only the canary Ingress's weight; the serving Ingress
///   and Service are not touched.
/// - Promotion (100%) first gives the canary all traffic, then points the
///   serving Service at the new pods, then deletes the canary Ingress and
///   Service: the old pods get no request from the first of these on.
/// - 0% (a rollback, or the reset of a run that died mid-rollout) points
///   the serving Service back at the `stable` pods if a promotion had
///   switched it, then deletes the canary Ingress and Service (already
///   gone is fine). The serving Ingress and Deployment are left serving.
/// - Every change is a server-side apply under [`FIELD_MANAGER`], confirmed
///   by the object the API server answers; ingress-nginx then reloads on
///   its own, which the API cannot confirm.
#[derive(Clone, Debug)]
pub struct IngressCanaryRouter {
    cluster: Cluster,
    namespace: String,
    ingress: String,
    service: String,
    canary_ingress: String,
    canary_service: String,
    stable: Labels,
    new: Labels,
}

impl IngressCanaryRouter {
    /// A router for the Ingress `ingress` in `namespace`, whose rules route
    /// to the Service `service`; `stable` and `new` are the pod labels of
    /// the serving and the new version.
    pub fn new(
        cluster: Cluster,
        namespace: impl Into<String>,
        ingress: impl Into<String>,
        service: impl Into<String>,
        stable: Labels,
        new: Labels,
    ) -> Self {
        let (ingress, service) = (ingress.into(), service.into());
        IngressCanaryRouter {
            cluster,
            namespace: namespace.into(),
            canary_ingress: format!("{ingress}-canary"),
            canary_service: format!("{service}-canary"),
            ingress,
            service,
            stable,
            new,
        }
    }

    /// Names the canary Ingress and Service (default `<ingress>-canary`
    /// and `<service>-canary`).
    #[must_use]
    pub fn canary_names(mut self, ingress: impl Into<String>, service: impl Into<String>) -> Self {
        self.canary_ingress = ingress.into();
        self.canary_service = service.into();
        self
    }

    /// The canary Ingress's name.
    pub fn canary_ingress(&self) -> &str {
        &self.canary_ingress
    }

    /// The canary Service's name.
    pub fn canary_service(&self) -> &str {
        &self.canary_service
    }

    fn object<'a>(&'a self, kind: &'static str, name: &'a str) -> Object<'a> {
        Object {
            cluster: &self.cluster,
            kind,
            namespace: &self.namespace,
            name,
        }
    }

    /// Applies the canary Service and the canary Ingress at `percent`.
    async fn apply_canary(&self, percent: u8) -> Result<(), String> {
        let serving = self.object("Service", &self.service);
        let Some(service) = serving.get::<Service>().await? else {
            return Err(format!(
                "Service {}/{}: not found; the canary Service copies its ports",
                self.namespace, self.service
            ));
        };
        let ports: Vec<Value> = service
            .spec
            .and_then(|s| s.ports)
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                let mut port = json!({"port": p.port});
                for (key, value) in [
                    ("name", p.name.map(Value::from)),
                    ("protocol", p.protocol.map(Value::from)),
                    (
                        "targetPort",
                        p.target_port.and_then(|t| serde_json::to_value(t).ok()),
                    ),
                ] {
                    if let Some(v) = value {
                        port[key] = v;
                    }
                }
                port
            })
            .collect();
        let canary_service = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": self.canary_service,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": FIELD_MANAGER},
            },
            "spec": {"selector": self.new, "ports": ports},
        });
        self.object("Service", &self.canary_service)
            .apply::<Service>(&canary_service)
            .await?;

        let serving = self.object("Ingress", &self.ingress);
        let Some(ingress) = serving.get::<Ingress>().await? else {
            return Err(format!(
                "Ingress {}/{}: not found; the canary Ingress copies its rules",
                self.namespace, self.ingress
            ));
        };
        let spec = serde_json::to_value(ingress.spec.unwrap_or_default())
            .map_err(|e| format!("Ingress {}/{}: {e}", self.namespace, self.ingress))?;
        let mut canary_spec = json!({});
        if let Some(class) = spec.get("ingressClassName") {
            canary_spec["ingressClassName"] = class.clone();
        }
        let mut routed = false;
        if let Some(backend) = spec.get("defaultBackend") {
            canary_spec["defaultBackend"] = self.to_canary(backend.clone(), &mut routed);
        }
        if let Some(rules) = spec.get("rules") {
            canary_spec["rules"] = self.to_canary(rules.clone(), &mut routed);
        }
        if !routed {
            return Err(format!(
                "Ingress {}/{}: no backend routes to Service {}; the canary Ingress would send nothing to the new version",
                self.namespace, self.ingress, self.service
            ));
        }
        let mut annotations = json!({
            CANARY_ANNOTATION: "true",
            WEIGHT_ANNOTATION: percent.to_string(),
        });
        // The class by annotation, for controllers that still read it.
        let class_key = "kubernetes.io/ingress.class";
        if let Some(class) = ingress
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(class_key))
        {
            annotations[class_key] = Value::from(class.clone());
        }
        let canary_ingress = json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": self.canary_ingress,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": FIELD_MANAGER},
                "annotations": annotations,
            },
            "spec": canary_spec,
        });
        let object = self.object("Ingress", &self.canary_ingress);
        let applied: Ingress = object.apply(&canary_ingress).await?;
        let weight = applied
            .metadata
            .annotations
            .and_then(|a| a.get(WEIGHT_ANNOTATION).cloned());
        if weight.as_deref() == Some(percent.to_string().as_str()) {
            Ok(())
        } else {
            Err(object.fail(
                "server-side apply",
                format!("the server answered canary-weight {weight:?}, not \"{percent}\""),
            ))
        }
    }

    /// `value` (rules or a backend) with every backend on the serving
    /// Service pointed at the canary Service; `routed` is set when one was.
    fn to_canary(&self, mut value: Value, routed: &mut bool) -> Value {
        match &mut value {
            Value::Object(map) => {
                let is_serving = map
                    .get("service")
                    .and_then(|s| s.get("name"))
                    .and_then(Value::as_str)
                    == Some(self.service.as_str());
                if is_serving {
                    map["service"]["name"] = Value::from(self.canary_service.clone());
                    *routed = true;
                }
                for (_, v) in map.iter_mut() {
                    *v = self.to_canary(v.take(), routed);
                }
            }
            Value::Array(items) => {
                for v in items.iter_mut() {
                    *v = self.to_canary(v.take(), routed);
                }
            }
            _ => {}
        }
        value
    }

    /// Deletes the canary Ingress, then the canary Service.
    async fn remove_canary(&self) -> Result<(), String> {
        self.object("Ingress", &self.canary_ingress)
            .delete::<Ingress>()
            .await?;
        self.object("Service", &self.canary_service)
            .delete::<Service>()
            .await
    }
}

#[async_trait]
impl TrafficRouter for IngressCanaryRouter {
    fn describe(&self) -> String {
        format!(
            "ingress-nginx canary of Ingress {}/{} (Service {}: {} → {})",
            self.namespace,
            self.ingress,
            self.service,
            show(&self.stable),
            show(&self.new)
        )
    }

    async fn set_weights(&self, weights: Weights) -> Result<(), String> {
        let serving = self.object("Service", &self.service);
        match weights.new_share() {
            0 => {
                switch_selector(&serving, &self.stable).await?;
                self.remove_canary().await
            }
            100 => {
                self.apply_canary(100).await?;
                switch_selector(&serving, &self.new).await?;
                self.remove_canary().await
            }
            percent => self.apply_canary(percent).await,
        }
    }
}
