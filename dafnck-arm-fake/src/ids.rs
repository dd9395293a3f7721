//! ARM URL paths and resource ids: what a request path names.
//!
//! Fixed segments (`subscriptions`, `resourceGroups`, `providers`) and
//! namespaces and types match case-insensitively, as in ARM; names keep
//! the case they were created with, and are compared case-insensitively
//! through [`key`].

/// What a request path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/subscriptions/{sub}/resourcegroups`
    Groups {
        /// Subscription id.
        sub: String,
    },
    /// `/subscriptions/{sub}/resourcegroups/{rg}`
    Group {
        /// Subscription id.
        sub: String,
        /// Group name as written in the path.
        rg: String,
    },
    /// `/subscriptions/{sub}/resourcegroups/{rg}/resources`
    GroupResources {
        /// Subscription id.
        sub: String,
        /// Group name.
        rg: String,
    },
    /// `.../providers/{ns}/{type}/{name}[/{type}/{name}...][/{extra...}]`
    /// below a group, or `/subscriptions/{sub}/providers/{ns}/{type}` (a
    /// subscription-wide list: `rg` is `None`, `names` empty).
    Provider {
        /// Subscription id.
        sub: String,
        /// Group name, unless a subscription-wide list.
        rg: Option<String>,
        /// Namespace as written.
        namespace: String,
        /// The type and name segments, alternating, as written (an odd
        /// count: a collection).
        segments: Vec<String>,
    },
    /// `/subscriptions/{sub}/providers/{ns}/locations/{loc}/{kind}/{id}`
    /// (`operations`, `asyncoperations`: a status; `operationResults`: a
    /// `Location` poll) or `/subscriptions/{sub}/operationresults/{id}`
    /// (a resource group delete).
    Operation {
        /// Subscription id.
        sub: String,
        /// Whether it is a `Location` (operation result) URL.
        result: bool,
        /// Operation id.
        id: String,
    },
    /// `/_fake/...`: the control endpoints.
    Control(String),
}

/// Parses `path` (without query), or `None` if ARM serves nothing there.
pub fn parse(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segs.first() == Some(&"_fake") {
        return Some(Route::Control(segs[1..].join("/")));
    }
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let (first, rest) = segs.split_first()?;
    if !eq(first, "subscriptions") {
        return None;
    }
    let (sub, rest) = rest.split_first()?;
    let sub = sub.to_string();
    match rest {
        [g] if eq(g, "resourcegroups") => Some(Route::Groups { sub }),
        [g, rg] if eq(g, "resourcegroups") => Some(Route::Group {
            sub,
            rg: rg.to_string(),
        }),
        [g, rg, r] if eq(g, "resourcegroups") && eq(r, "resources") => {
            Some(Route::GroupResources {
                sub,
                rg: rg.to_string(),
            })
        }
        [o, id] if eq(o, "operationresults") => Some(Route::Operation {
            sub,
            result: true,
            id: id.to_string(),
        }),
        [p, _ns, l, _loc, kind, id] if eq(p, "providers") && eq(l, "locations") => {
            let result = eq(kind, "operationResults");
            (result || eq(kind, "operations") || eq(kind, "asyncoperations")).then(|| {
                Route::Operation {
                    sub,
                    result,
                    id: id.to_string(),
                }
            })
        }
        [p, ns, t] if eq(p, "providers") => Some(Route::Provider {
            sub,
            rg: None,
            namespace: ns.to_string(),
            segments: vec![t.to_string()],
        }),
        [g, rg, p, ns, segments @ ..] if eq(g, "resourcegroups") && eq(p, "providers") => {
            (!segments.is_empty()).then(|| Route::Provider {
                sub,
                rg: Some(rg.to_string()),
                namespace: ns.to_string(),
                segments: segments.iter().map(|s| s.to_string()).collect(),
            })
        }
        _ => None,
    }
}

/// The case-insensitive key of a resource id.
pub fn key(id: &str) -> String {
    id.trim_end_matches('/').to_ascii_lowercase()
}

/// The id of resource group `rg` of `sub`.
pub fn group_id(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}")
}

/// The group name in resource id `id` (`/subscriptions/s/resourceGroups/{rg}/...`).
pub fn group_of(id: &str) -> Option<&str> {
    let mut it = id.split('/').filter(|s| !s.is_empty());
    while let Some(s) = it.next() {
        if s.eq_ignore_ascii_case("resourceGroups") {
            return it.next();
        }
    }
    None
}

/// The last segment of `id`: its name.
pub fn name_of(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

/// The parent of a child resource id (`.../virtualNetworks/v/subnets/s` ->
/// `.../virtualNetworks/v`).
pub fn parent_of(id: &str) -> &str {
    let t = id.trim_end_matches('/');
    let cut = t.rfind('/').unwrap_or(0);
    let t = &t[..cut];
    &t[..t.rfind('/').unwrap_or(0)]
}

/// Whether `id` is `ancestor` or below it (case-insensitive).
pub fn within(id: &str, ancestor: &str) -> bool {
    let (i, a) = (key(id), key(ancestor));
    i == a || i.starts_with(&format!("{a}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_case_insensitively() {
        assert_eq!(
            parse("/subscriptions/s/resourcegroups/rg"),
            Some(Route::Group {
                sub: "s".into(),
                rg: "rg".into()
            })
        );
        assert_eq!(
            parse("/subscriptions/s/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/v/subnets/a"),
            Some(Route::Provider {
                sub: "s".into(),
                rg: Some("RG".into()),
                namespace: "Microsoft.Network".into(),
                segments: vec!["virtualNetworks".into(), "v".into(), "subnets".into(), "a".into()],
            })
        );
        assert_eq!(
            parse("/subscriptions/s/providers/Microsoft.Compute/locations/westus/operations/abc"),
            Some(Route::Operation {
                sub: "s".into(),
                result: false,
                id: "abc".into()
            })
        );
        assert_eq!(parse("/nothing"), None);
        assert_eq!(
            parent_of("/a/b/providers/N/t/x/c/y"),
            "/a/b/providers/N/t/x"
        );
        assert_eq!(
            group_of("/subscriptions/s/resourceGroups/rg1/providers/x"),
            Some("rg1")
        );
        assert!(within("/A/b/C", "/a/B"));
        assert!(!within("/a/bc", "/a/b"));
    }
}
