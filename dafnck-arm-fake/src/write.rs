//! The write path of ARM's semantics: PUT create-or-update (children
//! inline in their parent replaced with it, references checked, the
//! operation started), the stored form of a request body, and DELETE.

use crate::error::ArmError;
use crate::ids::{self, key};
use crate::ops::OpKind;
use crate::refs;
use crate::store::{Ctx, Reply, Resource, State};
use crate::types::{self, Completion, TypeDef};
use crate::{hooks, network};
use serde_json::{json, Map, Value};

impl State {
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
        let write = hooks::Write {
            def,
            id: &id,
            existing: existing.as_ref().map(|e| &e.body),
            parent: parent_body.as_ref(),
        };
        hooks::prepare(self, &write, &mut new)?;
        let mut kid_bodies = Vec::new();
        if let Some(child) = types::inline_child(def) {
            for (name, kb) in kids {
                let kid_id = self.child_id(&id, child, &name);
                let prev = self.resources.get(&key(&kid_id)).cloned();
                let (mut kb, _) = self.normalize(child, &kid_id, kb, prev.as_ref())?;
                let write = hooks::Write {
                    def: child,
                    id: &kid_id,
                    existing: prev.as_ref().map(|p| &p.body),
                    parent: Some(&new),
                };
                hooks::prepare(self, &write, &mut kb)?;
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
        if let Some(child) = types::inline_child(def) {
            network::check_siblings(child, &kid_bodies)?;
        } else if def.inline_field.is_some() {
            let parent_key = key(ids::parent_of(&id));
            let mut all: Vec<(String, Value)> = self
                .children(&parent_key, def)
                .into_iter()
                .filter(|ck| *ck != k)
                .filter_map(|ck| {
                    self.resources
                        .get(&ck)
                        .map(|r| (r.id.clone(), r.body.clone()))
                })
                .collect();
            all.push((id.clone(), new.clone()));
            network::check_siblings(def, &all)?;
        }
        // The same body again while its operation runs (a client's retry,
        // or an SDK polling by PUT): the running operation stands.
        if let Some(running) = existing.as_ref().and_then(|e| e.op.clone()).filter(|o| {
            self.ops
                .get(o)
                .is_some_and(|o| o.running() && o.kind == OpKind::Put)
        }) {
            if self.same_as_stored(&k, &new, &kid_bodies) {
                let mut reply = Reply::json(200, self.render(&k).unwrap_or_default());
                reply.headers = self.op_headers(ctx, &running, true);
                reply.headers.retain(|(h, _)| *h != "Location");
                return Ok(reply);
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

    /// Whether `body` (and `kids`, its inline children) is what is stored
    /// at `k`, but for what every write makes anew (etag, state).
    fn same_as_stored(&self, k: &str, body: &Value, kids: &[(String, Value)]) -> bool {
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Some(m) = v.as_object_mut() {
                m.remove("etag");
            }
            if let Some(p) = v["properties"].as_object_mut() {
                p.remove("provisioningState");
            }
            v
        };
        let Some(r) = self.resources.get(k) else {
            return false;
        };
        let stored_kids = types::inline_child(r.def)
            .map(|c| self.children(k, c))
            .unwrap_or_default();
        strip(&r.body) == strip(body)
            && stored_kids.len() == kids.len()
            && kids.iter().all(|(kid, kb)| {
                self.resources
                    .get(&key(kid))
                    .is_some_and(|stored| strip(&stored.body) == strip(kb))
            })
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
