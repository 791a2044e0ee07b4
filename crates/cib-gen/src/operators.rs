//! The `operators` mix: random clusters shaped like the ones operators write, beyond the
//! classic mix's fixed choices. Per cluster: a placement strategy among `default`,
//! `utilization`, `minimal` and `balanced`; zero, one or two lost nodes (a minority, or
//! one of two as with `two_node`: quorum is kept). Per clone: `interleave` on or off, `clone-max` absent or from 1
//! to the node count, `notify` on or off. Per primitive: stickiness, `migration-threshold`
//! and `failure-timeout`, and now and then a failed recurring monitor in its history (with
//! its fail count and last-failure time, expired or not at [`NOW`]). Constraints: locations
//! (plain and rule-based), colocations (with and without roles), mandatory and optional
//! orders, and ordering and colocation sets.
use std::fmt::Write;

use crate::{Config, Rng};

/// The "now" the histories are written against (the failure times and failure timeouts
/// only mean something relative to it): give it to the scheduler (`crm-lite simulate --now`,
/// `crm_simulate -t 2023-11-14T22:13:20Z`).
pub const NOW: u64 = 1_700_000_000;

/// One top-level resource as generated.
#[derive(Debug)]
enum Top {
    Primitive(String),
    Group(String, Vec<String>),
    /// id, child, clone-max (None: one per node).
    Clone(String, String, Option<usize>),
    Promotable(String, String, Option<usize>),
}

impl Top {
    fn id(&self) -> &str {
        match self {
            Top::Primitive(id)
            | Top::Group(id, _)
            | Top::Clone(id, _, _)
            | Top::Promotable(id, _, _) => id,
        }
    }

    fn is_clone(&self) -> bool {
        matches!(self, Top::Clone(..) | Top::Promotable(..))
    }
}

fn primitive(out: &mut String, rng: &mut Rng, id: &str, indent: &str, stateful: bool) {
    let (provider, agent) = if stateful {
        ("pacemaker", "Stateful")
    } else {
        ("heartbeat", "Dummy")
    };
    let _ = writeln!(
        out,
        "{indent}<primitive id=\"{id}\" class=\"ocf\" provider=\"{provider}\" type=\"{agent}\">\n\
         {indent}  <operations>"
    );
    if stateful {
        let _ = writeln!(
            out,
            "{indent}    <op id=\"{id}-monitor-p\" name=\"monitor\" interval=\"10s\" timeout=\"20s\" role=\"Promoted\"/>\n\
             {indent}    <op id=\"{id}-monitor-u\" name=\"monitor\" interval=\"11s\" timeout=\"20s\" role=\"Unpromoted\"/>"
        );
    } else {
        let _ = writeln!(
            out,
            "{indent}    <op id=\"{id}-monitor\" name=\"monitor\" interval=\"10s\" timeout=\"20s\"/>"
        );
    }
    let _ = writeln!(out, "{indent}  </operations>");
    let mut meta = Vec::new();
    if rng.chance(30) {
        meta.push(("resource-stickiness", rng.below(200).to_string()));
    }
    if rng.chance(30) {
        meta.push(("migration-threshold", (1 + rng.below(3)).to_string()));
    }
    if rng.chance(30) {
        // 60 s, 300 s or 1200 s: the failures below are 30 s, 400 s or 4000 s old.
        meta.push((
            "failure-timeout",
            ["60s", "5min", "20min"][rng.below(3)].to_owned(),
        ));
    }
    if !meta.is_empty() {
        let _ = writeln!(out, "{indent}  <meta_attributes id=\"{id}-meta\">");
        for (name, value) in meta {
            let _ = writeln!(
                out,
                "{indent}    <nvpair id=\"{id}-{name}\" name=\"{name}\" value=\"{value}\"/>"
            );
        }
        let _ = writeln!(out, "{indent}  </meta_attributes>");
    }
    let _ = writeln!(
        out,
        "{indent}  <utilization id=\"{id}-utilization\">\n\
         {indent}    <nvpair id=\"{id}-cpu\" name=\"cpu\" value=\"{}\"/>\n\
         {indent}    <nvpair id=\"{id}-memory\" name=\"memory\" value=\"{}\"/>\n\
         {indent}  </utilization>\n{indent}</primitive>",
        1 + rng.below(2),
        64 * (1 + rng.below(8))
    );
}

/// `clone-max`: absent (one instance per node) or 1..=nodes.
fn clone_max(rng: &mut Rng, nodes: usize, absent_pct: u64) -> Option<usize> {
    if rng.chance(absent_pct) {
        None
    } else {
        Some(1 + rng.below(nodes))
    }
}

