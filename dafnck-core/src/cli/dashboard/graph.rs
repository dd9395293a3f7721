//! A stack's recorded resources as an SVG graph: a column per depth (a
//! resource sits one column right of its deepest dependency), an arrow
//! from each dependency to its dependent.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::cli::charts::escape;
use crate::state::State;

const COLUMN: f64 = 220.0;
const ROW: f64 = 56.0;
const BOX_W: f64 = 190.0;
const BOX_H: f64 = 40.0;
const MARGIN: f64 = 12.0;

/// The graph of `state`'s resources; dependencies on resources it does
/// not record are left out.
pub(super) fn svg(state: &State) -> String {
    let names: Vec<&String> = state.resources.keys().collect();
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    // Longest path from a root; a dependency cycle (which a recorded
    // state should not have) stops at the number of resources.
    for _ in 0..names.len().max(1) {
        let mut changed = false;
        for (name, r) in &state.resources {
            let d = r
                .dependencies
                .iter()
                .filter(|dep| state.resources.contains_key(*dep) && *dep != name)
                .map(|dep| depth.get(dep.as_str()).copied().unwrap_or(0) + 1)
                .max()
                .unwrap_or(0)
                .min(names.len());
            if depth.insert(name, d) != Some(d) {
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut rows: BTreeMap<usize, usize> = BTreeMap::new();
    let mut at: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for name in &names {
        let d = depth.get(name.as_str()).copied().unwrap_or(0);
        let row = rows.entry(d).or_default();
        at.insert(
            name,
            (MARGIN + d as f64 * COLUMN, MARGIN + *row as f64 * ROW),
        );
        *row += 1;
    }
    let width = MARGIN * 2.0 + (rows.len().max(1) as f64 - 1.0) * COLUMN + BOX_W;
    let height = MARGIN * 2.0 + rows.values().max().copied().unwrap_or(1) as f64 * ROW;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11"><defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#777"/></marker></defs>"##
    );
    for (name, r) in &state.resources {
        let (x2, y2) = at[name.as_str()];
        for dep in &r.dependencies {
            if let Some((x1, y1)) = at.get(dep.as_str()) {
                let _ = write!(
                    svg,
                    r##"<line class="edge" data-from="{f}" data-to="{t}" x1="{a}" y1="{b}" x2="{x2}" y2="{c}" stroke="#777" marker-end="url(#arrow)"/>"##,
                    f = escape(dep),
                    t = escape(name),
                    a = x1 + BOX_W,
                    b = y1 + BOX_H / 2.0,
                    c = y2 + BOX_H / 2.0,
                );
            }
        }
    }
    for (name, r) in &state.resources {
        let (x, y) = at[name.as_str()];
        let _ = write!(
            svg,
            r##"<g class="node" data-name="{n}"><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="5" fill="#eef3fb" stroke="#3b7dd8"/><text x="{tx}" y="{ty1}" font-weight="bold">{n}</text><text x="{tx}" y="{ty2}" fill="#555">{t}</text></g>"##,
            n = escape(name),
            t = escape(&r.type_name),
            tx = x + 8.0,
            ty1 = y + 16.0,
            ty2 = y + 31.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependents_sit_right_of_their_dependencies_with_an_edge_each() {
        let mut state = State::empty("dev");
        for (name, deps) in [
            ("net", vec![]),
            ("sub", vec!["net"]),
            ("vm", vec!["sub", "net", "gone"]),
        ] {
            let r = serde_json::json!({"name": name, "type": "t", "id": "i", "inputs": null,
                                       "outputs": null, "dependencies": deps});
            state
                .resources
                .insert(name.into(), serde_json::from_value(r).unwrap());
        }
        let svg = svg(&state);
        assert_eq!(svg.matches("class=\"node\"").count(), 3);
        assert_eq!(svg.matches("class=\"edge\"").count(), 3);
        assert!(svg.contains(r#"data-name="vm"><rect x="452""#), "{svg}");
        assert!(svg.contains(r#"data-from="sub" data-to="vm""#));
    }
}
