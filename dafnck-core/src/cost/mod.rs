//! Cost estimates of a stack and of a change, Infracost-style: fixed prices
//! (per hour, per GB-month) times what the program declares, at
//! [`PriceTable::hours_per_month`] (730) hours a month; prices that depend
//! on usage (requests, load balancer capacity units, data) are shown as
//! unit prices, never guessed.
//!
//! A [`CostModel`] is a [`PriceTable`] (shipped by a provider crate, with
//! its date, currency and region; a file can override any price) and, per
//! resource type, a function that reads the resource's typed inputs and
//! adds [`Item`]s and [`UsagePrice`]s to its [`Estimate`]. A type without
//! one, or a price missing from the table, is said plainly ("no price
//! known"), not counted as free.
//!
//! `preview --cost` prints the stack's monthly cost before and after the
//! change ([`CostReport`]); [`CostModel::budget_rule`] is a policy rule
//! ("the monthly cost after this change is at most N") like any other, so
//! a mandatory budget refuses an `up` over it.
//!
//! ```
//! use dafnck_core::cost::{CostModel, PriceTable};
//! use dafnck_core::testing::resources::Instance;
//!
//! let table = PriceTable::from_json(r#"{
//!     "date": "2026-11-01", "currency": "USD", "region": "test-1",
//!     "prices": {"fake:compute:Instance/small": {"unit": "hour", "price": 0.01}}
//! }"#).unwrap();
//! let model = CostModel::new(table).resource(|i: &Instance, view, e| {
//!     let size = i.size.as_value().cloned().unwrap_or_default();
//!     e.hourly(view.prices(), &format!("fake:compute:Instance/{size}"), "instance", 1.0);
//! });
//! assert_eq!(model.types().collect::<Vec<_>>(), ["fake:compute:Instance"]);
//! ```

mod report;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::policy::{Rule, RuleInfo, StackView};
use crate::resource::Resource;
use crate::stack::Desired;
use crate::state::State;
use crate::value::Value;

pub use report::{CostReport, ResourceCost, StackCost};

crate::policy_rule!(
    BUDGET,
    "DAF-COST-001",
    High,
    "cost",
    "The monthly cost after the change stays within the budget",
    "Lower the cost (smaller or fewer resources, or stop paying for idle ones), or raise the budget.",
    &[]
);

/// One price: so much per `unit`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// The unit: `hour`, `GB-month`, `LCU-hour`, `1M requests`, ...
    pub unit: String,
    /// The price of one unit, in the table's currency.
    pub price: f64,
}

/// Prices by key (`<type>/<what>`, e.g. `aws:ec2:Instance/t3.micro`), with
/// the date they were read, their currency and region.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceTable {
    /// When the prices were read (`YYYY-MM-DD`).
    pub date: String,
    /// Their currency (`USD`).
    pub currency: String,
    /// The region they are for.
    pub region: String,
    /// Where the prices come from, and what they leave out.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Hours in a month (730, as AWS bills and Infracost count).
    #[serde(default = "default_hours")]
    pub hours_per_month: f64,
    /// The prices.
    pub prices: BTreeMap<String, Price>,
}

fn default_hours() -> f64 {
    730.0
}

impl PriceTable {
    /// A table from its JSON.
    ///
    /// # Errors
    /// The JSON is not a price table (the message says where).
    pub fn from_json(json: &str) -> Result<PriceTable, String> {
        let table: PriceTable =
            serde_json::from_str(json).map_err(|e| format!("not a price table: {e}"))?;
        if let Some((key, p)) = table
            .prices
            .iter()
            .find(|(_, p)| !(p.price.is_finite() && p.price >= 0.0))
        {
            return Err(format!("price {key} is {}, not a price", p.price));
        }
        Ok(table)
    }

    /// The table in the file at `path`.
    ///
    /// # Errors
    /// The file cannot be read or is not a price table; the message names
    /// the file.
    pub fn load(path: &Path) -> Result<PriceTable, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the price table {}: {e}", path.display()))?;
        PriceTable::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// This table with `overrides`' prices put over its own, and its date,
    /// currency and region.
    pub fn overridden_by(mut self, overrides: PriceTable) -> PriceTable {
        self.prices.extend(overrides.prices);
        PriceTable {
            prices: self.prices,
            ..overrides
        }
    }

    /// The price of `key`.
    pub fn get(&self, key: &str) -> Option<&Price> {
        self.prices.get(key)
    }
}

/// A fixed cost: `quantity` units at `unit_price` each, `monthly` a month.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Item {
    /// What is paid for (`instance t3.micro`, `public IPv4 address`).
    pub what: String,
    /// How many units a month (hours × count, GB, ...).
    pub quantity: f64,
    /// The unit.
    pub unit: String,
    /// The price of one unit.
    pub unit_price: f64,
    /// `quantity × unit_price`.
    pub monthly: f64,
}