fn clone_meta(out: &mut String, cid: &str, pairs: &[(&str, String)]) {
    let _ = writeln!(
        out,
        "      <clone id=\"{cid}\">\n        <meta_attributes id=\"{cid}-meta\">"
    );
    for (name, value) in pairs {
        let _ = writeln!(
            out,
            "          <nvpair id=\"{cid}-{name}\" name=\"{name}\" value=\"{value}\"/>"
        );
    }
    let _ = writeln!(out, "        </meta_attributes>");
}

/// `count` distinct nodes out of `nodes`, in random order.
fn pick(rng: &mut Rng, nodes: usize, count: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..nodes).collect();
    for i in 0..all.len() {
        let j = i + rng.below(all.len() - i);
        all.swap(i, j);
    }
    all.truncate(count.min(nodes));
    all
}

/// One operation of a history: (operation, interval ms, rc, last-rc-change).
type OpRec = (&'static str, u64, i32, u64);

/// What runs on one node: resource id, agent, its history.
type Running = (String, &'static str, Vec<OpRec>);

fn history(out: &mut String, rsc: &str, agent: &str, call: &mut u64, ops: &[OpRec]) {
    let (provider, ty) = if agent == "Stateful" {
        ("pacemaker", "Stateful")
    } else {
        ("heartbeat", "Dummy")
    };
    let _ = writeln!(
        out,
        "          <lrm_resource id=\"{rsc}\" class=\"ocf\" provider=\"{provider}\" type=\"{ty}\">"
    );
    for &(name, interval, rc, changed) in ops {
        *call += 1;
        let id = if rc != 0 && rc != 7 && !(rc == 8 && name == "monitor") {
            format!("{rsc}_last_failure_0")
        } else if interval == 0 {
            format!("{rsc}_last_0")
        } else {
            format!("{rsc}_{name}_{interval}")
        };
        // Pacemaker's digest of an operation on a resource without parameters (MD5 of
        // " <parameters/>\n"): with it, crm_simulate sees no definition change.
        let digest = if interval == 0 {
            " op-digest=\"f2317cad3d54cec5d7d7aa7d0bf35cf8\""
        } else {
            ""
        };
        let expected = if name == "monitor" && interval > 0 && agent == "Stateful" {
            if interval == 10_000 { 8 } else { 0 }
        } else {
            0
        };
        let _ = writeln!(
            out,
            "            <lrm_rsc_op id=\"{id}\" operation_key=\"{rsc}_{name}_{interval}\" operation=\"{name}\" \
             transition-key=\"{call}:1:{expected}:00000000-0000-0000-0000-000000000000\" \
             transition-magic=\"0:{rc};{call}:1:{expected}:00000000-0000-0000-0000-000000000000\" \
             call-id=\"{call}\" rc-code=\"{rc}\" op-status=\"0\" interval=\"{interval}\" \
             last-rc-change=\"{changed}\" exec-time=\"10\" queue-time=\"0\"{digest}/>"
        );
    }
    let _ = writeln!(out, "          </lrm_resource>");
}

/// Generate the `operators` mix for `cfg`.
pub(crate) fn generate(cfg: &Config) -> String {
    let nodes = cfg.nodes.max(2);
    let mut rng = Rng(cfg.seed ^ 0x0be7_a705);
    let strategy = ["default", "utilization", "minimal", "balanced"][rng.below(4)];
    let lost: Vec<usize> = if cfg.status {
        let n = match rng.below(10) {
            0..=2 => 0,
            3..=7 => 1,
            _ => 2,
        };
        // Quorum is kept: at most a minority is lost (one of two, as `two_node` allows).
        let most = if nodes == 2 { 1 } else { (nodes - 1) / 2 };
        pick(&mut rng, nodes, n.min(most))
    } else {
        Vec::new()
    };
    let stickiness = [0, 1, 100][rng.below(3)];
    let mut out = String::with_capacity(cfg.resources * 2_000 + nodes * 1_000);
    let _ = writeln!(
        out,
        "<cib admin_epoch=\"0\" epoch=\"1\" num_updates=\"0\" validate-with=\"pacemaker-3.7\" \
         crm_feature_set=\"3.16.1\" have-quorum=\"1\" dc-uuid=\"1\">\n  <configuration>\n    <crm_config>\n\
         \x20     <cluster_property_set id=\"cib-bootstrap-options\">\n\
         \x20       <nvpair id=\"opt-stonith-enabled\" name=\"stonith-enabled\" value=\"true\"/>\n\
         \x20       <nvpair id=\"opt-no-quorum-policy\" name=\"no-quorum-policy\" value=\"stop\"/>\n\
         \x20       <nvpair id=\"opt-placement-strategy\" name=\"placement-strategy\" value=\"{strategy}\"/>\n\
         \x20       <nvpair id=\"opt-symmetric-cluster\" name=\"symmetric-cluster\" value=\"true\"/>\n\
         \x20     </cluster_property_set>\n    </crm_config>\n    <nodes>"
    );
    let per_node = cfg.resources / nodes + 8;
    for n in 1..=nodes {
        let _ = writeln!(
            out,
            "      <node id=\"{n}\" uname=\"node{n}\">\n\
             \x20       <instance_attributes id=\"node{n}-attrs\">\n\
             \x20         <nvpair id=\"node{n}-rack\" name=\"rack\" value=\"rack{}\"/>\n\
             \x20       </instance_attributes>\n\
             \x20       <utilization id=\"node{n}-utilization\">\n\
             \x20         <nvpair id=\"node{n}-cpu\" name=\"cpu\" value=\"{}\"/>\n\
             \x20         <nvpair id=\"node{n}-memory\" name=\"memory\" value=\"{}\"/>\n\
             \x20       </utilization>\n      </node>",
            n % 4,
            per_node * 4,
            per_node * 1024
        );
    }
    let _ = writeln!(
        out,
        "    </nodes>\n    <resources>\n\
         \x20     <primitive id=\"fence-all\" class=\"stonith\" type=\"fence_dummy\">\n\
         \x20       <operations>\n\
         \x20         <op id=\"fence-all-monitor\" name=\"monitor\" interval=\"60s\"/>\n\
         \x20       </operations>\n      </primitive>"
    );
    let mut tops = Vec::new();
    let mut made = 0;
    let mut i = 0;
    while made < cfg.resources {
        i += 1;
        let roll = rng.below(100);
        if roll < 50 {
            let id = format!("rsc{i}");
            primitive(&mut out, &mut rng, &id, "      ", false);
            tops.push(Top::Primitive(id));
            made += 1;
        } else if roll < 72 {
            let gid = format!("grp{i}");
            let n = 2 + rng.below(3);
            let _ = writeln!(out, "      <group id=\"{gid}\">");
            let members: Vec<String> = (1..=n).map(|m| format!("grp{i}-m{m}")).collect();
            for m in &members {
                primitive(&mut out, &mut rng, m, "        ", false);
            }
            let _ = writeln!(out, "      </group>");
            tops.push(Top::Group(gid, members));
            made += n;
        } else if roll < 88 {
            let cid = format!("cln{i}");
            let child = format!("cln{i}-child");
            let max = clone_max(&mut rng, nodes, 50);
            let mut meta = vec![("interleave", rng.chance(50).to_string())];
            if let Some(m) = max {
                meta.push(("clone-max", m.to_string()));
            }
            if rng.chance(20) {
                meta.push(("notify", "true".to_owned()));
            }
            clone_meta(&mut out, &cid, &meta);
            primitive(&mut out, &mut rng, &child, "        ", false);
            let _ = writeln!(out, "      </clone>");
            tops.push(Top::Clone(cid, child, max));
            made += 1;
        } else {
            let cid = format!("prm{i}");
            let child = format!("prm{i}-child");
            let max = clone_max(&mut rng, nodes.min(3), 30);
            let mut meta = vec![
                ("promotable", "true".to_owned()),
                ("notify", rng.chance(50).to_string()),
                ("interleave", rng.chance(50).to_string()),
            ];
            if let Some(m) = max {
                meta.push(("clone-max", m.to_string()));
            }
            clone_meta(&mut out, &cid, &meta);
            primitive(&mut out, &mut rng, &child, "        ", true);
            let _ = writeln!(out, "      </clone>");
            tops.push(Top::Promotable(cid, child, max));
            made += 1;
        }
    }
    let _ = writeln!(out, "    </resources>\n    <constraints>");
    for (k, t) in tops.iter().enumerate() {
        let id = t.id();
        if rng.chance(20) {
            let n = 1 + rng.below(nodes);
            let role = if matches!(t, Top::Promotable(..)) && rng.chance(50) {
                " role=\"Promoted\""
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "      <rsc_location id=\"loc-{id}-node{n}\" rsc=\"{id}\" node=\"node{n}\" score=\"{}\"{role}/>",
                50 + rng.below(150)
            );
        }
        if rng.chance(5) {
            let _ = writeln!(
                out,
                "      <rsc_location id=\"loc-{id}-rack\" rsc=\"{id}\">\n\
                 \x20       <rule id=\"loc-{id}-rack-rule\" score=\"-INFINITY\" boolean-op=\"and\">\n\
                 \x20         <expression id=\"loc-{id}-rack-expr\" attribute=\"rack\" operation=\"eq\" value=\"rack{}\"/>\n\
                 \x20       </rule>\n      </rsc_location>",
                rng.below(4)
            );
        }
        if k > 0 && rng.chance(12) {
            let other = &tops[rng.below(k)];
            let oid = other.id();
            let score = match rng.below(10) {
                0 | 1 => "-INFINITY",
                2 => "100",
                _ => "INFINITY",
            };
            let role = if matches!(other, Top::Promotable(..)) && score == "INFINITY" {
                " with-rsc-role=\"Promoted\""
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "      <rsc_colocation id=\"col-{id}-{oid}\" rsc=\"{id}\" with-rsc=\"{oid}\" score=\"{score}\"{role}/>"
            );
            if score != "-INFINITY" {
                let first_action = if role.is_empty() { "start" } else { "promote" };
                let kind = if rng.chance(20) {
                    "Optional"
                } else {
                    "Mandatory"
                };
                let _ = writeln!(
                    out,
                    "      <rsc_order id=\"ord-{oid}-{id}\" first=\"{oid}\" first-action=\"{first_action}\" then=\"{id}\" then-action=\"start\" kind=\"{kind}\"/>"
                );
            }
        }
    }
    // Sets: an ordered chain of two or three resources that are not clones, or a colocated
    // chain of two or three primitives (sequential sets, as operators write them for a
    // stack of services). Colocation sets through a group are left out: where such a chain
    // leads through a group, Pacemaker's scores depend on the order of the resources in the
    // CIB (see the README's "Differences from Pacemaker"), a known gap.
    let plain: Vec<&str> = tops.iter().filter(|t| !t.is_clone()).map(Top::id).collect();
    let prims: Vec<&str> = tops
        .iter()
        .filter(|t| matches!(t, Top::Primitive(_)))
        .map(Top::id)
        .collect();
    let sets = if plain.len() >= 2 {
        plain.len() / 8 + usize::from(rng.chance(50))
    } else {
        0
    };
    for s in 0..sets {
        let ordering = rng.chance(50);
        let from = if ordering { &plain } else { &prims };
        if from.len() < 2 {
            continue;
        }
        let n = (2 + rng.below(2)).min(from.len());
        let refs: String = pick(&mut rng, from.len(), n)
            .into_iter()
            .map(|x| format!("          <resource_ref id=\"{}\"/>\n", from[x]))
            .collect();
        if ordering {
            let _ = write!(
                out,
                "      <rsc_order id=\"ord-set{s}\" kind=\"Mandatory\">\n\
                 \x20       <resource_set id=\"ord-set{s}-1\" sequential=\"true\">\n{refs}\
                 \x20       </resource_set>\n      </rsc_order>\n"
            );
        } else {
            let _ = write!(
                out,
                "      <rsc_colocation id=\"col-set{s}\" score=\"INFINITY\">\n\
                 \x20       <resource_set id=\"col-set{s}-1\" sequential=\"true\">\n{refs}\
                 \x20       </resource_set>\n      </rsc_colocation>\n"
            );
        }
    }
    let _ = writeln!(
        out,
        "    </constraints>\n    <rsc_defaults>\n      <meta_attributes id=\"rsc-defaults\">\n\
         \x20       <nvpair id=\"rsc-defaults-stickiness\" name=\"resource-stickiness\" value=\"{stickiness}\"/>\n\
         \x20     </meta_attributes>\n    </rsc_defaults>\n  </configuration>"
    );
    if !cfg.status {
        let _ = writeln!(out, "  <status/>\n</cib>");
        return out;
    }
    status(&mut out, &mut rng, nodes, &tops, &lost);
    out
}

/// The status section: where everything runs, failures, lost nodes.
fn status(out: &mut String, rng: &mut Rng, nodes: usize, tops: &[Top], lost: &[usize]) {
    let mut on: Vec<Vec<Running>> = vec![Vec::new(); nodes];
    // (node, resource, last-failure time) of failed monitors.
    let mut failures: Vec<(usize, String, u64)> = Vec::new();
    let started = |rng: &mut Rng, failures: &mut Vec<(usize, String, u64)>, n: usize, id: &str| {
        let mut ops: Vec<OpRec> = vec![
            ("start", 0, 0, NOW - 5000),
            ("monitor", 10_000, 0, NOW - 5000),
        ];
        if rng.chance(8) {
            let when = NOW - [30, 400, 4000][rng.below(3)];
            ops.push(("monitor", 10_000, 1, when));
            failures.push((n, id.to_owned(), when));
        }
        ops
    };
    on[rng.below(nodes)].push((
        "fence-all".into(),
        "stonith",
        vec![("start", 0, 0, NOW - 5000)],
    ));
    for t in tops {
        match t {
            Top::Primitive(id) => {
                if rng.chance(90) {
                    let n = rng.below(nodes);
                    let ops = started(rng, &mut failures, n, id);
                    on[n].push((id.clone(), "Dummy", ops));
                }
            }
            Top::Group(_, members) => {
                if rng.chance(90) {
                    let n = rng.below(nodes);
                    for m in members {
                        let ops = started(rng, &mut failures, n, m);
                        on[n].push((m.clone(), "Dummy", ops));
                    }
                }
            }
            Top::Clone(_, child, max) => {
                for n in pick(rng, nodes, max.unwrap_or(nodes)) {
                    let ops = started(rng, &mut failures, n, child);
                    on[n].push((child.clone(), "Dummy", ops));
                }
            }
            Top::Promotable(_, child, max) => {
                for (k, n) in pick(rng, nodes, max.unwrap_or(nodes))
                    .into_iter()
                    .enumerate()
                {
                    let ops = if k == 0 {
                        vec![
                            ("promote", 0, 0, NOW - 5000),
                            ("monitor", 10_000, 8, NOW - 5000),
                        ]
                    } else {
                        vec![
                            ("start", 0, 0, NOW - 5000),
                            ("monitor", 11_000, 0, NOW - 5000),
                        ]
                    };
                    on[n].push((child.clone(), "Stateful", ops));
                }
            }
        }
    }
    let _ = writeln!(out, "  <status>");
    let mut call = 0;
    for (i, list) in on.iter().enumerate() {
        let n = i + 1;
        let (ccm, crmd, join) = if lost.contains(&i) {
            ("false", "offline", "down")
        } else {
            ("true", "online", "member")
        };
        let _ = writeln!(
            out,
            "    <node_state id=\"{n}\" uname=\"node{n}\" in_ccm=\"{ccm}\" crmd=\"{crmd}\" join=\"{join}\" expected=\"member\">\n\
             \x20     <transient_attributes id=\"{n}\">\n        <instance_attributes id=\"status-{n}\">"
        );
        for (rsc, agent, _) in list {
            if *agent == "Stateful" {
                let _ = writeln!(
                    out,
                    "          <nvpair id=\"status-{n}-master-{rsc}\" name=\"master-{rsc}\" value=\"{}\"/>",
                    5 + rng.below(10)
                );
            }
        }
        for (_, rsc, when) in failures.iter().filter(|f| f.0 == i) {
            let _ = writeln!(
                out,
                "          <nvpair id=\"status-{n}-fail-count-{rsc}\" name=\"fail-count-{rsc}#monitor_10000\" value=\"1\"/>\n\
                 \x20         <nvpair id=\"status-{n}-last-failure-{rsc}\" name=\"last-failure-{rsc}#monitor_10000\" value=\"{when}\"/>"
            );
        }
        let _ = writeln!(
            out,
            "        </instance_attributes>\n      </transient_attributes>\n      <lrm id=\"{n}\">\n        <lrm_resources>"
        );
        for (rsc, agent, ops) in list {
            if *agent == "stonith" {
                call += 1;
                let _ = writeln!(
                    out,
                    "          <lrm_resource id=\"{rsc}\" class=\"stonith\" type=\"fence_dummy\">\n\
                     \x20           <lrm_rsc_op id=\"{rsc}_last_0\" operation_key=\"{rsc}_start_0\" operation=\"start\" \
                     transition-key=\"{call}:1:0:00000000-0000-0000-0000-000000000000\" \
                     transition-magic=\"0:0;{call}:1:0:00000000-0000-0000-0000-000000000000\" \
                     call-id=\"{call}\" rc-code=\"0\" op-status=\"0\" interval=\"0\" last-rc-change=\"{}\" exec-time=\"10\" queue-time=\"0\" op-digest=\"f2317cad3d54cec5d7d7aa7d0bf35cf8\"/>\n\
                     \x20         </lrm_resource>",
                    NOW - 5000
                );
                continue;
            }
            history(out, rsc, agent, &mut call, ops);
        }
        let _ = writeln!(
            out,
            "        </lrm_resources>\n      </lrm>\n    </node_state>"
        );
    }
    let _ = writeln!(out, "  </status>\n</cib>");
}
