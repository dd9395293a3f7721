//! Deployment strategies for dafnck: blue-green, canary and rolling
//! updates, with health checks, metric gates and automatic rollback.
