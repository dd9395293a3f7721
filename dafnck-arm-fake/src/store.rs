//! The resources, their operations, and the ARM semantics of writes:
//! create-or-update, children inline in their parent, references,
//! provisioning states and deletes.

use crate::error::ArmError;
use crate::faults::Faults;
use crate::ids::{self, key};
use crate::ops::{now_rfc3339, OpKind, Operation};
use crate::refs;
use crate::types::{self, Completion, TypeDef};
use crate::{compute, hooks};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// One resource (a resource group too).
#[derive(Debug, Clone)]
pub struct Resource {
    /// Its id, in the case it was created with.
    pub id: String,
    /// Its type.
    pub def: &'static TypeDef,
    /// What GET shows, less inline children, back-references and secrets.
    pub body: Value,
    /// The operation in progress on it.
    pub op: Option<String>,
    /// A scale set's instances.
    pub scale_set: Option<compute::ScaleSet>,
}

/// An answer: status, body, headers.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body, if any.
    pub body: Option<Value>,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    /// `status` with no body.
    pub fn empty(status: u16) -> Self {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }
}

/// The request context a write needs.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `http://host:port` of this server, as the client addressed it.
    pub base: String,
    /// The request's api-version.
    pub api_version: String,
}

/// Everything the server holds.
#[derive(Debug, Default)]
pub struct State {
    /// Resources by [`key`] of their id.
    pub resources: BTreeMap<String, Resource>,
    /// Operations by id.
    pub ops: BTreeMap<String, Operation>,
    /// Faults in force.
    pub faults: Faults,
    counter: u64,
    /// Addresses handed out (public IPs, NICs' private IPs).
    pub addresses: BTreeMap<String, u32>,
}

