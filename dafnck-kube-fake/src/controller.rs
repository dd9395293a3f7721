//! The simulated controllers: a Deployment controller that rolls each
//! Deployment's `status` forward a step per tick, the way the real one
//! reports a rolling update (observedGeneration, replicas,
//! updatedReplicas, readyReplicas, availableReplicas, and the
//! `Progressing` / `Available` conditions,
//! <https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status>),
//! and a HorizontalPodAutoscaler controller that keeps its target's
//! replicas within `minReplicas..=maxReplicas`, at a desired count tests
//! set in place of metrics.
//!
//! No pods run. Each tick a progressing rollout creates up to a quarter of
//! the desired replicas (at least one), which become available on the next
//! tick while old ones go away. A rollout can be told to misbehave, by the
//! annotation [`ROLLOUT_ANNOTATION`] on the Deployment or by
//! [`crate::Cluster::set_rollout`] (the control endpoint
//! `PUT /fake/v1/namespaces/{ns}/deployments/{name}/rollout`):
//!
//! - [`RolloutMode::Stall`]: new pods are created but never become
//!   available; once `spec.progressDeadlineSeconds` have passed since the
//!   rollout began, `Progressing` turns `False` with reason
//!   `ProgressDeadlineExceeded` (`kubectl rollout status` then fails).
//! - [`RolloutMode::Fail`]: new pods cannot be created: a
//!   `ReplicaFailure` condition (reason `FailedCreate`) at once, and the
//!   same deadline as a stall.

use crate::kinds::{by_kind, Kind};
use crate::meta::{fnv64, now_rfc3339};
use crate::store::Store;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The annotation that tells the simulated controller how a Deployment's
/// rollouts go: `progress` (the default), `stall` or `fail`.
pub const ROLLOUT_ANNOTATION: &str = "fake.dafnck.dev/rollout";

/// The field manager of the simulated controllers' writes, as the real
/// controllers write them.
pub const CONTROLLER_MANAGER: &str = "kube-controller-manager";

/// How a Deployment's rollouts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutMode {
    /// New pods become available, old ones go away, the rollout completes.
    Progress,
    /// New pods never become available; the progress deadline passes.
    Stall,
    /// New pods cannot be created; the progress deadline passes.
    Fail,
}

impl std::str::FromStr for RolloutMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "progress" => Ok(Self::Progress),
            "stall" => Ok(Self::Stall),
            "fail" => Ok(Self::Fail),
            other => Err(format!(
                "unknown rollout mode {other:?}: expected progress, stall or fail"
            )),
        }
    }
}

#[derive(Debug)]
struct Rollout {
    hash: String,
    started: Instant,
    updated: i64,
    available_new: i64,
    old: i64,
}

/// What the simulated controllers remember between ticks.
#[derive(Debug, Default)]
pub struct Controllers {
    modes: HashMap<(String, String), RolloutMode>,
    hpa_desired: HashMap<(String, String), i64>,
    rollouts: HashMap<String, Rollout>,
}

fn deployments() -> &'static Kind {
    by_kind("apps/v1", "Deployment").expect("served")
}

fn percent(v: &Value, of: i64, round_up: bool) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => {
            let p: i64 = s.trim_end_matches('%').parse().unwrap_or(25);
            if round_up {
                (p * of + 99) / 100
            } else {
                p * of / 100
            }
        }
        _ => 0,
    }
}

