//! Printing a [`Plan`]: the normalized `--format actions` form (three sorted sections that
//! diff line for line against crm_simulate's decisions) and a crm_simulate-like summary.
use std::fmt::Write;

use cib::meta::base_id as strip_instance;

use crate::{Action, ActionKind, Plan};

fn action_line(a: &Action) -> String {
    match a.kind {
        ActionKind::Migrate => format!(
            "migrate {} from {} to {}",
            a.rsc,
            a.from.as_deref().unwrap_or("?"),
            a.node
        ),
        ActionKind::Fence => format!("fence {} ({})", a.rsc, a.node),
        k => format!("{} {} on {}", k.name(), a.rsc, a.node),
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

/// `Start`, `Stop`, ... as crm_simulate's summary writes them.
fn capitalized(k: ActionKind) -> String {
    let n = k.name();
    n[..1].to_ascii_uppercase() + &n[1..]
}

/// A crm_simulate-like transition summary: one line per resource change, then fencing.
pub fn summary(plan: &Plan) -> String {
    let mut out = String::from("Transition Summary:\n");
    for a in plan.actions.iter().filter(|a| a.kind == ActionKind::Fence) {
        let _ = writeln!(out, "  * Fence ({}) {} '{}'", a.node, a.rsc, a.reason);
    }
    for a in plan.actions.iter().filter(|a| a.kind != ActionKind::Fence) {
        let verb = capitalized(a.kind);
        match &a.from {
            Some(from) => {
                let _ = writeln!(
                    out,
                    "  * {verb:<10} {:<20} ( {} -> {} )  {}",
                    a.rsc, from, a.node, a.reason
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  * {verb:<10} {:<20} ( {} )  {}",
                    a.rsc, a.node, a.reason
                );
            }
        }
    }
    for a in &plan.blocked {
        let _ = writeln!(
            out,
            "  * {:<10} {:<20} ( {} )  due to {} (blocked)",
            capitalized(a.kind),
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

/// `--explain RSC`: in plain words, why `rsc` ends where it ends — its placement and actions,
/// then every contribution to its scores, node by node, in the order they were applied.
/// `None` when the plan knows no resource by that name.
pub fn explain(plan: &Plan, rsc: &str) -> Option<String> {
    let parent_of = |id: &str| -> Option<&str> {
        plan.parents
            .iter()
            .find(|(c, _)| c == id)
            .map(|(_, p)| p.as_str())
    };
    let ancestors = |id: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = parent_of(id);
        while let Some(p) = cur {
            out.push(p.to_owned());
            cur = parent_of(p);
        }
        out
    };
    // The resource itself, its instances and members, and everything above them.
    let mut related: Vec<String> = Vec::new();
    let mut mine: Vec<String> = Vec::new();
    let ids = plan
        .explanations
        .iter()
        .map(|e| e.rsc.as_str())
        .chain(plan.parents.iter().map(|(c, _)| c.as_str()))
        .chain(plan.placement.iter().map(|p| p.rsc.as_str()));
    for id in ids {
        let below =
            id == rsc || strip_instance(id) == rsc || ancestors(id).iter().any(|a| a == rsc);
        if below && !mine.iter().any(|m| m == id) {
            mine.push(id.to_owned());
        }
    }
    if mine.is_empty() {
        return None;
    }
    for m in &mine {
        for x in std::iter::once(m.clone()).chain(ancestors(m)) {
            if !related.contains(&x) {
                related.push(x);
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "{rsc} after the plan:");
    for p in plan.placement.iter().filter(|p| {
        mine.iter()
            .any(|m| m == &p.rsc || strip_instance(m) == p.rsc)
    }) {
        let where_ = if p.nodes.is_empty() {
            "stopped".to_owned()
        } else {
            format!("on {}", p.nodes.join(", "))
        };
        let _ = writeln!(
            out,
            "  {} {where_} ({}{})",
            p.rsc,
            p.role,
            if p.managed { "" } else { ", unmanaged" }
        );
    }
    let acts: Vec<String> = plan
        .actions
        .iter()
        .chain(plan.blocked.iter())
        .filter(|a| {
            a.kind != ActionKind::Fence
                && mine
                    .iter()
                    .any(|m| m == &a.rsc || strip_instance(m) == a.rsc)
        })
        .map(|a| {
            let mut l = action_line(a);
            if let Some(b) = &a.blocked {
                l.push_str(&format!(" (blocked: {b})"));
            }
            l
        })
        .collect();
    if acts.is_empty() {
        out.push_str("  no actions\n");
    } else {
        out.push_str("Actions:\n");
        for a in acts {
            let _ = writeln!(out, "  {a}");
        }
    }
    out.push_str(
        "Why, node by node (each contribution in the order applied; the highest total wins, \
         -INFINITY bans the node):\n",
    );
    let mut nodes: Vec<&str> = plan
        .scores
        .iter()
        .filter(|s| mine.contains(&s.rsc))
        .map(|s| s.node.as_str())
        .collect();
    nodes.sort();
    nodes.dedup();
    for node in nodes {
        let totals: Vec<String> = plan
            .scores
            .iter()
            .filter(|s| s.node == node && mine.contains(&s.rsc))
            .map(|s| format!("{} {}", s.rsc, crate::ScoreFmt(s.score)))
            .collect();
        let _ = writeln!(out, "  {node}: {}", totals.join(", "));
        if let Some((_, why)) = plan.unavailable.iter().find(|(n, _)| n == node) {
            let _ = writeln!(
                out,
                "    {:>10}  the node cannot run resources: {why}",
                "-INFINITY"
            );
        }
        let mut any = false;
        for e in plan
            .explanations
            .iter()
            .filter(|e| e.node == node && related.contains(&e.rsc))
        {
            any = true;
            let d = if e.delta.abs() >= 1_000_000 {
                crate::ScoreFmt(e.delta).to_string()
            } else {
                format!("{:+}", e.delta)
            };
            let on = if e.rsc == rsc {
                String::new()
            } else {
                format!(" [on {}]", e.rsc)
            };
            let _ = writeln!(out, "    {d:>10}  {}{on}", e.reason);
        }
        if !any {
            out.push_str("             0  nothing for or against this node\n");
        }
    }
    Some(out)
}

/// The plan's actions, clone notifications (blue ellipses) and their ordering as a
/// Graphviz `dot` graph (`--dot FILE`).
pub fn dot(plan: &Plan) -> String {
    let mut out =
        String::from("digraph transition {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n");
    for (i, a) in plan.actions.iter().enumerate() {
        let color = match a.kind {
            ActionKind::Fence => "red",
            ActionKind::Stop | ActionKind::Demote => "orange",
            _ => "darkgreen",
        };
        let _ = writeln!(
            out,
            "  a{i} [label=\"{}\", color={color}];",
            action_line(a).replace('"', "'")
        );
    }
    for (i, a) in plan.blocked.iter().enumerate() {
        let _ = writeln!(
            out,
            "  b{i} [label=\"{} (blocked: {})\", style=dashed, color=gray];",
            action_line(a).replace('"', "'"),
            a.blocked.as_deref().unwrap_or("").replace('"', "'")
        );
    }
    for (i, n) in plan.notifications.iter().enumerate() {
        let stage = match n.stage {
            crate::NotifyStage::Pre => "pre",
            crate::NotifyStage::Post => "post",
        };
        let _ = writeln!(
            out,
            "  n{i} [label=\"notify {} on {} ({stage}-{})\", shape=ellipse, color=blue];",
            n.rsc.replace('"', "'"),
            n.node.replace('"', "'"),
            n.operation
        );
    }
    for (a, b) in &plan.edges {
        let _ = writeln!(out, "  a{a} -> a{b};");
    }
    let step = |s: &crate::Step| match *s {
        crate::Step::Action(i) => format!("a{i}"),
        crate::Step::Notify(i) => format!("n{i}"),
    };
    for (a, b) in &plan.notify_edges {
        let _ = writeln!(out, "  {} -> {};", step(a), step(b));
    }
    out.push_str("}\n");
    out
}
