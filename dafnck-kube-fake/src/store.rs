//! The cluster's objects: one resource version counter for all of them,
//! create/replace/patch/apply/delete with the API server's rules, and the
//! event history watches replay
//! (<https://kubernetes.io/docs/reference/using-api/api-concepts/>:
//! resource versions, efficient detection of changes, `410 Gone`).

use crate::defaults::{apply_defaults, validate};
use crate::kinds::{Kind, KINDS};
use crate::meta::{new_uid, now_rfc3339, ApiError};
use crate::patch;
use crate::ssa::{self, Entry};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Events kept for watches that resume from a resource version.
const HISTORY: usize = 10_000;

/// A change to one object, as a watch streams it.
#[derive(Debug, Clone)]
pub struct Event {
    /// The resource version of the change.
    pub rv: u64,
    /// The object's kind.
    pub kind: &'static Kind,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub typ: &'static str,
    /// The object after the change (before it, for `DELETED`, with the
    /// deletion's resource version).
    pub object: Value,
    /// For `MODIFIED`, the object before the change (a watch with a
    /// selector turns a change into `ADDED` or `DELETED` when the object
    /// starts or stops matching).
    pub previous: Option<Value>,
}

/// How a write is made.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions<'a> {
    /// The field manager recorded in `managedFields`.
    pub manager: &'a str,
    /// `dryRun=All`: everything but storing.
    pub dry_run: bool,
    /// `""` for the main resource, `status` for the status subresource.
    pub subresource: &'a str,
}

