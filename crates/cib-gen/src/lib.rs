//! `cib-gen`: a deterministic generator of large Pacemaker CIBs.
//!
//! [`generate`] builds `nodes` nodes and about `resources` primitives arranged as plain
//! primitives, groups, clones and promotable clones, with location (plain and rule-based),
//! colocation (positive and anti) and order constraints, stickiness, migration thresholds,
//! utilization with `placement-strategy=balanced`, a fencing device, and a status section in
//! which every resource runs somewhere and the last node has been lost (unclean) — the shape
//! a scheduler must handle after a node failure.
//!
//! # Invariants
//! - Same [`Config`] (including the seed), same bytes out: the only randomness is a small
//!   SplitMix64 generator seeded from the config; nothing reads the clock or environment.
//! - The output is a CIB that `crm_verify` accepts (apart from its runtime warnings) and that
//!   the `cib` crate lowers without error diagnostics.
#![deny(missing_docs)]

use std::fmt::Write;

mod operators;

pub use operators::NOW;

/// Which kind of random cluster to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mix {
    /// The fixed shape the benchmarks use: interleaved clones on every node, promotable
    /// clones of two with notifications, `placement-strategy=balanced`, the last node lost.
    /// Its bytes for a given [`Config`] never change.
    #[default]
    Classic,
    /// Clusters shaped like the ones operators write: clones with and without `interleave`,
    /// any `clone-max`, `notify` on or off, failed monitors with `failure-timeout`, zero to
    /// two lost nodes, every placement strategy, ordering and colocation sets. Failure times
    /// are relative to [`NOW`].
    Operators,
}

/// Generate the CIB text for `cfg` in the given mix.
pub fn generate_mix(cfg: &Config, mix: Mix) -> String {
    match mix {
        Mix::Classic => generate(cfg),
        Mix::Operators => operators::generate(cfg),
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Number of cluster nodes (at least 2).
    pub nodes: usize,
    /// Approximate number of primitives (group members and clone children included).
    pub resources: usize,
    /// Seed of the pseudo-random choices.
    pub seed: u64,
    /// Whether to write a status section (resources running, last node lost).
    pub status: bool,
}

/// SplitMix64: tiny, deterministic, good enough to spread choices.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `pct`/100.
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
}

/// One resource's history on a node: id, agent, and (operation, interval ms, rc) in order.
type Running = (String, &'static str, Vec<(&'static str, u64, i32)>);

/// A top-level resource as generated, for constraints and status.
#[derive(Debug)]
enum Top {
    Primitive(String),
    Group(String, Vec<String>),
    Clone(String, String),
    Promotable(String, String),
}

impl Top {
    fn id(&self) -> &str {
        match self {
            Top::Primitive(id) | Top::Group(id, _) | Top::Clone(id, _) | Top::Promotable(id, _) => {
                id
            }
        }
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
        "{indent}<primitive id=\"{id}\" class=\"ocf\" provider=\"{provider}\" type=\"{agent}\">"
    );
    let _ = writeln!(out, "{indent}  <operations>");
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
    if rng.chance(30) {
        let _ = writeln!(
            out,
            "{indent}  <meta_attributes id=\"{id}-meta\">\n\
             {indent}    <nvpair id=\"{id}-stickiness\" name=\"resource-stickiness\" value=\"{}\"/>\n\
             {indent}    <nvpair id=\"{id}-migration-threshold\" name=\"migration-threshold\" value=\"{}\"/>\n\
             {indent}  </meta_attributes>",
            rng.below(200),
            1 + rng.below(5)
        );
    }
    let _ = writeln!(
        out,
        "{indent}  <utilization id=\"{id}-utilization\">\n\
         {indent}    <nvpair id=\"{id}-cpu\" name=\"cpu\" value=\"{}\"/>\n\
         {indent}    <nvpair id=\"{id}-memory\" name=\"memory\" value=\"{}\"/>\n\
         {indent}  </utilization>",
        1 + rng.below(2),
        64 * (1 + rng.below(8))
    );
    let _ = writeln!(out, "{indent}</primitive>");
}

