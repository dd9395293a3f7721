//! The `azure_web` example as a user runs it, against the project's ARM
//! fake (served over HTTP by the test): up (group, network, NSG, load
//! balancer, a Rolling scale set of 2 in its pool, autoscale) → preview
//! shows no changes → a new image version is rolled out (every machine on
//! the new model, the rolling upgrade `Completed`) → a tag added by hand
//! is reported by `drift` → destroy leaves nothing on the fake.
#![cfg(feature = "azure")]

mod support;

use std::path::Path;
use std::process::Command;

const SUB: &str = "00000000-0000-0000-0000-0000000a2e0b";

/// A finished run of the example.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, url: &str, args: &[&str], config: &[&str]) -> Run {
    let mut cmd = Command::new(support::example("azure_web"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("DAFNCK_STACK")
        .env_remove("DAFNCK_STATE_DIR")
        .env("DAFNCK_ARM_URL", url)
        .env("DAFNCK_AZURE_SUBSCRIPTION", SUB);
    for c in config {
        cmd.args(["--config", c]);
    }
    let out = cmd.output().expect("run the azure_web example");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[track_caller]
fn expect(r: &Run, code: i32) {
    assert_eq!(r.code, code, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

/// The scale set's machines: (instance id, model) and the set's model.
fn machines(arm: &dafnck_arm_fake::Arm) -> (Vec<(u32, u64)>, u64, Option<&'static str>) {
    let state = arm.lock();
    let set = state
        .resources
        .values()
        .find_map(|r| r.scale_set.as_ref())
        .expect("a scale set on the fake");
    (
        set.instances.iter().map(|i| (i.id, i.model)).collect(),
        set.model,
        set.rolling.as_ref().map(|r| r.code),
    )
}

#[test]
fn the_web_tier_comes_up_rolls_out_a_new_image_reports_drift_and_is_destroyed() {
    let fake = dafnck_arm_fake::spawn().expect("the ARM fake starts");
    let url = fake.url();
    let arm = fake.arm();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();

    expect(&run(dir, &url, &["up", "--yes"], &[]), 0);
    let (first, model, _) = machines(arm);
    assert_eq!(first.len(), 2, "capacity 2");
    assert!(first.iter().all(|(_, m)| *m == model));
    {
        let state = arm.lock();
        let types: std::collections::BTreeSet<&str> = state
            .resources
            .values()
            .filter_map(|r| r.body["type"].as_str())
            .collect();
        for t in [
            "Microsoft.Resources/resourceGroups",
            "Microsoft.Network/virtualNetworks",
            "Microsoft.Network/networkSecurityGroups",
            "Microsoft.Network/publicIPAddresses",
            "Microsoft.Network/loadBalancers",
            "Microsoft.Compute/virtualMachineScaleSets",
            "Microsoft.Insights/autoscalesettings",
        ] {
            assert!(
                types.iter().any(|found| found.eq_ignore_ascii_case(t)),
                "{t} in {types:?}"
            );
        }
    }
    let outputs = run(dir, &url, &["outputs"], &[]);
    expect(&outputs, 0);
    assert!(
        outputs.stdout.contains("virtualMachineScaleSets/web"),
        "{}",
        outputs.stdout
    );

    // Nothing changed: nothing to do.
    let preview = run(dir, &url, &["preview"], &[]);
    expect(&preview, 0);
    assert!(preview.stdout.contains("No changes"), "{}", preview.stdout);

    // A new image: the model changes, ARM rolls it out in batches of one
    // (50% of 2), and `up` returns once every machine runs it.
    let v2 = ["image_version=24.04.202411030"];
    let preview = run(dir, &url, &["preview"], &v2);
    expect(&preview, 0);
    assert!(preview.stdout.contains("web"), "{}", preview.stdout);
    expect(&run(dir, &url, &["up", "--yes"], &v2), 0);
    let (second, new_model, rolling) = machines(arm);
    assert!(new_model > model, "a new model");
    assert_eq!(rolling, Some("Completed"));
    assert_eq!(second.len(), 2);
    assert!(
        second.iter().all(|(_, m)| *m == new_model),
        "{second:?} on {new_model}"
    );

    // Someone tags the NSG by hand: drift (exit code 2) names it.
    {
        let mut state = arm.lock();
        let nsg = state
            .resources
            .values_mut()
            .find(|r| {
                r.id.to_ascii_lowercase()
                    .ends_with("/networksecuritygroups/web-nsg")
            })
            .expect("the NSG");
        nsg.body["tags"]["changed"] = serde_json::json!("by-hand");
    }
    let drift = run(dir, &url, &["drift"], &v2);
    expect(&drift, 2);
    assert!(drift.stdout.contains("web-nsg"), "{}", drift.stdout);

    expect(&run(dir, &url, &["destroy", "--yes"], &v2), 0);
    let left: Vec<String> = arm
        .lock()
        .resources
        .values()
        .map(|r| r.id.clone())
        .collect();
    assert!(left.is_empty(), "left on the fake: {left:?}");
}