/// A patch body with its type.
#[derive(Debug, Clone, Copy)]
pub enum Patch<'a> {
    /// `application/merge-patch+json`.
    Merge(&'a Value),
    /// `application/strategic-merge-patch+json`.
    Strategic(&'a Value),
    /// `application/json-patch+json`.
    Json(&'a Value),
    /// `application/apply-patch+yaml`, with `force`.
    Apply(&'a Value, bool),
}

type Key = (&'static str, String, String);

/// A receiver of every later change.
pub type Receiver = broadcast::Receiver<Arc<Event>>;

/// Every object of the fake cluster.
#[derive(Debug)]
pub struct Store {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Arc<Event>>,
    /// The oldest resource version a watch can resume from.
    horizon: u64,
    tx: broadcast::Sender<Arc<Event>>,
    next_ip: u32,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

fn ns_of(kind: &Kind, ns: &str) -> String {
    if kind.namespaced {
        ns.to_string()
    } else {
        String::new()
    }
}

/// `object` without what changes on every write whatever its content:
/// `resourceVersion` and the managed fields' times.
fn stable(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        if let Some(Value::Array(list)) = m.get_mut("managedFields") {
            for e in list {
                if let Some(e) = e.as_object_mut() {
                    e.remove("time");
                }
            }
        }
    }
    o
}

/// The part of an object whose changes bump `metadata.generation`.
fn spec_of(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(m) = o.as_object_mut() {
        for k in ["metadata", "status", "kind", "apiVersion"] {
            m.remove(k);
        }
    }
    o
}

fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object["metadata"][field].as_str().filter(|s| !s.is_empty())
}

impl Store {
    /// A cluster with the namespaces every cluster has: `default`,
    /// `kube-system`, `kube-public` and `kube-node-lease`.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(4096);
        let mut s = Store {
            rv: 0,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            horizon: 0,
            tx,
            next_ip: 1,
        };
        let ns = &KINDS[0];
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            s.create(
                ns,
                "",
                body,
                WriteOptions {
                    manager: "kube-apiserver",
                    dry_run: false,
                    subresource: "",
                },
            )
            .expect("the built-in namespaces are valid");
        }
        s
    }

    /// How many watches are open.
    pub fn watchers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// The current resource version (of the last change).
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// The object `name` of `kind` in namespace `ns`.
    ///
    /// # Errors
    /// 404 when there is none.
    pub fn get(&self, kind: &'static Kind, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.objects
            .get(&(kind.resource, ns_of(kind, ns), name.to_string()))
            .cloned()
            .ok_or_else(|| ApiError::not_found(kind, name))
    }

    /// The objects of `kind` (in namespace `ns`, or everywhere), by
    /// namespace and name.
    pub fn list(&self, kind: &'static Kind, ns: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((r, n, _), _)| {
                *r == kind.resource && ns.is_none_or(|ns| !kind.namespaced || n == ns)
            })
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn check_namespace(&self, kind: &Kind, ns: &str, name: &str) -> Result<(), ApiError> {
        if !kind.namespaced {
            return Ok(());
        }
        match self.objects.get(&("namespaces", String::new(), ns.to_string())) {
            None => Err(ApiError::namespace_not_found(ns)),
            Some(n) if n["metadata"].get("deletionTimestamp").is_some() => Err(ApiError {
                code: 403,
                reason: "Forbidden",
                message: format!(
                    "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    kind.qualified(),
                ),
                details: Some(json!({"kind": kind.resource, "group": kind.group})),
            }),
            Some(_) => Ok(()),
        }
    }

    /// Checks `body`'s kind, apiVersion and namespace against the request's
    /// and fills them in when missing.
    fn identify(kind: &'static Kind, ns: &str, body: &mut Value) -> Result<(), ApiError> {
        let Some(m) = body.as_object_mut() else {
            return Err(ApiError::bad_request(
                "the request body is not a JSON object",
            ));
        };
        for (field, want) in [
            ("kind", kind.kind.to_string()),
            ("apiVersion", kind.api_version()),
        ] {
            match m.get(field).and_then(Value::as_str) {
                Some(got) if got != want => {
                    return Err(ApiError::bad_request(format!(
                        "the API version or kind in the request ({got}) does not match the resource {} ({want})",
                        kind.qualified()
                    )))
                }
                _ => {
                    m.insert(field.into(), json!(want));
                }
            }
        }
        let meta = m.entry("metadata").or_insert_with(|| json!({}));
        let Some(meta) = meta.as_object_mut() else {
            return Err(ApiError::bad_request("metadata is not an object"));
        };
        if kind.namespaced {
            match meta.get("namespace").and_then(Value::as_str) {
                Some(got) if !got.is_empty() && got != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                _ => {
                    meta.insert("namespace".into(), json!(ns));
                }
            }
        } else {
            meta.remove("namespace");
        }
        Ok(())
    }

    fn allocate_ip(&mut self) -> String {
        let n = self.next_ip;
        self.next_ip += 1;
        format!("10.96.{}.{}", n / 250, n % 250 + 1)
    }

    fn commit(&mut self, kind: &'static Kind, mut object: Value, typ: &'static str) -> Value {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let key = (
            kind.resource,
            ns_of(kind, meta_str(&object, "namespace").unwrap_or_default()),
            meta_str(&object, "name").unwrap_or_default().to_string(),
        );
        let previous = if typ == "DELETED" {
            self.objects.remove(&key);
            None
        } else {
            self.objects.insert(key, object.clone())
        };
        let event = Arc::new(Event {
            rv: self.rv,
            kind,
            typ,
            object: object.clone(),
            previous: previous.filter(|_| typ == "MODIFIED"),
        });
        self.history.push_back(event.clone());
        if self.history.len() > HISTORY {
            if let Some(e) = self.history.pop_front() {
                self.horizon = e.rv;
            }
        }
        // No receiver is fine: nobody watches.
        let _ = self.tx.send(event);
        object
    }

    /// Creates `body` as an object of `kind` in namespace `ns`.
    ///
    /// # Errors
    /// 404 for a missing namespace, 409 when the name is taken, 422 for an
    /// invalid object, 400 for a body of another kind or namespace.
    pub fn create(
        &mut self,
        kind: &'static Kind,
        ns: &str,
        body: Value,
        opts: WriteOptions<'_>,
    ) -> Result<Value, ApiError> {
        self.create_with(kind, ns, body, opts, None)
    }

    fn create_with(
        &mut self,
        kind: &'static Kind,
        ns: &str,
        mut body: Value,
        opts: WriteOptions<'_>,
        applied: Option<Vec<Entry>>,
    ) -> Result<Value, ApiError> {
        Self::identify(kind, ns, &mut body)?;
        let meta = body["metadata"]
            .as_object_mut()
            .expect("identify made metadata");
        if meta
            .get("resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        if meta
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            if let Some(prefix) = meta.get("generateName").and_then(Value::as_str) {
                let suffix: String = crate::meta::new_uid()
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(5)
                    .collect();
                meta.insert("name".into(), json!(format!("{prefix}{suffix}")));
            }
        }
        meta.insert("uid".into(), json!(new_uid()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        meta.remove("managedFields");
        meta.remove("generation");
        meta.remove("deletionTimestamp");
        if kind.generation {
            meta.insert("generation".into(), json!(1));
        }
        if kind.status {
            if let Some(m) = body.as_object_mut() {
                m.remove("status");
            }
        }
        let name = meta_str(&body, "name").unwrap_or_default().to_string();
        self.check_namespace(kind, ns, &name)?;
        let mut next_ip = || self.allocate_ip();
        apply_defaults(kind, &mut body, None, &mut next_ip);
        let problems = validate(kind, &body, None);
        if !problems.is_empty() {
            return Err(ApiError::invalid(kind, &name, &problems));
        }
        if self
            .objects
            .contains_key(&(kind.resource, ns_of(kind, ns), name.clone()))
        {
            return Err(ApiError::already_exists(kind, &name));
        }
        let entries = match applied {
            Some(e) => e,
            None => {
                let mut e = Vec::new();
                let empty = json!({"metadata": {}});
                ssa::record_update(&mut e, opts.manager, &kind.api_version(), "", &empty, &body);
                e
            }
        };
        ssa::write_entries(&mut body, &entries);
        if opts.dry_run {
            return Ok(body);
        }
        Ok(self.commit(kind, body, "ADDED"))
    }

    /// Replaces object `name` with `body` (`PUT`): a `resourceVersion` in
    /// `body` must be the stored one.
    ///
    /// # Errors
    /// 404, 409 (stale resourceVersion), 422, 400 (name differs).
    pub fn replace(
        &mut self,
        kind: &'static Kind,
        ns: &str,
        name: &str,
        mut body: Value,
        opts: WriteOptions<'_>,
    ) -> Result<Value, ApiError> {
        Self::identify(kind, ns, &mut body)?;
        if meta_str(&body, "name").is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta_str(&body, "name").unwrap_or_default()
            )));
        }
        let old = self.get(kind, ns, name)?;
        if let Some(rv) = meta_str(&body, "resourceVersion") {
            if Some(rv) != meta_str(&old, "resourceVersion") {
                return Err(ApiError::conflict(kind, name));
            }
        }
        self.finish_update(kind, old, body, opts, None)
    }

    /// Patches object `name` (`PATCH`); an apply patch creates a missing
    /// object. The result and whether it was created.
    ///
    /// # Errors
    /// 404 (not for apply), 409 (apply conflicts, stale resourceVersion in
    /// the patch), 422, 400 (a patch that cannot be applied).
    pub fn patch(
        &mut self,
        kind: &'static Kind,
        ns: &str,
        name: &str,
        p: Patch<'_>,
        opts: WriteOptions<'_>,
    ) -> Result<(Value, bool), ApiError> {
        let existing = self.get(kind, ns, name);
        if let Patch::Apply(config, force) = p {
            let mut config = config.clone();
            Self::identify(kind, ns, &mut config)?;
            if meta_str(&config, "name").is_some_and(|n| n != name) {
                return Err(ApiError::bad_request(
                    "the name of the object does not match the name on the URL",
                ));
            }
            config["metadata"]["name"] = json!(name);
            let (live, mut entries) = match &existing {
                Ok(o) => {
                    if let Some(rv) = meta_str(&config, "resourceVersion") {
                        if Some(rv) != meta_str(o, "resourceVersion") {
                            return Err(ApiError::conflict(kind, name));
                        }
                    }
                    (o.clone(), ssa::read_entries(o))
                }
                Err(_) => {
                    let mut meta = json!({"name": name});
                    if kind.namespaced {
                        meta["namespace"] = json!(ns);
                    }
                    (
                        json!({"apiVersion": kind.api_version(), "kind": kind.kind, "metadata": meta}),
                        Vec::new(),
                    )
                }
            };
            let status_only = opts.subresource == "status";
            let merged = ssa::apply(
                &live,
                &mut entries,
                &config,
                opts.manager,
                force,
                &kind.api_version(),
                status_only,
            )
            .map_err(|c| ApiError::apply_conflicts(kind, name, &c))?;
            return match existing {
                Ok(old) => self
                    .finish_update(kind, old, merged, opts, Some(entries))
                    .map(|o| (o, false)),
                Err(_) if status_only => Err(ApiError::not_found(kind, name)),
                Err(_) => self
                    .create_with(kind, ns, merged, opts, Some(entries))
                    .map(|o| (o, true)),
            };
        }
        let old = existing?;
        let mut new = old.clone();
        match p {
            Patch::Merge(b) => patch::merge_patch(&mut new, b),
            Patch::Strategic(b) => {
                patch::strategic_merge_patch(&mut new, b).map_err(ApiError::bad_request)?
            }
            Patch::Json(b) => patch::json_patch(&mut new, b).map_err(ApiError::bad_request)?,
            Patch::Apply(..) => unreachable!("handled above"),
        }
        if meta_str(&new, "resourceVersion") != meta_str(&old, "resourceVersion") {
            return Err(ApiError::conflict(kind, name));
        }
        Self::identify(kind, ns, &mut new)?;
        self.finish_update(kind, old, new, opts, None)
            .map(|o| (o, false))
    }

    /// Writes `status` to object `name`'s status subresource as `manager`
    /// (the simulated controllers' writes).
    ///
    /// # Errors
    /// 404 when the object is gone.
    pub fn write_status(
        &mut self,
        kind: &'static Kind,
        ns: &str,
        name: &str,
        status: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        let old = self.get(kind, ns, name)?;
        let mut new = old.clone();
        new["status"] = status;
        let opts = WriteOptions {
            manager,
            dry_run: false,
            subresource: "status",
        };
        self.finish_update(kind, old, new, opts, None)
    }

    fn finish_update(
        &mut self,
        kind: &'static Kind,
        old: Value,
        mut new: Value,
        opts: WriteOptions<'_>,
        applied: Option<Vec<Entry>>,
    ) -> Result<Value, ApiError> {
        let name = meta_str(&old, "name").unwrap_or_default().to_string();
        if kind.status {
            if opts.subresource == "status" {
                let status = new.get("status").cloned().unwrap_or(json!({}));
                let mut kept = old.clone();
                kept["status"] = status;
                new = kept;
            } else {
                new["status"] = old.get("status").cloned().unwrap_or(json!({}));
            }
        }
        for f in [
            "uid",
            "creationTimestamp",
            "name",
            "namespace",
            "generation",
            "resourceVersion",
        ] {
            match old["metadata"].get(f) {
                Some(v) => new["metadata"][f] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove(f);
                    }
                }
            }
        }
        let mut next_ip = || self.allocate_ip();
        apply_defaults(kind, &mut new, Some(&old), &mut next_ip);
        let problems = validate(kind, &new, Some(&old));
        if !problems.is_empty() {
            return Err(ApiError::invalid(kind, &name, &problems));
        }
        if kind.generation && spec_of(&old) != spec_of(&new) {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(0);
            new["metadata"]["generation"] = json!(g + 1);
        }
        let entries = match applied {
            Some(e) => e,
            None => {
                // Managed fields the request changes are taken as sent (how
                // clients such as kubectl migrate ownership); an empty list
                // or none keeps the stored ones.
                let sent = new
                    .pointer("/metadata/managedFields")
                    .and_then(Value::as_array)
                    .is_some_and(|l| !l.is_empty());
                let mut e = if sent && opts.subresource.is_empty() {
                    ssa::read_entries(&new)
                } else {
                    ssa::read_entries(&old)
                };
                ssa::record_update(
                    &mut e,
                    opts.manager,
                    &kind.api_version(),
                    opts.subresource,
                    &old,
                    &new,
                );
                e
            }
        };
        ssa::write_entries(&mut new, &entries);
        if stable(&new) == stable(&old) || opts.dry_run {
            // A write that changes nothing keeps the resource version.
            return Ok(if opts.dry_run { new } else { old });
        }
        Ok(self.commit(kind, new, "MODIFIED"))
    }

    /// Deletes object `name`; `preconditions` (`uid`, `resourceVersion`)
    /// must hold. Objects go at once (answered with a success `Status`); a
    /// namespace turns `Terminating` (answered with itself) and goes with
    /// everything in it on the namespace controller's next step.
    ///
    /// # Errors
    /// 404, 409 (a precondition failed), 403 (a built-in namespace).
    pub fn delete(
        &mut self,
        kind: &'static Kind,
        ns: &str,
        name: &str,
        preconditions: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let old = self.get(kind, ns, name)?;
        for f in ["uid", "resourceVersion"] {
            if let Some(want) = preconditions.get(f).and_then(Value::as_str) {
                if Some(want) != meta_str(&old, f) {
                    return Err(ApiError::conflict(kind, name));
                }
            }
        }
        if kind.kind == "Namespace" && matches!(name, "default" | "kube-system" | "kube-public") {
            return Err(ApiError {
                code: 403,
                reason: "Forbidden",
                message: format!(
                    "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
                ),
                details: Some(json!({"name": name, "kind": "namespaces"})),
            });
        }
        if dry_run {
            return Ok(old);
        }
        if kind.kind == "Namespace" {
            // Namespaces terminate: their contents go on the namespace
            // controller's next step ([`Store::reap_namespaces`]).
            if old["metadata"].get("deletionTimestamp").is_some() {
                return Ok(old);
            }
            let mut terminating = old;
            terminating["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
            terminating["status"]["phase"] = json!("Terminating");
            return Ok(self.commit(kind, terminating, "MODIFIED"));
        }
        let uid = old["metadata"]["uid"].clone();
        let mut gone = old;
        gone["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
        gone["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        self.commit(kind, gone, "DELETED");
        // An object deleted at once is answered with a success Status (the
        // object is gone); one still being deleted (a namespace) with itself.
        Ok(json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": name, "group": kind.group, "kind": kind.resource, "uid": uid}
        }))
    }

    /// The namespace controller's step: every terminating namespace's
    /// objects are deleted, then the namespace.
    pub fn reap_namespaces(&mut self) {
        let ns_kind = &KINDS[0];
        for ns in self.list(ns_kind, None) {
            if ns["metadata"].get("deletionTimestamp").is_none() {
                continue;
            }
            let name = meta_str(&ns, "name").unwrap_or_default().to_string();
            let inside: Vec<(&'static Kind, Value)> = self
                .objects
                .iter()
                .filter(|((_, n, _), _)| *n == name)
                .filter_map(|((r, _, _), v)| {
                    KINDS
                        .iter()
                        .find(|k| k.resource == *r)
                        .map(|k| (k, v.clone()))
                })
                .collect();
            for (k, v) in inside {
                self.commit(k, v, "DELETED");
            }
            self.commit(ns_kind, ns, "DELETED");
        }
    }

    /// A watch of `kind` from resource version `since` (`None` or 0: the
    /// current objects as `ADDED` events first): the events to send now,
    /// and a receiver of the later ones.
    ///
    /// # Errors
    /// 410 when `since` is older than the kept history.
    pub fn watch(
        &self,
        kind: &'static Kind,
        since: Option<u64>,
    ) -> Result<(Vec<Arc<Event>>, Receiver), ApiError> {
        let rx = self.tx.subscribe();
        let backlog = match since {
            None | Some(0) => self
                .list(kind, None)
                .into_iter()
                .map(|object| {
                    let rv = object["metadata"]["resourceVersion"]
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    Arc::new(Event {
                        rv,
                        kind,
                        typ: "ADDED",
                        object,
                        previous: None,
                    })
                })
                .collect(),
            Some(rv) if rv < self.horizon => return Err(ApiError::gone(rv)),
            Some(rv) => self
                .history
                .iter()
                .filter(|e| e.rv > rv && e.kind.resource == kind.resource)
                .cloned()
                .collect(),
        };
        Ok((backlog, rx))
    }
}
