//! The resources and their operations: provisioning states as operations
//! complete, what GET and lists show, references and what uses what. The
//! writes themselves are in `write.rs`.

use crate::error::ArmError;
use crate::faults::Faults;
use crate::ids::{self, key};
use crate::ops::{now_rfc3339, OpKind, Operation};
use crate::refs;
use crate::types::{self, TypeDef};
use crate::{compute, hooks};
use serde_json::{json, Value};
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
}