fn op(out: &mut String, rsc: &str, agent: &str, call: &mut u64, ops: &[(&str, u64, i32)]) {
    let (provider, ty) = if agent == "Stateful" {
        ("pacemaker", "Stateful")
    } else {
        ("heartbeat", "Dummy")
    };
    let _ = writeln!(
        out,
        "          <lrm_resource id=\"{rsc}\" class=\"ocf\" provider=\"{provider}\" type=\"{ty}\">"
    );
    for (name, interval, rc) in ops {
        *call += 1;
        let key = if *interval == 0 { "last" } else { name };
        // Pacemaker's digest of an operation on a resource without parameters (MD5 of
        // " <parameters/>\n"): with it, crm_simulate sees no definition change.
        let digest = if *interval == 0 {
            " op-digest=\"f2317cad3d54cec5d7d7aa7d0bf35cf8\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "            <lrm_rsc_op id=\"{rsc}_{key}_{interval}\" operation_key=\"{rsc}_{name}_{interval}\" operation=\"{name}\" \
             transition-key=\"{call}:1:{rc}:00000000-0000-0000-0000-000000000000\" \
             transition-magic=\"0:{rc};{call}:1:{rc}:00000000-0000-0000-0000-000000000000\" \
             call-id=\"{call}\" rc-code=\"{rc}\" op-status=\"0\" interval=\"{interval}\" \
             last-rc-change=\"1700000000\" exec-time=\"10\" queue-time=\"0\"{digest}/>"
        );
    }
    let _ = writeln!(out, "          </lrm_resource>");
}

