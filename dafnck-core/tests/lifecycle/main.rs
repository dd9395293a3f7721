//! Lifecycle tests: the specification of the engine, one module per
//! behaviour, each running the engine against the scripted fake cloud.
//!
//! One test binary keeps link time low.

mod common;

mod aliases;
mod batched_reads;
mod components;
mod computed;
mod config;
mod create;
mod data_sources;
mod delete_before_replace;
mod delete_ordering;
mod deploy;
mod drift;
mod failure_isolation;
mod generate;
mod history;
mod ignore_changes;
mod import;
mod import_command;
mod learned_timings;
mod lock_contention;
mod parallelism;
mod pending_operations;
mod program_errors;
mod protect;
mod provider_instances;
mod recorded_reads;
mod replace;
mod replace_conflict;
mod replace_on_changes;
mod saved_plan;
mod secrets;
mod secrets_at_rest;
mod stack_references;
mod unknowns;
mod update;
