//! A cluster of daemon state machines over the simulated Corosync, in the style of
//! raft-rs's harness: each node has its `Node`, its group handle and its outgoing queue;
//! a simulated world says which resources are active on which node, and runs the
//! operations the daemons hand out (agents with delays and injected failures, fences that
//! power the target off or fail). Everything random comes from the simulation's seed.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use cluster::sim::{SimCorosync, SimNode};
use cluster::{Group, NodeId, Outgoing};
use daemon::{ClientId, Config, Input, Node, Output, Reply, Request, RunId};
use scheduler::graph::OpKind;
use transition::OpResult;

/// The test CIB for `n` nodes: a fence device, a group (fs → api → lb), an anti-colocated
/// pair, a promotable clone; monitors on everything.
pub fn cib(n: u32, epoch: u32) -> String {
    let nodes: String = (1..=n)
        .map(|i| format!(r#"<node id="{i}" uname="n{i}"/>"#))
        .collect();
    // No agent writes promotion scores here: location preferences for the promoted role.
    let promote: String = (1..=n)
        .map(|i| {
            format!(
                r#"<rsc_location id="db-promote-n{i}" rsc="db-clone" role="Promoted" node="n{i}" score="{}"/>"#,
                10 * (n + 1 - i)
            )
        })
        .collect();
    let prim = |id: &str, ty: &str| {
        format!(
            r#"<primitive id="{id}" class="ocf" provider="crm-lite" type="{ty}"><operations><op id="{id}-mon" name="monitor" interval="10s"/></operations></primitive>"#
        )
    };
    format!(
        r#"<cib admin_epoch="0" epoch="{epoch}" num_updates="0" validate-with="pacemaker-3.9"><configuration><crm_config><cluster_property_set id="o"><nvpair id="o-se" name="stonith-enabled" value="true"/><nvpair id="o-dd" name="dc-deadtime" value="5s"/></cluster_property_set></crm_config><nodes>{nodes}</nodes><resources><primitive id="fence" class="stonith" type="fence_sim"><instance_attributes id="fence-i"><nvpair id="fence-i-h" name="pcmk_host_check" value="none"/></instance_attributes></primitive><group id="stack">{fs}{api}{lb}</group>{a1}{a2}<clone id="db-clone"><meta_attributes id="db-clone-m"><nvpair id="db-clone-m-p" name="promotable" value="true"/><nvpair id="db-clone-m-pm" name="promoted-max" value="1"/></meta_attributes><primitive id="db" class="ocf" provider="crm-lite" type="mysql"><operations><op id="db-mon-p" name="monitor" interval="10s" role="Promoted"/><op id="db-mon-u" name="monitor" interval="11s" role="Unpromoted"/></operations></primitive></clone></resources><constraints><rsc_colocation id="apart" rsc="a2" with-rsc="a1" score="-INFINITY"/>{promote}</constraints><rsc_defaults><meta_attributes id="rd"><nvpair id="rd-s" name="resource-stickiness" value="100"/></meta_attributes></rsc_defaults></configuration><status/></cib>"#,
        fs = prim("fs", "filesystem"),
        api = prim("api", "mgmt-api"),
        lb = prim("lb", "haproxy"),
        a1 = prim("a1", "mgmt-api"),
        a2 = prim("a2", "mgmt-api"),
    )
}

/// Resources that may be active on several nodes (anonymous clone instances).
pub const CLONES: &[&str] = &["db"];

/// One operation handed out, to end at `at`.
#[derive(Debug, Clone)]
struct Pending {
    at: u64,
    id: RunId,
    op: OpKind,
    /// The executor hangs: no result until [`Harness::release_hung`], and then only
    /// its own timeout (the agent was killed, nothing changed).
    hung: bool,
}

/// One simulated machine.
#[derive(Debug)]
pub struct Machine {
    pub node: Option<Node>,
    group: SimNode,
    out: Outgoing,
    pub saved: Option<String>,
    runs: Vec<Pending>,
    pub replies: Vec<(ClientId, Reply)>,
    pub alerts: usize,
}

/// The cluster and its world.
#[derive(Debug)]
pub struct Harness {
    pub seed: u64,
    pub sim: SimCorosync,
    pub n: u32,
    pub m: BTreeMap<NodeId, Machine>,
    /// Per node: resource → role (`Started`, `Promoted`).
    pub world: BTreeMap<NodeId, BTreeMap<String, String>>,
    pub now: u64,
    /// Percent of starts, promotes and recurring monitors that fail.
    pub agent_fail: u64,
    /// The fence device fails.
    pub fence_broken: bool,
    /// Percent of agent operations of transitions (not recurring monitors) whose
    /// executor hangs (see [`Harness::release_hung`]).
    pub hang: u64,
    /// The next operation with this resource and action hangs.
    pub hang_next: Option<(String, String)>,
    /// Nodes whose daemon is frozen: a member that reads nothing, runs nothing and says
    /// nothing (until it is killed).
    pub frozen: BTreeSet<NodeId>,
    /// What a node separated from the others may still run, until it is fenced.
    pub unfenced: BTreeMap<NodeId, BTreeSet<(String, String)>>,
    pub violations: Vec<String>,
    pub log: Vec<String>,
    pub fences: Vec<(String, bool)>,
    /// When set, the `db` agent on node `i` leaves promotion score `scores[i]`
    /// (`master-db`) after every operation that finds it running, and removes it when it
    /// stops; the node's daemon is told after every operation (`Input::Scores`), as the
    /// runtime reads the attribute directory. `None`: no agent reports scores.
    pub scores: Option<BTreeMap<NodeId, i64>>,
    /// The score files each node's agents left (emptied when its daemon starts).
    pub files: BTreeMap<NodeId, BTreeMap<String, String>>,
}

impl Harness {
    /// `n` machines, all booted with `cib` saved, each joining the group.
    pub fn new(seed: u64, n: u32, try_again: u64, cib: Option<&str>) -> Harness {
        Harness::partial(seed, n, n, try_again, cib)
    }

    /// `n` machines of which only the first `booted` are powered on (the others never
    /// seen until [`Harness::restart`]).
    pub fn partial(seed: u64, n: u32, booted: u32, try_again: u64, cib: Option<&str>) -> Harness {
        let sim = SimCorosync::new(seed, n, try_again);
        let mut h = Harness {
            seed,
            sim: sim.clone(),
            n,
            m: BTreeMap::new(),
            world: BTreeMap::new(),
            now: 1_700_000_000_000,
            agent_fail: 0,
            fence_broken: false,
            hang: 0,
            hang_next: None,
            frozen: BTreeSet::new(),
            unfenced: BTreeMap::new(),
            violations: Vec::new(),
            log: Vec::new(),
            fences: Vec::new(),
            scores: None,
            files: BTreeMap::new(),
        };
        for i in 1..=n {
            h.m.insert(
                i,
                Machine {
                    node: None,
                    group: sim.node(i),
                    out: Outgoing::new(),
                    saved: cib.map(str::to_owned),
                    runs: Vec::new(),
                    replies: Vec::new(),
                    alerts: 0,
                },
            );
            h.world.insert(i, BTreeMap::new());
            if i <= booted {
                h.boot(i);
            } else {
                sim.kill(i);
            }
        }
        h
    }

    fn config(&self, i: NodeId) -> Config {
        Config {
            local: i,
            nodes: (1..=self.n).map(|j| (j, format!("n{j}"))).collect(),
            cib: self.m[&i].saved.clone(),
        }
    }

    /// Start node `i`'s daemon (its saved CIB) and join the group.
    pub fn boot(&mut self, i: NodeId) {
        let node = Node::new(self.config(i));
        let m = self.m.get_mut(&i).unwrap_or_else(|| panic!("machine {i}"));
        m.node = Some(node);
        m.out = Outgoing::new();
        m.runs.clear();
        let _ = m.group.join();
        // The runtime empties the node's attribute directory when the daemon starts.
        self.files.remove(&i);
        self.log.push(format!("{} boot n{i}", self.now));
    }

    pub fn node(&self, i: NodeId) -> &Node {
        self.m[&i]
            .node
            .as_ref()
            .unwrap_or_else(|| panic!("n{i} runs no daemon"))
    }

    pub fn alive(&self) -> Vec<NodeId> {
        (1..=self.n).filter(|i| self.sim.alive(*i)).collect()
    }

    /// Power node `i` off: its daemon and world are gone.
    pub fn kill(&mut self, i: NodeId) {
        if !self.sim.alive(i) {
            return;
        }
        let was: BTreeSet<(String, String)> = self.world[&i]
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.unfenced.entry(i).or_default().extend(was);
        self.sim.kill(i);
        self.frozen.remove(&i);
        if let Some(m) = self.m.get_mut(&i) {
            m.node = None;
            m.runs.clear();
        }
        if let Some(w) = self.world.get_mut(&i) {
            w.clear();
        }
        self.log.push(format!("{} kill n{i}", self.now));
    }

    /// Power a dead node on again.
    pub fn restart(&mut self, i: NodeId) {
        if self.sim.restart(i) {
            self.unfenced.remove(&i);
            self.boot(i);
        }
    }

    /// Cut `ids` off from the others.
    pub fn split(&mut self, ids: &[NodeId]) {
        for i in ids {
            let was: BTreeSet<(String, String)> = self.world[i]
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            self.unfenced.entry(*i).or_default().extend(was);
        }
        self.sim.split(ids);
        self.log.push(format!("{} split {ids:?}", self.now));
    }

    pub fn heal(&mut self) {
        self.sim.heal();
        let alive = self.alive();
        for i in alive {
            self.unfenced.remove(&i);
        }
        self.log.push(format!("{} heal", self.now));
    }

    /// Feed every delivered event to its node, carry out the outputs, flush the queues.
    pub fn pump(&mut self) {
        self.pump_nodes(false);
    }

    /// Like [`Harness::pump`], but each node reads its events only with some chance:
    /// some nodes lag behind the others (delayed delivery).
    pub fn pump_some(&mut self) {
        self.pump_nodes(true);
    }

    fn pump_nodes(&mut self, lagging: bool) {
        loop {
            let mut any = false;
            let ids: Vec<NodeId> = self
                .m
                .keys()
                .copied()
                .filter(|_| !lagging || self.sim.draw(100) < 60)
                .filter(|i| !self.frozen.contains(i))
                .collect();
            for i in ids {
                let now = self.now;
                let Some(m) = self.m.get_mut(&i) else {
                    continue;
                };
                let Some(node) = m.node.as_mut() else {
                    while m.group.poll().is_some() {}
                    continue;
                };
                while let Some(ev) = m.group.poll() {
                    any = true;
                    node.handle(Input::Cluster(ev), now);
                }
                let outs = node.take_outputs();
                self.carry_out(i, outs);
                let m = self.m.get_mut(&i).unwrap_or_else(|| panic!("machine"));
                if !m.out.is_empty() {
                    let _ = m.out.flush(&mut m.group);
                }
            }
            if !any || lagging {
                break;
            }
        }
    }

    fn carry_out(&mut self, i: NodeId, outs: Vec<Output>) {
        for o in outs {
            match o {
                Output::Send(b) => {
                    if let Some(m) = self.m.get_mut(&i) {
                        m.out.push(b);
                    }
                }
                Output::Run { id, op, .. } => {
                    let delay = match &op {
                        OpKind::Fence(_) => 200 + self.sim.draw(800),
                        _ => 10 + self.sim.draw(500),
                    };
                    let mut at = self.now + delay;
                    let hung = match &op {
                        OpKind::Rsc(r) if r.interval_ms == 0 => {
                            let next = self
                                .hang_next
                                .as_ref()
                                .is_some_and(|(rsc, a)| *rsc == r.rsc && *a == r.action);
                            if next {
                                self.hang_next = None;
                            }
                            next || (self.hang > 0 && self.sim.draw(100) < self.hang)
                        }
                        _ => false,
                    };
                    if hung {
                        at = u64::MAX;
                    }
                    let what = match &op {
                        OpKind::Rsc(r) => {
                            format!("{} {} (interval {})", r.action, r.rsc, r.interval_ms)
                        }
                        OpKind::Fence(f) => format!("fence {}", f.target),
                        OpKind::Pseudo(p) => format!("pseudo {}", p.action),
                    };
                    self.log.push(format!(
                        "{} n{i} runs {what} as {id:?}{}",
                        self.now,
                        if hung { " (hangs)" } else { "" }
                    ));
                    if let Some(m) = self.m.get_mut(&i) {
                        m.runs.push(Pending { at, id, op, hung });
                    }
                }
                Output::Save { xml } => {
                    if let Some(m) = self.m.get_mut(&i) {
                        m.saved = Some(xml);
                    }
                }
                Output::Alert(_) => {
                    if let Some(m) = self.m.get_mut(&i) {
                        m.alerts += 1;
                    }
                }
                Output::Reply { client, reply } => {
                    if let Some(m) = self.m.get_mut(&i) {
                        m.replies.push((client, reply));
                    }
                }
            }
        }
    }

    /// The hung executors answer at last: each with its own timeout (the agent killed,
    /// nothing changed in the world).
    pub fn release_hung(&mut self) {
        let now = self.now;
        for m in self.m.values_mut() {
            for r in m.runs.iter_mut().filter(|r| r.hung) {
                r.at = now;
            }
        }
        self.log.push(format!("{} hung executors answer", self.now));
    }

    /// A Pacemaker on node `i` configures `ids` (what the runtime's watch feeds).
    pub fn pacemaker(&mut self, i: NodeId, ids: &[&str]) {
        let now = self.now;
        if let Some(node) = self.m.get_mut(&i).and_then(|m| m.node.as_mut()) {
            node.handle(
                Input::Pacemaker {
                    ids: ids.iter().map(|s| (*s).to_owned()).collect(),
                },
                now,
            );
            let outs = node.take_outputs();
            self.carry_out(i, outs);
        }
        self.pump();
    }

    /// Hand a request to node `i`.
    pub fn request(&mut self, i: NodeId, client: u64, request: Request) {
        let now = self.now;
        self.log.push(format!("{now} n{i} asked {request:?}"));
        if let Some(node) = self.m.get_mut(&i).and_then(|m| m.node.as_mut()) {
            node.handle(
                Input::Request {
                    client: ClientId(client),
                    request,
                },
                now,
            );
            let outs = node.take_outputs();
            self.carry_out(i, outs);
        }
        self.pump();
    }

    /// The earliest time something is due (a run ending, a node's timer).
    pub fn next_due(&self) -> Option<u64> {
        self.m
            .iter()
            .filter(|(i, _)| !self.frozen.contains(i))
            .map(|(_, m)| m)
            .flat_map(|m| {
                m.runs
                    .iter()
                    .filter(|r| !r.hung)
                    .map(|r| r.at)
                    .chain(m.node.as_ref().and_then(Node::next_deadline))
            })
            .min()
    }

    /// Move the clock to `t`, ending the runs due and firing the timers due.
    pub fn advance(&mut self, t: u64) {
        self.now = self.now.max(t);
        let ids: Vec<NodeId> = self
            .m
            .keys()
            .copied()
            .filter(|i| !self.frozen.contains(i))
            .collect();
        for i in ids {
            while let Some(m) = self.m.get_mut(&i)
                && let Some(pos) = m.runs.iter().position(|r| r.at <= self.now)
            {
                let run = m.runs.remove(pos);
                self.finish_run(i, run);
            }
            let now = self.now;
            if let Some(node) = self.m.get_mut(&i).and_then(|m| m.node.as_mut())
                && node.next_deadline().is_some_and(|d| d <= now)
            {
                node.tick(now);
                let outs = node.take_outputs();
                self.carry_out(i, outs);
            }
        }
        self.pump();
    }

    fn violation(&mut self, what: String) {
        self.log.push(format!("{} VIOLATION {what}", self.now));
        for (i, m) in &self.m {
            if let Some(n) = &m.node {
                let st = n.status();
                self.log.push(format!(
                    "  n{i}: quorate {} coordinator {:?} nodes {:?} fencing {:?}",
                    st.quorate,
                    st.coordinator,
                    st.nodes
                        .iter()
                        .map(|n| format!("{}={}", n.name, n.state))
                        .collect::<Vec<_>>(),
                    st.fencing
                ));
            }
        }
        self.violations.push(what);
    }

    /// Carry out one operation in the world and tell the node.
    fn finish_run(&mut self, i: NodeId, run: Pending) {
        if self.m.get(&i).is_none_or(|m| m.node.is_none()) {
            return;
        }
        let result = match &run.op {
            OpKind::Rsc(r) if run.hung => {
                self.log.push(format!(
                    "{} n{i} {} {} -> timed out at last",
                    self.now, r.action, r.rsc
                ));
                OpResult::Agent {
                    rc: 1,
                    timed_out: true,
                    exec_ms: r.timeout_ms,
                    exit_reason: None,
                    restart: None,
                }
            }
            OpKind::Rsc(r) => {
                let fail = self.agent_fail > 0 && self.sim.draw(100) < self.agent_fail;
                let key = r.rsc.clone();
                let clone = CLONES.contains(&key.as_str());
                let rc = match r.action.as_str() {
                    "start" if fail => 1,
                    "start" => {
                        if !clone {
                            self.check_start(i, &key, "Started");
                        }
                        // A start sent where the resource already runs: its history was
                        // lost somewhere (the agent would say ok, but the cluster ran it twice).
                        if self.world.get(&i).is_some_and(|w| w.contains_key(&key)) {
                            self.violation(format!("{key} started on n{i}, where it already ran"));
                        }
                        self.world
                            .entry(i)
                            .or_default()
                            .insert(key.clone(), "Started".into());
                        0
                    }
                    "stop" => {
                        self.world.entry(i).or_default().remove(&key);
                        0
                    }
                    "promote" if fail => 1,
                    "promote" => {
                        self.check_start(i, &key, "Promoted");
                        self.world
                            .entry(i)
                            .or_default()
                            .insert(key.clone(), "Promoted".into());
                        0
                    }
                    "demote" => {
                        if let Some(v) = self.world.entry(i).or_default().get_mut(&key) {
                            *v = "Started".into();
                        }
                        0
                    }
                    "monitor" => {
                        if fail && r.interval_ms > 0 {
                            // The resource crashed.
                            self.world.entry(i).or_default().remove(&key);
                        }
                        match self.world[&i].get(&key).map(String::as_str) {
                            None => 7,
                            Some("Promoted") => 8,
                            Some(_) => 0,
                        }
                    }
                    _ => 0,
                };
                self.log.push(format!(
                    "{} n{i} {} {} -> rc {rc}",
                    self.now, r.action, r.rsc
                ));
                if let Some(set) = self.unfenced.get_mut(&i)
                    && rc == 0
                    && matches!(r.action.as_str(), "start" | "promote")
                {
                    set.insert((key, self.world[&i].get(&r.rsc).cloned().unwrap_or_default()));
                }
                OpResult::Agent {
                    rc,
                    timed_out: false,
                    exec_ms: 5,
                    exit_reason: (rc == 1).then(|| "injected failure".to_owned()),
                    restart: None,
                }
            }
            OpKind::Fence(f) => {
                let target: NodeId = f.target.trim_start_matches('n').parse().unwrap_or(0);
                let ok = !self.fence_broken;
                if ok {
                    self.kill(target);
                    self.unfenced.remove(&target);
                }
                self.log
                    .push(format!("{} n{i} fence {} -> {ok}", self.now, f.target));
                self.fences.push((f.target.clone(), ok));
                OpResult::Fence { ok }
            }
            OpKind::Pseudo(_) => OpResult::Implied,
        };
        let now = self.now;
        let reported = match (&run.op, &self.scores) {
            (OpKind::Rsc(r), Some(scores)) => {
                let files = self.files.entry(i).or_default();
                if r.rsc == "db" {
                    let running = self.world[&i].contains_key("db");
                    match scores.get(&i) {
                        Some(v) if running => {
                            files.insert("master-db".into(), v.to_string());
                        }
                        _ if !running => {
                            files.remove("master-db");
                        }
                        _ => {}
                    }
                }
                Some(files.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            _ => None,
        };
        if let Some(node) = self.m.get_mut(&i).and_then(|m| m.node.as_mut()) {
            if let Some(s) = reported {
                node.handle(Input::Scores(s), now);
            }
            node.handle(Input::Done { id: run.id, result }, now);
            let outs = node.take_outputs();
            self.carry_out(i, outs);
        }
    }

    /// Node `node`'s promotion scores as node `i`'s saved copy of the CIB holds them.
    pub fn scores_seen(&self, i: NodeId, node: &str) -> Vec<(String, String)> {
        let xml = self.m[&i].saved.clone().unwrap_or_default();
        let (doc, _) = cib::Document::parse(&xml);
        daemon::scores::of(&doc, node)
    }

    /// Starting `key` in `role` on `i`: nothing of a separated, unfenced node may be
    /// started elsewhere.
    fn check_start(&mut self, i: NodeId, key: &str, role: &str) {
        let bad: Vec<NodeId> = self
            .unfenced
            .iter()
            .filter(|(x, set)| **x != i && set.iter().any(|(k, r)| k == key && r == role))
            .map(|(x, _)| *x)
            .collect();
        for x in bad {
            self.violation(format!(
                "{key} ({role}) started on n{i} while n{x}, which ran it, is not fenced"
            ));
        }
    }

    /// No primitive active twice, at most one promoted instance.
    pub fn check_world(&mut self) {
        let mut at: BTreeMap<&str, Vec<NodeId>> = BTreeMap::new();
        let mut promoted = Vec::new();
        for (i, w) in &self.world {
            for (k, role) in w {
                if role == "Promoted" {
                    promoted.push(*i);
                }
                if !CLONES.contains(&k.as_str()) {
                    at.entry(k).or_default().push(*i);
                }
            }
        }
        let mut bad: Vec<String> = at
            .into_iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(k, v)| format!("{k} active on {v:?}"))
            .collect();
        if promoted.len() > 1 {
            bad.push(format!("promoted on {promoted:?}"));
        }
        for b in bad {
            self.violation(b);
        }
    }

    /// Whether everything is quiet: nothing to deliver or send, no run but monitors (and
    /// hung executors, which end only when released), every daemon settled and in one
    /// membership.
    pub fn quiet(&self) -> bool {
        !self.sim.busy()
            && self.m.values().all(|m| {
                m.node.is_none()
                    || (m.out.is_empty()
                        && m.node.as_ref().is_some_and(Node::settled)
                        && m.runs.iter().all(|r| {
                            r.hung || matches!(&r.op, OpKind::Rsc(o) if o.interval_ms > 0)
                        }))
            })
    }

    /// Run without faults until quiet, at most `bound` steps.
    pub fn settle(&mut self, bound: usize) -> Result<(), String> {
        for _ in 0..bound {
            self.pump();
            while self.sim.deliver_one() {
                self.pump();
                self.check_world();
            }
            if self.quiet() {
                return Ok(());
            }
            let next = self.next_due().unwrap_or(self.now + 1000);
            self.advance(next.max(self.now + 1));
            self.check_world();
        }
        let states: Vec<String> = self
            .m
            .iter()
            .filter_map(|(i, m)| {
                m.node.as_ref().map(|n| {
                    format!(
                        "n{i}: settled {} out {} runs {} waiting for: {}",
                        n.settled(),
                        m.out.len(),
                        m.runs.len(),
                        n.waiting_for()
                    )
                })
            })
            .collect();
        Err(format!(
            "not quiet after {bound} steps (sim busy: {})\n{}",
            self.sim.busy(),
            states.join("\n")
        ))
    }

    /// The world as the coordinator's status shows it: (resource, node, role). Status lists
    /// what its copy's history says runs; once the coordinator is settled (its last plan
    /// had nothing to do) that is also where the plan places everything.
    pub fn planned(&self) -> BTreeSet<(String, String, String)> {
        let coord = self.alive().into_iter().find(|i| self.m[i].node.is_some());
        let Some(c) = coord else {
            return BTreeSet::new();
        };
        let mut out = BTreeSet::new();
        for r in self.node(c).planned() {
            let base = r.id.split(':').next().unwrap_or(&r.id).to_owned();
            for n in &r.nodes {
                let role = if r.role == "Promoted" {
                    "Promoted"
                } else {
                    "Started"
                };
                out.insert((base.clone(), n.clone(), role.to_owned()));
            }
        }
        out
    }

    /// The world as node `i`'s `status` shows it (observed from the operation history):
    /// (resource, node, role), failed rows apart.
    pub fn observed(&self, i: NodeId) -> (BTreeSet<(String, String, String)>, Vec<String>) {
        let mut out = BTreeSet::new();
        let mut failed = Vec::new();
        for r in self.node(i).status().resources {
            if r.failed {
                failed.push(format!("{} {:?} {:?}", r.id, r.nodes, r.failed_op));
                continue;
            }
            // An operation whose result never came back leaves its in-flight marker
            // (shown as pending): not a place the resource is observed in.
            if r.pending.is_some() {
                continue;
            }
            let base = r.id.split(':').next().unwrap_or(&r.id).to_owned();
            for n in &r.nodes {
                let role = if r.role == "Promoted" {
                    "Promoted"
                } else {
                    "Started"
                };
                out.insert((base.clone(), n.clone(), role.to_owned()));
            }
        }
        (out, failed)
    }

    /// Every live node's `status` shows the world as it is; `Err` says where not.
    pub fn status_shows_the_world(&self) -> Result<(), String> {
        let actual = self.actual();
        for i in self.alive() {
            if self.m[&i].node.is_none() {
                continue;
            }
            let (seen, failed) = self.observed(i);
            if seen != actual || !failed.is_empty() {
                return Err(format!(
                    "n{i}'s status differs from the world:\nstatus: {seen:?} failed {failed:?}\nworld:  {actual:?}"
                ));
            }
        }
        Ok(())
    }

    /// The world: (resource, node, role).
    pub fn actual(&self) -> BTreeSet<(String, String, String)> {
        self.world
            .iter()
            .flat_map(|(i, w)| {
                w.iter()
                    .map(move |(k, r)| (k.clone(), format!("n{i}"), r.clone()))
            })
            .collect()
    }

    /// The last lines of the log, for a failure message.
    pub fn tail(&self, n: usize) -> String {
        let start = self.log.len().saturating_sub(n);
        self.log[start..].join("\n")
    }
}
