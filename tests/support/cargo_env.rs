// Which variables of a test's environment cargo set for the test itself.
// A cargo run from a test (an example's build, a generated program's)
// must not inherit them: they describe this package, not the build, and
// a build script that reruns when one changes (ring's watches
// `CARGO_MANIFEST_DIR` and `CARGO_PKG_NAME`) would run again with them,
// which dirties everything above it (rustls, every AWS SDK) in the shared
// target directory; the outer run then rebuilds them in turn. A module of
// `support/mod.rs`, and pasted into `support/outer_cargo.rs` with
// `include!` (a test crate may hold both: one file loaded as two modules
// is refused by clippy).

/// Whether cargo sets `key` for the test process it runs (the variables
/// cargo sets for crates: `CARGO_PKG_*`, `CARGO_MANIFEST_DIR`, ..), as
/// opposed to one set where `cargo test` itself ran.
pub fn set_for_the_test(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || matches!(
            key,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "OUT_DIR"
        )
}

/// `command` without the variables [`set_for_the_test`] names.
pub fn without_test_vars(command: &mut std::process::Command) -> &mut std::process::Command {
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(set_for_the_test) {
            command.env_remove(key);
        }
    }
    command
}