/// A price paid by usage, shown as a unit price.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UsagePrice {
    /// What is paid for (`load balancer capacity units`).
    pub what: String,
    /// The unit.
    pub unit: String,
    /// The price of one unit.
    pub unit_price: f64,
}

/// One resource's estimate.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Estimate {
    /// Fixed monthly costs.
    pub items: Vec<Item>,
    /// Prices paid by usage.
    pub usage: Vec<UsagePrice>,
    /// What could not be priced, and why.
    pub unpriced: Vec<String>,
}

impl Estimate {
    /// Adds `count` of what is priced per hour under `key`, for a month.
    pub fn hourly(&mut self, prices: &PriceTable, key: &str, what: &str, count: f64) {
        match prices.get(key) {
            Some(p) if p.unit == "hour" => self.fixed(what, count * prices.hours_per_month, p),
            Some(p) => self.unpriced.push(format!(
                "{what}: {key} is priced per {}, not per hour",
                p.unit
            )),
            None => self
                .unpriced
                .push(format!("{what}: no price known for {key}")),
        }
    }

    /// Adds `quantity` of what is priced under `key` (per GB-month, ...).
    pub fn monthly(&mut self, prices: &PriceTable, key: &str, what: &str, quantity: f64) {
        match prices.get(key) {
            Some(p) => self.fixed(what, quantity, p),
            None => self
                .unpriced
                .push(format!("{what}: no price known for {key}")),
        }
    }

    /// Adds the usage price under `key`.
    pub fn usage(&mut self, prices: &PriceTable, key: &str, what: &str) {
        match prices.get(key) {
            Some(p) => self.usage.push(UsagePrice {
                what: what.to_owned(),
                unit: p.unit.clone(),
                unit_price: p.price,
            }),
            None => self
                .unpriced
                .push(format!("{what}: no price known for {key}")),
        }
    }

    /// Says what cannot be priced.
    pub fn unknown(&mut self, why: impl Into<String>) {
        self.unpriced.push(why.into());
    }

    fn fixed(&mut self, what: &str, quantity: f64, p: &Price) {
        self.items.push(Item {
            what: what.to_owned(),
            quantity,
            unit: p.unit.clone(),
            unit_price: p.price,
            monthly: quantity * p.price,
        });
    }

    /// The fixed monthly total.
    pub fn total(&self) -> f64 {
        self.items.iter().map(|i| i.monthly).sum()
    }
}

/// One resource as a cost function sees it, with the others of the same
/// program (or state) to follow its references.
#[derive(Clone, Copy)]
pub struct CostView<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its type.
    pub type_name: &'a str,
    /// Its inputs: as declared (references as references) or as recorded.
    pub inputs: &'a Value,
    /// What the provider reported (recorded resources only).
    pub outputs: Option<&'a Value>,
    all: &'a Resources<'a>,
    prices: &'a PriceTable,
}

impl<'a> CostView<'a> {
    /// The prices in use.
    pub fn prices(&self) -> &'a PriceTable {
        self.prices
    }

    /// The resource an input refers to, read into `R`: for a declared
    /// program, the resource the reference names; for a recorded state,
    /// the resource of type `R` that reported the value as its output
    /// `field`.
    pub fn referenced<R: Resource + DeserializeOwned>(
        &self,
        input: &crate::Input<impl Serialize>,
        field: &str,
    ) -> Option<R> {
        let (type_name, inputs) = match input.as_output() {
            Some(r) => self.all.by_name.get(r.resource.as_str()).copied()?,
            None => {
                let value = serde_json::to_value(input.as_value()?).ok()?;
                self.all.by_output(R::TYPE, field, &value)?
            }
        };
        (type_name == R::TYPE)
            .then(|| crate::policy::typed::read(inputs).ok())
            .flatten()
    }
}

/// The resources a view can follow references to.
struct Resources<'a> {
    by_name: BTreeMap<&'a str, (&'a str, &'a Value)>,
    outputs: Vec<(&'a str, &'a Value, &'a Value)>,
}

impl<'a> Resources<'a> {
    fn by_output(
        &self,
        type_name: &str,
        field: &str,
        value: &serde_json::Value,
    ) -> Option<(&'a str, &'a Value)> {
        self.outputs
            .iter()
            .find(|(t, _, out)| {
                *t == type_name && out.get(field).map(Value::to_plain_json).as_ref() == Some(value)
            })
            .map(|(t, inputs, _)| (*t, *inputs))
    }
}

