//! What `preview` and `up` show and ask: the plan, the policy report and
//! the apply report, the confirmation prompt, and the progress display
//! while applying.

use super::*;

/// Asks whether to `what`, unless `yes`; refuses when nobody can answer.
pub(super) fn confirm(yes: bool, what: &str) -> crate::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "standard input is not a terminal, so nobody can be asked; pass --yes to {what} without asking"
        )));
    }
    out!("\nDo you want to {what}? Only 'yes' is accepted: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    Ok(answer.trim() == "yes")
}

/// How many steps applying `plan` takes (a replacement is two).
fn steps_of(plan: &Plan) -> usize {
    plan.changes
        .iter()
        .map(|c| match c.action {
            Action::Replace => 2,
            Action::NoOp => usize::from(c.before.is_some()),
            _ => 1,
        })
        .sum()
}

pub(super) fn print_preview(p: &Preview, color: bool) {
    for r in &p.pending {
        outln!(
            "Pending {:?} of {} from an interrupted run: {}",
            r.kind,
            r.name,
            r.outcome
        );
    }
    if let Some(drift) = &p.drift {
        if drift.has_drift() {
            out!("{}", drift.render());
        }
    }
    out!("{}", p.plan.render_styled(color));
    if let Some(report) = &p.policy {
        out!("{}", report.render());
    }
}

pub(super) fn print_report(report: &crate::apply::ApplyReport) {
    let done = report.steps.len();
    outln!("Apply complete: {done} step(s) in {:.1?}.", report.elapsed);
    if !report.outputs.is_empty() {
        outln!("Outputs:");
        for (k, v) in &report.outputs {
            outln!("  {k} = {v}");
        }
    }
}

/// The engine with a progress display of applying `plan` (live on a
/// terminal).
pub(super) fn with_progress(engine: Engine, plan: &Plan) -> (Engine, Arc<Progress>) {
    let progress = Arc::new(Progress::new(
        steps_of(plan),
        std::io::stderr().is_terminal(),
    ));
    (engine.observer(progress.clone()), progress)
}

/// `up`: previews, asks, applies with progress.
pub(super) async fn up_command<F>(
    engine: Engine,
    program: &Arc<F>,
    yes: bool,
    no_refresh: bool,
    color: bool,
) -> crate::Result<u8>
where
    F: Fn(&mut Stack) -> crate::Result<()> + Send + Sync + 'static,
{
    let prog = || {
        let p = program.clone();
        move |s: &mut Stack| p(s)
    };
    let preview = engine.preview_for("up", prog(), !no_refresh).await?;
    print_preview(&preview, color);
    if let Some(refusal) = preview.policy.as_ref().and_then(|p| p.refusal()) {
        return Err(refusal);
    }
    if !preview.has_work() {
        return Ok(0);
    }
    engine.check_secrets_writable(Some(&preview.plan)).await?;
    if !confirm(yes, "apply these changes")? {
        outln!("Apply cancelled.");
        return Ok(1);
    }
    let (engine, progress) = with_progress(engine, &preview.plan);
    let report = engine.up_previewed(prog(), &preview).await;
    progress.finish();
    print_report(&report?);
    Ok(0)
}