impl State {
    /// A fresh GUID-shaped id.
    pub fn guid(&mut self) -> String {
        self.counter += 1;
        let c = self.counter;
        let mix = c.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            (mix >> 32) as u32,
            (mix >> 16) as u16,
            (mix & 0xfff) as u16,
            (c >> 12) as u16 & 0xfff,
            c
        )
    }

    /// Completes every operation whose time has come, and moves rolling
    /// upgrades on.
    pub fn settle(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .ops
            .values()
            .filter(|o| o.running() && o.done_at <= now)
            .map(|o| o.id.clone())
            .collect();
        for id in due {
            self.complete(&id);
        }
        compute::advance(self, now);
    }

    fn complete(&mut self, op_id: &str) {
        let Some(op) = self.ops.get_mut(op_id) else {
            return;
        };
        op.status = if op.failure.is_some() {
            "Failed"
        } else {
            "Succeeded"
        };
        op.end_time = Some(now_rfc3339());
        let op = op.clone();
        let touched: Vec<String> = self
            .resources
            .iter()
            .filter(|(_, r)| r.op.as_deref() == Some(op_id))
            .map(|(k, _)| k.clone())
            .collect();
        if op.kind == OpKind::Delete && op.failure.is_none() {
            self.remove_tree(&op.target);
            return;
        }
        if op.kind == OpKind::Action {
            if op.failure.is_none() {
                compute::action_completed(self, &op.target, op_id);
            }
            return;
        }
        for k in touched {
            if let Some(r) = self.resources.get_mut(&k) {
                r.op = None;
                r.body["properties"]["provisioningState"] = json!(op.status);
            }
            if op.failure.is_none() {
                hooks::completed(self, &k, op.kind);
            }
        }
    }

    /// Removes the resource at key `k` and everything below it.
    pub fn remove_tree(&mut self, k: &str) {
        let below = format!("{k}/");
        self.resources
            .retain(|rk, _| rk != k && !rk.starts_with(&below));
    }

    /// Starts an operation of `kind` on the resource at key `k` (already
    /// stored); returns its id. A failure armed for the resource applies
    /// to puts and actions.
    pub fn start_op(&mut self, ctx: &Ctx, k: &str, kind: OpKind) -> String {
        self.start_op_on(ctx, k, kind, true)
    }

    /// Starts an operation on the resource at key `k` that is not its
    /// provisioning (a POST action): the resource's own state and
    /// operation stay.
    pub fn start_detached_op(&mut self, ctx: &Ctx, k: &str, kind: OpKind) -> String {
        self.start_op_on(ctx, k, kind, false)
    }

    fn start_op_on(&mut self, ctx: &Ctx, k: &str, kind: OpKind, attach: bool) -> String {
        let id = self.guid();
        let r = &self.resources[k];
        let location = self.location_of(k).unwrap_or_else(|| "global".into());
        let failure = match kind {
            OpKind::Delete => None,
            _ => self.faults.take_failure(&r.id.clone()),
        };
        let r = self.resources.get_mut(k).expect("the resource is stored");
        let old = if attach {
            r.op.replace(id.clone())
        } else {
            None
        };
        if let Some(old) = old {
            if let Some(o) = self.ops.get_mut(&old).filter(|o| o.running()) {
                o.status = "Canceled";
                o.end_time = Some(now_rfc3339());
            }
        }
        let sub = r.id.split('/').nth(2).unwrap_or_default().to_string();
        self.ops.insert(
            id.clone(),
            Operation {
                id: id.clone(),
                sub,
                namespace: r.def.namespace,
                location,
                target: k.to_string(),
                kind,
                done_at: Instant::now() + self.faults.delay,
                failure,
                status: "InProgress",
                start_time: now_rfc3339(),
                end_time: None,
                api_version: ctx.api_version.clone(),
            },
        );
        id
    }

    /// Headers of an answer that started operation `op`.
    pub fn op_headers(&self, ctx: &Ctx, op: &str, status_url: bool) -> Vec<(&'static str, String)> {
        let o = &self.ops[op];
        let mut h = vec![
            ("Location", o.result_url(&ctx.base)),
            (
                "Retry-After",
                o.retry_after(self.faults.retry_after).to_string(),
            ),
        ];
        if status_url {
            h.push(("Azure-AsyncOperation", o.status_url(&ctx.base)));
        }
        h
    }

    /// The region of the resource at key `k` (a child's: its parent's).
    pub fn location_of(&self, k: &str) -> Option<String> {
        let mut k = k.to_string();
        loop {
            let r = self.resources.get(&k)?;
            if let Some(l) = r.body["location"].as_str() {
                return Some(l.to_string());
            }
            k = key(ids::parent_of(&r.id));
        }
    }

    /// The group `rg` of `sub`, ready to hold resources.
    ///
    /// # Errors
    /// 404 `ResourceGroupNotFound`; 409 `ResourceGroupBeingDeleted`.
    pub fn group(&self, sub: &str, rg: &str) -> Result<&Resource, ArmError> {
        let g = self
            .resources
            .get(&key(&ids::group_id(sub, rg)))
            .ok_or_else(|| ArmError::group_not_found(rg))?;
        if g.body["properties"]["provisioningState"] == "Deleting" {
            return Err(ArmError::conflict(
                "ResourceGroupBeingDeleted",
                format!("The resource group '{rg}' is in deprovisioning state and cannot perform this operation."),
            ));
        }
        Ok(g)
    }

    /// What GET shows of the resource at key `k`.
    pub fn render(&self, k: &str) -> Option<Value> {
        let r = self.resources.get(k)?;
        let mut v = r.body.clone();
        if let Some(child) = types::inline_child(r.def) {
            let field = child.inline_field.unwrap_or_default();
            let kids: Vec<Value> = self
                .children(k, child)
                .iter()
                .filter_map(|ck| self.render(ck))
                .collect();
            v["properties"][field] = Value::Array(kids);
        }
        hooks::render(self, r, &mut v);
        Some(v)
    }

    /// Keys of the children of type `child` of the resource at key `k`.
    pub fn children(&self, k: &str, child: &TypeDef) -> Vec<String> {
        let prefix = format!("{k}/{}/", child.leaf().to_ascii_lowercase());
        self.resources
            .range(prefix.clone()..)
            .take_while(|(rk, _)| rk.starts_with(&prefix))
            .filter(|(rk, _)| !rk[prefix.len()..].contains('/'))
            .map(|(rk, _)| rk.clone())
            .collect()
    }

    /// The resources of type `def` in group `rg` (or the whole
    /// subscription), children of `parent` when given, rendered.
    pub fn list(
        &self,
        sub: &str,
        rg: Option<&str>,
        def: &TypeDef,
        parent: Option<&str>,
    ) -> Vec<Value> {
        let scope = match (parent, rg) {
            (Some(p), _) => key(p),
            (None, Some(rg)) => key(&ids::group_id(sub, rg)),
            (None, None) => key(&format!("/subscriptions/{sub}")),
        };
        self.resources
            .iter()
            .filter(|(k, r)| {
                std::ptr::eq(r.def, def)
                    && k.starts_with(&format!("{scope}/"))
                    && (parent.is_none() || key(ids::parent_of(&r.id)) == scope)
            })
            .filter_map(|(k, _)| self.render(k))
            .collect()
    }

    /// Whether reference `id` resolves: to a stored resource, an entry
    /// inline in one, or something in `pending` (what is being written).
    pub fn resolves(&self, id: &str, pending: &[(&str, &Value)]) -> bool {
        if pending
            .iter()
            .any(|(owner, body)| refs::inline_entry(owner, body, id))
        {
            return true;
        }
        let mut k = key(id);
        loop {
            if let Some(r) = self.resources.get(&k) {
                return r.body["properties"]["provisioningState"] != "Deleting"
                    && (k == key(id) || refs::inline_entry(&r.id, &r.body, id));
            }
            let up = key(ids::parent_of(&k));
            if up.len() < "/subscriptions/x/resourcegroups/y".len() || up == k {
                return false;
            }
            k = up;
        }
    }

    /// Checks every reference in `body` (of resource `id`) resolves.
    ///
    /// # Errors
    /// 400 `InvalidResourceReference` naming the field.
    pub fn check_references(
        &self,
        id: &str,
        body: &Value,
        pending: &[(&str, &Value)],
    ) -> Result<(), ArmError> {
        for (field, target) in refs::references(body) {
            if !self.resolves(&target, pending) {
                return Err(ArmError::new(
                    400,
                    "InvalidResourceReference",
                    format!("Resource {target} referenced by resource {id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."),
                )
                .with_target(field));
            }
        }
        Ok(())
    }

    /// The first resource outside `id`'s tree that refers into it: its id
    /// and the field.
    pub fn user_of(&self, id: &str) -> Option<(String, String)> {
        self.resources
            .values()
            .filter(|r| !ids::within(&r.id, id))
            .find_map(|r| {
                refs::references(&r.body)
                    .into_iter()
                    .find(|(_, t)| ids::within(t, id))
                    .map(|(field, _)| (r.id.clone(), field))
            })
    }

    /// 409 unless nothing outside `id`'s tree uses it.
    ///
    /// # Errors
    /// 409 with the type's in-use code, naming the user.
    pub fn check_unused(&self, id: &str, def: &TypeDef) -> Result<(), ArmError> {
        match self.user_of(id) {
            None => Ok(()),
            Some((user, field)) => Err(ArmError::conflict(
                def.in_use_code,
                format!(
                    "{} {id} is in use by {user} ({field}) and cannot be deleted. In order to delete it, remove the reference first.",
                    def.leaf()
                ),
            )
            .with_target(user)),
        }
    }

    /// 409 when the new body of `id` drops an inline entry (a load
    /// balancer's backend pool) that another resource refers to.
    fn check_inline_entries_kept(
        &self,
        id: &str,
        def: &TypeDef,
        new: &Value,
    ) -> Result<(), ArmError> {
        for r in self.resources.values().filter(|r| !ids::within(&r.id, id)) {
            for (field, target) in refs::references(&r.body) {
                let below = ids::within(&target, id) && key(&target) != key(id);
                if below
                    && !self.resources.contains_key(&key(&target))
                    && !refs::inline_entry(id, new, &target)
                {
                    return Err(ArmError::conflict(
                        def.in_use_code,
                        format!(
                            "{target} is in use by {} ({field}) and cannot be removed from {id}.",
                            r.id
                        ),
                    )
                    .with_target(r.id.clone()));
                }
            }
        }
        Ok(())
    }

    /// PUT of resource type `def` at path `names` (one name per level of
    /// the type's path) in group `rg`.
    ///
    /// # Errors
    /// The ARM errors of the write.
    pub fn put(
        &mut self,
        ctx: &Ctx,
        def: &'static TypeDef,
        sub: &str,
        rg: &str,
        names: &[String],
        body: Value,
    ) -> Result<Reply, ArmError> {
        let group_id = self.group(sub, rg)?.id.clone();
        let id = self.canonical_id(&group_id, def, names)?;
        let k = key(&id);
        let existing = self.resources.get(&k).cloned();
        if let Some(e) = &existing {
            if e.body["properties"]["provisioningState"] == "Deleting" {
                return Err(ArmError::conflict(
                    "AnotherOperationInProgress",
                    format!("Another operation on this or dependent resource is in progress: the resource {id} is being deleted."),
                ));
            }
        }
        let parent = (!def.tracked).then(|| key(ids::parent_of(&id)));
        let parent_body = parent
            .as_ref()
            .and_then(|p| self.resources.get(p))
            .map(|p| p.body.clone());
        let (mut new, kids) = self.normalize(def, &id, body, existing.as_ref())?;
        hooks::prepare(
            self,
            def,
            &id,
            &mut new,
            existing.as_ref().map(|e| &e.body),
            parent_body.as_ref(),
        )?;
        let mut kid_bodies = Vec::new();
        if let Some(child) = types::inline_child(def) {
            for (name, kb) in kids {
                let kid_id = self.child_id(&id, child, &name);
                let prev = self.resources.get(&key(&kid_id)).cloned();
                let (mut kb, _) = self.normalize(child, &kid_id, kb, prev.as_ref())?;
                hooks::prepare(
                    self,
                    child,
                    &kid_id,
                    &mut kb,
                    prev.as_ref().map(|p| &p.body),
                    Some(&new),
                )?;
                kid_bodies.push((kid_id, kb));
            }
            // Children left out of the parent's body go, unless in use.
            let keep: Vec<String> = kid_bodies.iter().map(|(i, _)| key(i)).collect();
            for ck in self.children(&k, child) {
                if !keep.contains(&ck) {
                    let cid = self.resources[&ck].id.clone();
                    self.check_unused(&cid, child)?;
                }
            }
        }
        let mut pending: Vec<(&str, &Value)> = vec![(&id, &new)];
        pending.extend(kid_bodies.iter().map(|(i, b)| (i.as_str(), b)));
        self.check_references(&id, &new, &pending)?;
        for (kid_id, kb) in &kid_bodies {
            self.check_references(kid_id, kb, &pending)?;
        }
        self.check_inline_entries_kept(&id, def, &new)?;
        // The write itself.
        let created = existing.is_none();
        let state = match def.completion {
            Completion::Sync => "Succeeded",
            Completion::Async if created => "Creating",
            Completion::Async => "Updating",
        };
        new["properties"]["provisioningState"] = json!(state);
        let scale_set = existing.as_ref().and_then(|e| e.scale_set.clone());
        let op = existing.and_then(|e| e.op);
        self.resources.insert(
            k.clone(),
            Resource {
                id: id.clone(),
                def,
                body: new,
                op,
                scale_set,
            },
        );
        if let Some(child) = types::inline_child(def) {
            let keep: Vec<String> = kid_bodies.iter().map(|(i, _)| key(i)).collect();
            for ck in self.children(&k, child) {
                if !keep.contains(&ck) {
                    self.remove_tree(&ck);
                }
            }
            for (kid_id, mut kb) in kid_bodies {
                kb["properties"]["provisioningState"] = json!(state);
                let kk = key(&kid_id);
                let old_op = self.resources.get(&kk).and_then(|r| r.op.clone());
                self.resources.insert(
                    kk,
                    Resource {
                        id: kid_id,
                        def: child,
                        body: kb,
                        op: old_op,
                        scale_set: None,
                    },
                );
            }
        }
        let code = if created { 201 } else { 200 };
        match def.completion {
            Completion::Sync => {
                hooks::completed(self, &k, OpKind::Put);
                Ok(Reply::json(code, self.render(&k).unwrap_or_default()))
            }
            Completion::Async => {
                let op = self.start_op(ctx, &k, OpKind::Put);
                if let Some(child) = types::inline_child(def) {
                    for ck in self.children(&k, child) {
                        if let Some(c) = self.resources.get_mut(&ck) {
                            c.op = Some(op.clone());
                        }
                    }
                }
                let mut reply = Reply::json(code, self.render(&k).unwrap_or_default());
                reply.headers = self.op_headers(ctx, &op, true);
                reply.headers.retain(|(h, _)| *h != "Location");
                Ok(reply)
            }
        }
    }

    /// The id a write of `def` named `names` in group `group_id` gets: the
    /// stored one's case when it exists; parents must exist.
    fn canonical_id(
        &self,
        group_id: &str,
        def: &TypeDef,
        names: &[String],
    ) -> Result<String, ArmError> {
        let rg = ids::name_of(group_id).to_string();
        let mut id = format!("{group_id}/providers/{}", def.namespace);
        let segs: Vec<&str> = def.path.split('/').collect();
        for (i, (t, n)) in segs.iter().zip(names).enumerate() {
            let candidate = format!("{id}/{t}/{n}");
            match self.resources.get(&key(&candidate)) {
                Some(r) => id = r.id.clone(),
                None if i + 1 < segs.len() => {
                    return Err(ArmError::not_found(
                        &format!("{}/{}/{n}", def.namespace, segs[..=i].join("/")),
                        &rg,
                    ))
                }
                None => id = candidate,
            }
        }
        Ok(id)
    }

    fn child_id(&self, parent_id: &str, child: &TypeDef, name: &str) -> String {
        let candidate = format!("{parent_id}/{}/{name}", child.leaf());
        self.resources
            .get(&key(&candidate))
            .map(|r| r.id.clone())
            .unwrap_or(candidate)
    }

    /// The stored form of a request `body` for resource `id` of type
    /// `def`: id, name, type, location and tags (tracked types), other
    /// top-level fields kept, read-only properties dropped; and the inline
    /// children taken out of it (name, body).
    ///
    /// # Errors
    /// 400 `InvalidRequestContent`, `LocationRequired`,
    /// `InvalidParameter`.
    pub fn normalize(
        &self,
        def: &TypeDef,
        id: &str,
        body: Value,
        existing: Option<&Resource>,
    ) -> Result<(Value, Vec<(String, Value)>), ArmError> {
        let Value::Object(mut m) = body else {
            return Err(ArmError::invalid_content(format!(
                "The request content for {id} was invalid and could not be deserialized: a JSON object is expected."
            )));
        };
        let mut out = Map::new();
        out.insert("id".into(), json!(id));
        out.insert("name".into(), json!(ids::name_of(id)));
        out.insert("type".into(), json!(def.full_type()));
        if def.tracked {
            let location = match m.remove("location") {
                // Insights keeps the spelling it was given ("West US");
                // the other providers normalize it ("westus").
                Some(Value::String(l))
                    if !l.trim().is_empty() && def.namespace == "Microsoft.Insights" =>
                {
                    l
                }
                Some(Value::String(l)) if !l.trim().is_empty() => {
                    l.to_ascii_lowercase().replace(' ', "")
                }
                _ => {
                    return Err(ArmError::new(
                        400,
                        "LocationRequired",
                        "The location property is required for this definition.",
                    )
                    .with_target("location"))
                }
            };
            if let Some(prev) = existing.and_then(|e| e.body["location"].as_str()) {
                let norm = |l: &str| l.to_ascii_lowercase().replace(' ', "");
                if norm(prev) != norm(&location) {
                    return Err(ArmError::new(
                        400,
                        "InvalidResourceLocation",
                        format!("The resource '{id}' already exists in location '{prev}'. A resource with the same name cannot be created in location '{location}'. Please select a new resource name."),
                    )
                    .with_target("location"));
                }
            }
            out.insert("location".into(), json!(location));
            let tags = match m.remove("tags") {
                None | Some(Value::Null) => json!({}),
                Some(Value::Object(t)) => {
                    if let Some((k, _)) = t.iter().find(|(_, v)| !v.is_string()) {
                        return Err(ArmError::invalid_parameter(
                            &format!("tags.{k}"),
                            format!("The value of tag '{k}' must be a string."),
                        ));
                    }
                    Value::Object(t)
                }
                Some(_) => {
                    return Err(ArmError::invalid_parameter(
                        "tags",
                        "tags must be an object of strings",
                    ))
                }
            };
            out.insert("tags".into(), tags);
        }
        let mut props = match m.remove("properties") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => p,
            Some(_) => {
                return Err(ArmError::invalid_parameter(
                    "properties",
                    "properties must be an object",
                ))
            }
        };
        props.remove("provisioningState");
        for ro in def.read_only {
            props.remove(*ro);
        }
        let mut kids = Vec::new();
        if let Some(child) = types::inline_child(def) {
            let field = child.inline_field.unwrap_or_default();
            match props.remove(field) {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) => {
                    for (i, mut k) in a.into_iter().enumerate() {
                        let name = k["name"]
                            .as_str()
                            .filter(|n| !n.is_empty())
                            .map(String::from)
                            .ok_or_else(|| {
                                ArmError::invalid_parameter(
                                    &format!("properties.{field}[{i}].name"),
                                    format!("Every entry of {field} needs a name."),
                                )
                            })?;
                        if kids
                            .iter()
                            .any(|(n, _): &(String, Value)| n.eq_ignore_ascii_case(&name))
                        {
                            return Err(ArmError::invalid_parameter(
                                &format!("properties.{field}[{i}].name"),
                                format!("{field} has two entries named '{name}'."),
                            ));
                        }
                        if let Some(o) = k.as_object_mut() {
                            o.remove("id");
                            o.remove("name");
                            o.remove("etag");
                            o.remove("type");
                        }
                        kids.push((name, k));
                    }
                }
                Some(_) => {
                    return Err(ArmError::invalid_parameter(
                        &format!("properties.{field}"),
                        format!("{field} must be an array"),
                    ))
                }
            }
        }
        out.insert("properties".into(), Value::Object(props));
        for (k, v) in m {
            if !matches!(k.as_str(), "id" | "name" | "type" | "etag") {
                out.insert(k, v);
            }
        }
        Ok((Value::Object(out), kids))
    }

    /// DELETE of the resource `id` (already canonical: found).
    ///
    /// # Errors
    /// 409 when in use.
    pub fn delete(&mut self, ctx: &Ctx, k: &str) -> Result<Reply, ArmError> {
        let r = self.resources[k].clone();
        if r.body["properties"]["provisioningState"] == "Deleting" {
            let op = r.op.clone().unwrap_or_default();
            let mut reply = Reply::empty(202);
            if self.ops.contains_key(&op) {
                reply.headers = self.op_headers(ctx, &op, r.def.namespace != "Microsoft.Resources");
            }
            return Ok(reply);
        }
        if !std::ptr::eq(r.def, &types::RESOURCE_GROUP) {
            self.check_unused(&r.id, r.def)?;
        }
        match r.def.completion {
            Completion::Sync if !std::ptr::eq(r.def, &types::RESOURCE_GROUP) => {
                self.remove_tree(k);
                Ok(Reply::empty(200))
            }
            _ => {
                if let Some(res) = self.resources.get_mut(k) {
                    res.body["properties"]["provisioningState"] = json!("Deleting");
                }
                let op = self.start_op(ctx, k, OpKind::Delete);
                let mut reply = Reply::empty(202);
                reply.headers = self.op_headers(ctx, &op, r.def.namespace != "Microsoft.Resources");
                Ok(reply)
            }
        }
    }
}