type CostFn = dyn Fn(&CostView<'_>, &mut Estimate) + Send + Sync;

/// Prices and, per resource type, how to estimate a resource's cost.
#[derive(Clone)]
pub struct CostModel {
    prices: PriceTable,
    costs: BTreeMap<&'static str, Arc<CostFn>>,
}

impl std::fmt::Debug for CostModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CostModel")
            .field("prices", &self.prices)
            .field("types", &self.costs.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl CostModel {
    /// A model with these prices and no cost functions yet.
    pub fn new(prices: PriceTable) -> CostModel {
        CostModel {
            prices,
            costs: BTreeMap::new(),
        }
    }

    /// Estimates resources of type `R` with `cost`, given the resource
    /// read into its struct (references stay references) and its view.
    /// A resource whose inputs cannot be read as `R` is said unpriced.
    pub fn resource<R, F>(mut self, cost: F) -> CostModel
    where
        R: Resource + DeserializeOwned + 'static,
        F: Fn(&R, &CostView<'_>, &mut Estimate) + Send + Sync + 'static,
    {
        let f = move |view: &CostView<'_>, e: &mut Estimate| match crate::policy::typed::read::<R>(
            view.inputs,
        ) {
            Ok(r) => cost(&r, view, e),
            Err(why) => e.unknown(format!("inputs not readable as {}: {why}", R::TYPE)),
        };
        self.costs.insert(R::TYPE, Arc::new(f));
        self
    }

    /// Resources of type `R` cost nothing by themselves (a VPC, a security
    /// group): modelled, so not listed as "no price known".
    pub fn free<R: Resource + 'static>(mut self) -> CostModel {
        self.costs
            .insert(R::TYPE, Arc::new(|_: &CostView<'_>, _: &mut Estimate| {}));
        self
    }

    /// Another model's cost functions added to this one's; its prices go
    /// over these.
    pub fn with(mut self, other: CostModel) -> CostModel {
        self.costs.extend(other.costs);
        self.prices = self.prices.overridden_by(other.prices);
        self
    }

    /// This model with `overrides`' prices over its own.
    pub fn with_prices(mut self, overrides: PriceTable) -> CostModel {
        self.prices = self.prices.overridden_by(overrides);
        self
    }

    /// The prices in use.
    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// The types the model estimates.
    pub fn types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.costs.keys().copied()
    }

    /// The monthly cost of a declared program.
    pub fn of_program(&self, desired: &Desired) -> StackCost {
        let all = Resources {
            by_name: desired
                .nodes
                .iter()
                .map(|n| (&*n.name, (&*n.type_name, &*n.inputs)))
                .collect(),
            outputs: Vec::new(),
        };
        let views = desired.nodes.iter().map(|n| CostView {
            name: &n.name,
            type_name: &n.type_name,
            inputs: &n.inputs,
            outputs: None,
            all: &all,
            prices: &self.prices,
        });
        self.sum(views)
    }

    /// The monthly cost of what a state records.
    pub fn of_state(&self, state: &State) -> StackCost {
        let all = Resources {
            by_name: state
                .resources
                .iter()
                .map(|(name, r)| (name.as_str(), (r.type_name.as_str(), &r.inputs)))
                .collect(),
            outputs: state
                .resources
                .values()
                .map(|r| (r.type_name.as_str(), &r.inputs, &r.outputs))
                .collect(),
        };
        let views = state.resources.iter().map(|(name, r)| CostView {
            name,
            type_name: &r.type_name,
            inputs: &r.inputs,
            outputs: Some(&r.outputs),
            all: &all,
            prices: &self.prices,
        });
        self.sum(views)
    }

    fn sum<'a>(&self, views: impl Iterator<Item = CostView<'a>>) -> StackCost {
        let resources: Vec<ResourceCost> = views
            .map(|view| {
                let mut estimate = Estimate::default();
                let modelled = match self.costs.get(view.type_name) {
                    Some(f) => {
                        f(&view, &mut estimate);
                        true
                    }
                    None => false,
                };
                ResourceCost {
                    name: view.name.to_owned(),
                    type_name: view.type_name.to_owned(),
                    modelled,
                    estimate,
                }
            })
            .collect();
        StackCost::new(resources)
    }

    /// A policy rule: the program's monthly cost (its fixed prices) is at
    /// most `limit`. A violation names the total, the limit and the three
    /// dearest resources; put it in a pack, mandatory to refuse an `up`
    /// over budget.
    pub fn budget_rule(self: &Arc<Self>, info: RuleInfo, limit: f64) -> Rule {
        let model = Arc::clone(self);
        Rule::stack(info, move |stack: &StackView<'_>, out| {
            let cost = model.of_program(stack.desired);
            if cost.monthly > limit {
                let mut dearest: Vec<&ResourceCost> = cost.resources.iter().collect();
                dearest.sort_by(|a, b| b.estimate.total().total_cmp(&a.estimate.total()));
                let top: Vec<String> = dearest
                    .iter()
                    .take(3)
                    .filter(|r| r.estimate.total() > 0.0)
                    .map(|r| format!("{} {:.2}", r.name, r.estimate.total()))
                    .collect();
                // Named on the dearest resource, so the violation carries
                // a line of the program.
                out.flag_resource(
                    dearest.first().map_or("", |r| r.name.as_str()),
                    "",
                    format!(
                        "the monthly cost after this change is {:.2} {cur}, over the budget of {limit:.2} {cur} (dearest: {})",
                        cost.monthly,
                        top.join(", "),
                        cur = model.prices.currency,
                    ),
                );
            }
        })
    }
}

#[cfg(test)]
mod tests;
