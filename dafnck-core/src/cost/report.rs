//! The estimates of a stack ([`StackCost`]) and of a change
//! ([`CostReport`]), as `preview --cost` prints them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{Estimate, PriceTable};

/// One resource's estimate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResourceCost {
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether the model knows its type (if not: "no price known").
    pub modelled: bool,
    /// The estimate.
    pub estimate: Estimate,
}

/// A stack's estimate: each resource's, and the fixed monthly total.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StackCost {
    /// Each resource's estimate.
    pub resources: Vec<ResourceCost>,
    /// The fixed monthly total.
    pub monthly: f64,
}

impl StackCost {
    pub(crate) fn new(resources: Vec<ResourceCost>) -> StackCost {
        let monthly = resources.iter().map(|r| r.estimate.total()).sum();
        StackCost { resources, monthly }
    }

    /// The resource called `name`.
    pub fn get(&self, name: &str) -> Option<&ResourceCost> {
        self.resources.iter().find(|r| r.name == name)
    }
}

/// The cost of a change: the stack as recorded and as the program declares
/// it, with the prices' date, currency and region.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostReport {
    /// As recorded.
    pub before: StackCost,
    /// As declared.
    pub after: StackCost,
    /// When the prices were read.
    pub prices_date: String,
    /// Their currency.
    pub currency: String,
    /// Their region.
    pub region: String,
    /// Hours in a month.
    pub hours_per_month: f64,
}

impl CostReport {
    /// The report of going from `before` to `after` at `prices`.
    pub fn new(before: StackCost, after: StackCost, prices: &PriceTable) -> CostReport {
        CostReport {
            before,
            after,
            prices_date: prices.date.clone(),
            currency: prices.currency.clone(),
            region: prices.region.clone(),
            hours_per_month: prices.hours_per_month,
        }
    }

    /// The change of the fixed monthly total.
    pub fn delta(&self) -> f64 {
        self.after.monthly - self.before.monthly
    }

    /// As text: per resource with a cost or a price to say, its monthly
    /// cost before → after, its items and usage prices; then the totals.
    pub fn render(&self) -> String {
        let cur = &self.currency;
        let mut s = format!(
            "\nCost (monthly, {cur}, {} prices of {}, {} h/month):\n",
            self.region, self.prices_date, self.hours_per_month
        );
        let before: BTreeMap<&str, &ResourceCost> = self
            .before
            .resources
            .iter()
            .map(|r| (r.name.as_str(), r))
            .collect();
        let mut unmodelled = Vec::new();
        for r in &self.after.resources {
            if !r.modelled {
                unmodelled.push(r.type_name.as_str());
                continue;
            }
            let was = before.get(r.name.as_str()).map(|b| b.estimate.total());
            let now = r.estimate.total();
            let e = &r.estimate;
            if e.items.is_empty() && e.usage.is_empty() && e.unpriced.is_empty() && was.is_none() {
                continue;
            }
            let _ = match was {
                Some(w) if (w - now).abs() >= 0.005 => {
                    writeln!(s, "  {:<28} {w:>10.2} → {now:.2}", r.name)
                }
                _ => writeln!(s, "  {:<28} {now:>10.2}", r.name),
            };
            for i in &e.items {
                let _ = writeln!(
                    s,
                    "      {} : {} {} × {} = {:.2}",
                    i.what,
                    trim(i.quantity),
                    i.unit,
                    i.unit_price,
                    i.monthly
                );
            }
            for u in &e.usage {
                let _ = writeln!(
                    s,
                    "      {} : {} per {} (by usage)",
                    u.what, u.unit_price, u.unit
                );
            }
            for why in &e.unpriced {
                let _ = writeln!(s, "      {why}");
            }
        }
        for r in &self.before.resources {
            if r.modelled && self.after.get(&r.name).is_none() && r.estimate.total() > 0.0 {
                let _ = writeln!(
                    s,
                    "  {:<28} {:>10.2} → 0.00 (deleted)",
                    r.name,
                    r.estimate.total()
                );
            }
        }
        unmodelled.sort_unstable();
        unmodelled.dedup();
        if !unmodelled.is_empty() {
            let _ = writeln!(s, "  No price known for: {}", unmodelled.join(", "));
        }
        let _ = writeln!(
            s,
            "  Total: {:.2} → {:.2} {cur}/month ({}{:.2}); usage-based prices are extra.",
            self.before.monthly,
            self.after.monthly,
            if self.delta() >= 0.0 { "+" } else { "" },
            self.delta()
        );
        s
    }
}

/// A quantity without a needless fraction.
fn trim(q: f64) -> String {
    if q.fract() == 0.0 {
        format!("{q:.0}")
    } else {
        format!("{q}")
    }
}
