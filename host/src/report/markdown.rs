//! Markdown for pull-request comments: a verdict first, then tables, and never longer than a
//! comment allows (GitHub takes 65,536 characters): long tables stop with a count of the rest.

use std::io::Write;

use crate::drift::{DriftReport, StateRef};
use crate::escape::{markdown as md, markdown_code as code};
use crate::gate::{Finding, GateReport};
use crate::store::SnapshotRole;

/// About what a pull-request comment holds, with room to spare.
pub const COMMENT_BUDGET: usize = 60_000;

/// "baseline 'prod' (snapshot 1, taken ...)" or "snapshot 3 (taken ...)".
pub fn state_name(s: &StateRef) -> String {
    let what = match (&s.baseline, s.role) {
        (Some(name), SnapshotRole::Desired) => format!("baseline '{name}' (desired state)"),
        (Some(name), SnapshotRole::Observed) => {
            format!("baseline '{name}' (snapshot {})", s.snapshot)
        }
        (None, SnapshotRole::Desired) => format!("desired state {}", s.snapshot),
        (None, SnapshotRole::Observed) => format!("snapshot {}", s.snapshot),
    };
    if s.role == SnapshotRole::Observed {
        format!("{what}, taken {}", s.taken_at)
    } else {
        what
    }
}

pub fn drift_summary(report: &DriftReport) -> String {
    let c = &report.counts;
    let mut line = format!(
        "{} compared: {} added, {} removed, {} modified, {} unchanged",
        count(c.compared, "resource"),
        c.added,
        c.removed,
        c.modified,
        c.unchanged
    );
    if c.ignored_only > 0 {
        line.push_str(&format!(
            " ({} changed only in ignored fields)",
            c.ignored_only
        ));
    }
    line
}

/// Markdown, sized for a pull-request comment: the field tables stop after a budget, with a
/// note of what was left out.
pub fn drift_markdown(report: &DriftReport, w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        w,
        "### Drift from {} to {}\n",
        md(&state_name(&report.before)),
        md(&state_name(&report.after))
    )?;
    writeln!(w, "{}\n", drift_summary(report))?;
    write_markdown_resources(report, w, COMMENT_BUDGET)
}

