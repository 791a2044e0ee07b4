//! Printing a [`Plan`]: the normalized `--format actions` form (three sorted sections that
//! diff line for line against crm_simulate's decisions) and a crm_simulate-like summary.
use std::fmt::Write;

use crate::{Action, ActionKind, Plan};

fn action_line(a: &Action) -> String {
    match a.kind {
        ActionKind::Start => format!("start {} on {}", a.rsc, a.node),
        ActionKind::Stop => format!("stop {} on {}", a.rsc, a.node),
        ActionKind::Promote => format!("promote {} on {}", a.rsc, a.node),
        ActionKind::Demote => format!("demote {} on {}", a.rsc, a.node),
        ActionKind::Migrate => format!(
            "migrate {} from {} to {}",
            a.rsc,
            a.from.as_deref().unwrap_or("?"),
            a.node
        ),
        ActionKind::Fence => format!("fence {} ({})", a.rsc, a.node),
    }
}

/// The `--format actions` text: `== actions`, `== blocked`, `== placement`, each sorted.
pub fn actions(plan: &Plan) -> String {
    let mut out = String::new();
    let mut lines: Vec<String> = plan.actions.iter().map(action_line).collect();
    lines.sort();
    out.push_str("== actions\n");
    for l in &lines {
        out.push_str(l);
        out.push('\n');
    }
    let mut blocked: Vec<String> = plan
        .blocked
        .iter()
        .map(action_line)
        .filter(|l| !lines.contains(l))
        .collect();
    blocked.sort();
    blocked.dedup();
    out.push_str("== blocked\n");
    for l in &blocked {
        out.push_str(l);
        out.push('\n');
    }
    out.push_str("== placement\n");
    let mut place: Vec<String> = plan
        .placement
        .iter()
        .map(|p| {
            format!(
                "{}: {} ({}{})",
                p.rsc,
                if p.nodes.is_empty() {
                    "-".to_owned()
                } else {
                    p.nodes.join(",")
                },
                p.role,
                if p.managed { "" } else { " unmanaged" }
            )
        })
        .collect();
    place.sort();
    for l in &place {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// A crm_simulate-like transition summary: one line per resource change, then fencing.
pub fn summary(plan: &Plan) -> String {
    let mut out = String::from("Transition Summary:\n");
    for a in plan.actions.iter().filter(|a| a.kind == ActionKind::Fence) {
        let _ = writeln!(out, "  * Fence ({}) {} '{}'", a.node, a.rsc, a.reason);
    }
    for a in plan.actions.iter().filter(|a| a.kind != ActionKind::Fence) {
        let verb = match a.kind {
            ActionKind::Start => "Start",
            ActionKind::Stop => "Stop",
            ActionKind::Promote => "Promote",
            ActionKind::Demote => "Demote",
            ActionKind::Migrate => "Migrate",
            ActionKind::Fence => "Fence",
        };
        match &a.from {
            Some(from) => {
                let _ = writeln!(
                    out,
                    "  * {verb:<10} {:<20} ( {} -> {} )",
                    a.rsc, from, a.node
                );
            }
            None => {
                let _ = writeln!(out, "  * {verb:<10} {:<20} ( {} )", a.rsc, a.node);
            }
        }
    }
    for a in &plan.blocked {
        let _ = writeln!(
            out,
            "  * {:<10} {:<20} ( {} )  due to {} (blocked)",
            format!("{:?}", a.kind),
            a.rsc,
            a.node,
            a.blocked.as_deref().unwrap_or("")
        );
    }
    if !plan.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for n in &plan.notes {
            let _ = writeln!(out, "  * {n}");
        }
    }
    out.push_str("\nRevised Cluster Status:\n");
    for p in &plan.placement {
        let _ = writeln!(
            out,
            "  * {}\t({}):\t {}",
            p.rsc,
            if p.nodes.is_empty() {
                "-".to_owned()
            } else {
                p.nodes.join(",")
            },
            p.role
        );
    }
    out
}
