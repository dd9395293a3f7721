//! `Microsoft.Insights` types through ARM REST (api-version 2022-10-01;
//! `azure_mgmt_monitor` 0.21 has autoscale settings only in a preview
//! package): [`AutoscaleSetting`].

mod autoscale;

pub use autoscale::*;

use dafnck_core::provider::kit::Kit;

use super::tracked::Handler;
use super::Azure;

pub(super) fn register(kit: Kit<Azure>) -> Kit<Azure> {
    kit.with(Handler::<AutoscaleSetting>::new())
}