/// A condition, keeping the old one's times when nothing about it changed.
fn condition(old: &Value, typ: &str, status: &str, reason: &str, message: &str) -> Value {
    let prev = old["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == typ));
    let now = now_rfc3339();
    let same = prev
        .is_some_and(|p| p["status"] == status && p["reason"] == reason && p["message"] == message);
    let transition = match prev {
        Some(p) if p["status"] == status => p["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    let update = if same {
        prev.map(|p| p["lastUpdateTime"].clone())
            .unwrap_or(json!(now))
    } else {
        json!(now)
    };
    json!({"type": typ, "status": status, "reason": reason, "message": message,
           "lastUpdateTime": update, "lastTransitionTime": transition})
}

impl Controllers {
    /// Sets how the rollouts of Deployment `ns/name` go (over its
    /// annotation).
    pub fn set_rollout(&mut self, ns: &str, name: &str, mode: RolloutMode) {
        self.modes.insert((ns.into(), name.into()), mode);
    }

    /// Sets the replicas HorizontalPodAutoscaler `ns/name` wants (in place
    /// of what metrics would say); it is kept within the HPA's bounds.
    pub fn set_hpa_desired(&mut self, ns: &str, name: &str, replicas: i64) {
        self.hpa_desired.insert((ns.into(), name.into()), replicas);
    }

    /// One step of every controller.
    pub fn tick(&mut self, store: &mut Store) {
        store.reap_namespaces();
        self.autoscale(store);
        let kind = deployments();
        let all = store.list(kind, None);
        let uids: Vec<String> = all
            .iter()
            .filter_map(|d| d["metadata"]["uid"].as_str().map(String::from))
            .collect();
        self.rollouts.retain(|uid, _| uids.contains(uid));
        for d in all {
            if let Some(status) = self.step(&d) {
                let (ns, name) = (
                    d["metadata"]["namespace"].as_str().unwrap_or_default(),
                    d["metadata"]["name"].as_str().unwrap_or_default(),
                );
                // The object may have just been deleted: nothing to report then.
                let _ = store.write_status(kind, ns, name, status, CONTROLLER_MANAGER);
            }
        }
    }

    fn step(&mut self, d: &Value) -> Option<Value> {
        let meta = &d["metadata"];
        let (ns, name) = (meta["namespace"].as_str()?, meta["name"].as_str()?);
        let uid = meta["uid"].as_str()?.to_string();
        let spec = &d["spec"];
        let old = &d["status"];
        let desired = spec["replicas"].as_i64().unwrap_or(1);
        let template = serde_json::to_vec(&spec["template"]).unwrap_or_default();
        let hash = format!("{:010x}", fnv64(&template) & 0xff_ffff_ffff);
        let mode = self
            .modes
            .get(&(ns.to_string(), name.to_string()))
            .copied()
            .unwrap_or_else(|| {
                meta["annotations"][ROLLOUT_ANNOTATION]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(RolloutMode::Progress)
            });
        let r = self.rollouts.entry(uid).or_insert_with(|| Rollout {
            hash: String::new(),
            started: Instant::now(),
            updated: 0,
            available_new: 0,
            old: 0,
        });
        if r.hash != hash {
            // A new template: a new ReplicaSet; the old pods still serve.
            r.old = if r.hash.is_empty() {
                0
            } else {
                r.available_new + r.old
            };
            r.hash = hash.clone();
            r.started = Instant::now();
            r.updated = 0;
            r.available_new = 0;
        }
        let surge = percent(
            &spec["strategy"]["rollingUpdate"]["maxSurge"],
            desired,
            true,
        )
        .max(1);
        match mode {
            RolloutMode::Progress => {
                if r.updated > desired {
                    r.updated = desired;
                }
                if r.available_new < r.updated {
                    r.available_new = r.updated;
                } else if r.updated < desired {
                    r.updated = (r.updated + surge).min(desired);
                }
                r.available_new = r.available_new.min(desired);
                r.old = r.old.min((desired - r.available_new).max(0));
            }
            RolloutMode::Stall => r.updated = r.updated.max(desired.min(1)),
            RolloutMode::Fail => {}
        }
        let available = r.available_new + r.old;
        let replicas = r.updated + r.old;
        let rs = format!("{name}-{}", &hash[..10]);
        let complete = r.updated == desired && r.available_new == desired && r.old == 0;
        let deadline = Duration::from_secs(spec["progressDeadlineSeconds"].as_u64().unwrap_or(600));
        let max_unavailable = percent(
            &spec["strategy"]["rollingUpdate"]["maxUnavailable"],
            desired,
            false,
        );
        let mut conditions = vec![if available >= desired - max_unavailable {
            condition(
                old,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
            )
        } else {
            condition(
                old,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            )
        }];
        conditions.push(if complete {
            condition(
                old,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                &format!("ReplicaSet \"{rs}\" has successfully progressed."),
            )
        } else if mode != RolloutMode::Progress && r.started.elapsed() >= deadline {
            condition(
                old,
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                &format!("ReplicaSet \"{rs}\" has timed out progressing."),
            )
        } else {
            condition(
                old,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                &format!("ReplicaSet \"{rs}\" is progressing."),
            )
        });
        if mode == RolloutMode::Fail {
            conditions.push(condition(
                old,
                "ReplicaFailure",
                "True",
                "FailedCreate",
                &format!("pods \"{rs}-\" is forbidden: the rollout was told to fail ({ROLLOUT_ANNOTATION}=fail)"),
            ));
        }
        // Fields the controller does not compute (collisionCount) stay.
        let mut status = if old.is_object() {
            old.clone()
        } else {
            json!({})
        };
        let computed = json!({
            "observedGeneration": meta["generation"].as_i64().unwrap_or(1),
            "replicas": replicas,
            "updatedReplicas": r.updated,
            "readyReplicas": available,
            "availableReplicas": available,
            "unavailableReplicas": (replicas - available).max(0),
            "conditions": conditions,
        });
        let m = status.as_object_mut()?;
        for (k, v) in computed.as_object()? {
            // Zero counts are left out, as the API's `omitempty` does.
            if v == &json!(0) {
                m.remove(k);
            } else {
                m.insert(k.clone(), v.clone());
            }
        }
        (status != *old).then_some(status)
    }

    fn autoscale(&mut self, store: &mut Store) {
        let Some(hpa_kind) = by_kind("autoscaling/v2", "HorizontalPodAutoscaler") else {
            return;
        };
        for hpa in store.list(hpa_kind, None) {
            let (Some(ns), Some(name)) = (
                hpa["metadata"]["namespace"].as_str(),
                hpa["metadata"]["name"].as_str(),
            ) else {
                continue;
            };
            let target = &hpa["spec"]["scaleTargetRef"];
            if target["kind"] != "Deployment" {
                continue;
            }
            let Ok(dep) = store.get(
                deployments(),
                ns,
                target["name"].as_str().unwrap_or_default(),
            ) else {
                continue;
            };
            let min = hpa["spec"]["minReplicas"].as_i64().unwrap_or(1);
            let max = hpa["spec"]["maxReplicas"].as_i64().unwrap_or(min).max(min);
            let current = dep["spec"]["replicas"].as_i64().unwrap_or(1);
            let want = self
                .hpa_desired
                .get(&(ns.to_string(), name.to_string()))
                .copied()
                .unwrap_or(current);
            let desired = want.clamp(min, max);
            let mut status = hpa["status"].clone();
            if desired != current {
                let mut scaled = dep.clone();
                scaled["spec"]["replicas"] = json!(desired);
                let opts = crate::store::WriteOptions {
                    manager: CONTROLLER_MANAGER,
                    dry_run: false,
                    subresource: "scale",
                };
                let dep_name = target["name"].as_str().unwrap_or_default().to_string();
                if store
                    .replace(deployments(), ns, &dep_name, scaled, opts)
                    .is_err()
                {
                    continue;
                }
                status["lastScaleTime"] = json!(now_rfc3339());
            }
            status["currentReplicas"] = dep["status"]["replicas"].clone();
            if status["currentReplicas"].is_null() {
                status["currentReplicas"] = json!(0);
            }
            status["desiredReplicas"] = json!(desired);
            let reason = if want > max {
                (
                    "TooManyReplicas",
                    "the desired replica count is more than the maximum replica count",
                )
            } else if want < min {
                (
                    "TooFewReplicas",
                    "the desired replica count is less than the minimum replica count",
                )
            } else {
                (
                    "DesiredWithinRange",
                    "the desired count is within the acceptable range",
                )
            };
            let cond = [
                condition(
                    &hpa["status"],
                    "AbleToScale",
                    "True",
                    "ReadyForNewScale",
                    "recommended size matches current size",
                ),
                condition(
                    &hpa["status"],
                    "ScalingLimited",
                    if reason.0 == "DesiredWithinRange" {
                        "False"
                    } else {
                        "True"
                    },
                    reason.0,
                    reason.1,
                ),
            ];
            status["conditions"] = json!(cond);
            if status != hpa["status"] {
                let _ = store.write_status(hpa_kind, ns, name, status, CONTROLLER_MANAGER);
            }
        }
    }
}
