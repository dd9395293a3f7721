//! The kubernetes provider against an API server: the project's own
//! (dafnck-kube-fake), started in process for each test, or the cluster of
//! the kubeconfig `DAFNCK_KUBECONFIG` names (context `DAFNCK_KUBE_CONTEXT`,
//! else its current one) when that is set: `scripts/test.sh` sets it to
//! the fake it starts with `scripts/servers/kube.sh`, and a kind cluster
//! works the same (see `docs/kubernetes.md`). Every test works in
//! namespaces of its own, so they run side by side on one cluster.
#![cfg(feature = "kubernetes")]

mod conformance;
mod connection;
mod manifest;
mod rollout;
mod ssa;
mod stack;
mod support;