/// Generate the CIB text for `cfg`.
pub fn generate(cfg: &Config) -> String {
    let nodes = cfg.nodes.max(2);
    let mut rng = Rng(cfg.seed ^ 0x00c1_b9e7);
    let mut out = String::with_capacity(cfg.resources * 2_000 + nodes * 1_000);
    let _ = writeln!(
        out,
        "<cib admin_epoch=\"0\" epoch=\"1\" num_updates=\"0\" validate-with=\"pacemaker-3.7\" \
         crm_feature_set=\"3.16.1\" have-quorum=\"1\" dc-uuid=\"1\">\n  <configuration>\n    <crm_config>\n\
         \x20     <cluster_property_set id=\"cib-bootstrap-options\">\n\
         \x20       <nvpair id=\"opt-stonith-enabled\" name=\"stonith-enabled\" value=\"true\"/>\n\
         \x20       <nvpair id=\"opt-no-quorum-policy\" name=\"no-quorum-policy\" value=\"stop\"/>\n\
         \x20       <nvpair id=\"opt-placement-strategy\" name=\"placement-strategy\" value=\"balanced\"/>\n\
         \x20       <nvpair id=\"opt-symmetric-cluster\" name=\"symmetric-cluster\" value=\"true\"/>\n\
         \x20     </cluster_property_set>\n    </crm_config>\n    <nodes>"
    );
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
            (cfg.resources / nodes + 8) * 4,
            (cfg.resources / nodes + 8) * 1024
        );
    }
    let _ = writeln!(out, "    </nodes>\n    <resources>");
    let _ = writeln!(
        out,
        "      <primitive id=\"fence-all\" class=\"stonith\" type=\"fence_dummy\">\n\
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
        if roll < 60 {
            let id = format!("rsc{i}");
            primitive(&mut out, &mut rng, &id, "      ", false);
            tops.push(Top::Primitive(id));
            made += 1;
        } else if roll < 85 {
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
        } else if roll < 95 {
            let cid = format!("cln{i}");
            let child = format!("cln{i}-child");
            let _ = writeln!(
                out,
                "      <clone id=\"{cid}\">\n        <meta_attributes id=\"{cid}-meta\">\n\
                 \x20         <nvpair id=\"{cid}-interleave\" name=\"interleave\" value=\"true\"/>\n\
                 \x20       </meta_attributes>"
            );
            primitive(&mut out, &mut rng, &child, "        ", false);
            let _ = writeln!(out, "      </clone>");
            tops.push(Top::Clone(cid, child));
            made += 1;
        } else {
            let cid = format!("prm{i}");
            let child = format!("prm{i}-child");
            let _ = writeln!(
                out,
                "      <clone id=\"{cid}\">\n        <meta_attributes id=\"{cid}-meta\">\n\
                 \x20         <nvpair id=\"{cid}-promotable\" name=\"promotable\" value=\"true\"/>\n\
                 \x20         <nvpair id=\"{cid}-notify\" name=\"notify\" value=\"true\"/>\n\
                 \x20         <nvpair id=\"{cid}-clone-max\" name=\"clone-max\" value=\"2\"/>\n\
                 \x20       </meta_attributes>"
            );
            primitive(&mut out, &mut rng, &child, "        ", true);
            let _ = writeln!(out, "      </clone>");
            tops.push(Top::Promotable(cid, child));
            made += 1;
        }
    }
    let _ = writeln!(out, "    </resources>\n    <constraints>");
    for (k, t) in tops.iter().enumerate() {
        let id = t.id();
        if rng.chance(20) {
            let n = 1 + rng.below(nodes);
            let _ = writeln!(
                out,
                "      <rsc_location id=\"loc-{id}-node{n}\" rsc=\"{id}\" node=\"node{n}\" score=\"{}\"/>",
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
        if k > 0 && rng.chance(10) {
            let other = tops[rng.below(k)].id();
            let score = if rng.chance(20) {
                "-INFINITY"
            } else {
                "INFINITY"
            };
            let _ = writeln!(
                out,
                "      <rsc_colocation id=\"col-{id}-{other}\" rsc=\"{id}\" with-rsc=\"{other}\" score=\"{score}\"/>"
            );
            if score == "INFINITY" {
                let _ = writeln!(
                    out,
                    "      <rsc_order id=\"ord-{other}-{id}\" first=\"{other}\" then=\"{id}\" kind=\"Mandatory\"/>"
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "    </constraints>\n    <rsc_defaults>\n      <meta_attributes id=\"rsc-defaults\">\n\
         \x20       <nvpair id=\"rsc-defaults-stickiness\" name=\"resource-stickiness\" value=\"1\"/>\n\
         \x20     </meta_attributes>\n    </rsc_defaults>\n  </configuration>"
    );
    if !cfg.status {
        let _ = writeln!(out, "  <status/>\n</cib>");
        return out;
    }
    // Where everything runs: primitives and groups on one node, clones on every node,
    // promotable clones on two nodes (the first promoted).
    let mut per_node: Vec<Vec<Running>> = vec![Vec::new(); nodes];
    let started = vec![("start", 0, 0), ("monitor", 10_000, 0)];
    per_node[0].push(("fence-all".into(), "stonith", vec![("start", 0, 0)]));
    for t in &tops {
        match t {
            Top::Primitive(id) => {
                per_node[rng.below(nodes)].push((id.clone(), "Dummy", started.clone()))
            }
            Top::Group(_, members) => {
                let n = rng.below(nodes);
                for m in members {
                    per_node[n].push((m.clone(), "Dummy", started.clone()));
                }
            }
            Top::Clone(_, child) => {
                for list in per_node.iter_mut() {
                    list.push((child.clone(), "Dummy", started.clone()));
                }
            }
            Top::Promotable(_, child) => {
                let a = rng.below(nodes);
                let b = (a + 1 + rng.below(nodes - 1)) % nodes;
                per_node[a].push((
                    child.clone(),
                    "Stateful",
                    vec![("promote", 0, 0), ("monitor", 10_000, 8)],
                ));
                per_node[b].push((
                    child.clone(),
                    "Stateful",
                    vec![("start", 0, 0), ("monitor", 11_000, 0)],
                ));
            }
        }
    }
    let _ = writeln!(out, "  <status>");
    let mut call = 0;
    for (i, list) in per_node.iter().enumerate() {
        let n = i + 1;
        let lost = n == nodes;
        let (ccm, crmd, join) = if lost {
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
            } else if rng.chance(2) {
                let _ = writeln!(
                    out,
                    "          <nvpair id=\"status-{n}-fail-count-{rsc}\" name=\"fail-count-{rsc}#monitor_10000\" value=\"1\"/>"
                );
            }
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
                     call-id=\"{call}\" rc-code=\"0\" op-status=\"0\" interval=\"0\" last-rc-change=\"1700000000\" exec-time=\"10\" queue-time=\"0\" op-digest=\"f2317cad3d54cec5d7d7aa7d0bf35cf8\"/>\n\
                     \x20         </lrm_resource>"
                );
                continue;
            }
            op(&mut out, rsc, agent, &mut call, ops);
        }
        let _ = writeln!(
            out,
            "        </lrm_resources>\n      </lrm>\n    </node_state>"
        );
    }
    let _ = writeln!(out, "  </status>\n</cib>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let cfg = Config {
            nodes: 4,
            resources: 40,
            seed: 7,
            status: true,
        };
        assert_eq!(generate(&cfg), generate(&cfg));
        assert_ne!(generate(&cfg), generate(&Config { seed: 8, ..cfg }));
    }
}