/// The drifted resources as markdown, within about `budget` bytes.
pub fn write_markdown_resources(
    report: &DriftReport,
    w: &mut dyn Write,
    budget: usize,
) -> std::io::Result<()> {
    if report.resources.is_empty() {
        return Ok(());
    }
    let mut written = 0usize;
    writeln!(w, "| | resource | account | region | changed fields |")?;
    writeln!(w, "|---|---|---|---|---|")?;
    for (i, r) in report.resources.iter().enumerate() {
        let mut fields = r
            .changes
            .iter()
            .take(5)
            .map(|c| code(&c.pointer))
            .collect::<Vec<_>>()
            .join(", ");
        if r.changes.len() > 5 {
            fields.push_str(&format!(" and {} more", r.changes.len() - 5));
        }
        let line = format!(
            "| {} | {} | {} | {} | {} |\n",
            r.kind.as_str(),
            resource_code(&r.resource),
            md(&r.resource.account_id),
            md(&r.resource.region),
            fields
        );
        if written + line.len() > budget {
            writeln!(
                w,
                "\n_…and {} more drifted resources; run `conform drift` for all._",
                report.resources.len() - i
            )?;
            return Ok(());
        }
        written += line.len();
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// `TYPE/ID` as a code span for a table cell: ids come from inputs and may hold anything.
fn resource_code(key: &crate::model::ResourceKey) -> String {
    code(&format!("{}/{}", key.resource_type, key.resource_id))
}

fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The gate's verdict as a pull-request comment.
pub fn gate_markdown(report: &GateReport, w: &mut dyn Write) -> std::io::Result<()> {
    let c = &report.counts;
    let fail_on = crate::gate::fail_on_names(&report.fail_on);
    if report.passed {
        writeln!(w, "### ✅ conform gate passed\n")?;
    } else {
        writeln!(
            w,
            "### ❌ conform gate failed: {} fail it\n",
            count(c.failing, "finding")
        )?;
    }
    write!(w, "{}", md(&state_name(&report.snapshot)))?;
    if let Some(b) = &report.baseline {
        write!(w, ", against {}", md(&state_name(b)))?;
    }
    writeln!(w, ". Fails on: {}.\n", fail_on)?;
    writeln!(w, "| | findings | new | failing | waived |")?;
    writeln!(w, "|---|---:|---:|---:|---:|")?;
    for (label, kind) in [
        ("non-compliant", crate::gate::FindingKind::Noncompliant),
        ("rule errors", crate::gate::FindingKind::Error),
        ("drifted resources", crate::gate::FindingKind::Drift),
    ] {
        let of: Vec<&Finding> = report.findings.iter().filter(|f| f.kind == kind).collect();
        writeln!(
            w,
            "| {label} | {} | {} | {} | {} |",
            of.len(),
            of.iter().filter(|f| f.new).count(),
            of.iter().filter(|f| f.fails).count(),
            of.iter().filter(|f| f.is_waived()).count()
        )?;
    }
    writeln!(w)?;
    let mut budget = COMMENT_BUDGET;
    let failing: Vec<&Finding> = report.findings.iter().filter(|f| f.fails).collect();
    if !failing.is_empty() {
        writeln!(w, "#### Failing\n")?;
        findings_table(&failing, w, &mut budget)?;
    }
    let waived: Vec<&Finding> = report.findings.iter().filter(|f| f.is_waived()).collect();
    if !waived.is_empty() {
        writeln!(w, "\n#### Waived\n")?;
        writeln!(w, "| rule | resource | justification | expires |")?;
        writeln!(w, "|---|---|---|---|")?;
        for f in &waived {
            let wv = f.waiver.as_ref().expect("waived");
            let line = format!(
                "| {} | {} | {} | {} |\n",
                f.rule_id, // a rule id is letters, digits and `_-.:` (the manifest checks it)
                resource_code(&f.resource),
                md(&wv.justification),
                md(wv.expires.as_deref().unwrap_or("never"))
            );
            if line.len() > budget {
                writeln!(w, "\n_…and more; see the full report._")?;
                break;
            }
            budget -= line.len();
            w.write_all(line.as_bytes())?;
        }
    }
    let expired: Vec<_> = report.waivers.iter().filter(|s| s.expired).collect();
    if !expired.is_empty() {
        writeln!(w, "\n#### Expired waivers (they no longer waive)\n")?;
        for s in expired {
            writeln!(
                w,
                "- waiver {} ({} on {}), expired {}: {}",
                s.waiver.number,
                md(&s.waiver.rule),
                md(&s.waiver.resource),
                md(s.waiver.expires.as_deref().unwrap_or("?")),
                md(&s.waiver.justification)
            )?;
        }
    }
    let other: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| !f.fails && !f.is_waived())
        .collect();
    if !other.is_empty() && budget > 1_000 {
        writeln!(
            w,
            "\n<details><summary>Not failing the gate ({})</summary>\n",
            other.len()
        )?;
        findings_table(&other, w, &mut budget)?;
        writeln!(w, "\n</details>")?;
    }
    Ok(())
}

fn findings_table(
    findings: &[&Finding],
    w: &mut dyn Write,
    budget: &mut usize,
) -> std::io::Result<()> {
    writeln!(
        w,
        "| rule | severity | resource | account | region | finding |"
    )?;
    writeln!(w, "|---|---|---|---|---|---|")?;
    for (i, f) in findings.iter().enumerate() {
        let severity = serde_json::to_value(f.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        // Cut before escaping, so an escape is never cut in half.
        let mut message = if f.message.chars().count() > 200 {
            md(&f.message.chars().take(199).collect::<String>()) + "…"
        } else {
            md(&f.message)
        };
        if f.new && f.kind != crate::gate::FindingKind::Drift {
            message.push_str(" **(new)**");
        }
        let line = format!(
            "| {} | {severity} | {} | {} | {} | {message} |\n",
            f.rule_id, // a rule id is letters, digits and `_-.:` (the manifest checks it)
            resource_code(&f.resource),
            md(&f.resource.account_id),
            md(&f.resource.region)
        );
        if line.len() > *budget {
            writeln!(
                w,
                "\n_…and {} more; run `conform gate` or see the SARIF report for all._",
                findings.len() - i
            )?;
            *budget = 0;
            return Ok(());
        }
        *budget -= line.len();
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}
