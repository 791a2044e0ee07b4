//! crm-lite's own cluster in the lab (`scripts/lab`, the default stack: Corosync and
//! `crm-lite daemon` on each of 3 nodes, lab `ca`): the group of `tests/system/lab.rs`
//! (tmpfs → mgmt-api → haproxy) and a resource kept off its node (`side`), configured with
//! `crm-lite apply` through the daemon. Then, one after the other, with the observer (every
//! node's mounts and sockets read directly every 50 ms) watching throughout:
//! 1. the node running the group loses its power: it is fenced, and only then the group
//!    starts on a survivor, in its order, still apart from `side`;
//! 2. with the fence device failing, the group's node loses its link: it loses quorum and
//!    stops the group; the majority recovers nothing and `crm-lite status` says why; the
//!    device works again: the node is fenced and the group comes back;
//! 3. the coordinator is killed while a transition runs (a slow start on another node): the
//!    next coordinator finishes it, nothing runs twice;
//! 4. an agent's monitor hangs: it times out, the failure is in `status`, and the resource
//!    is recovered.
//!
//! And in a lab of its own (`cbp`), crm-lite's daemon beside a running Pacemaker fences
//! through Pacemaker's fencer.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use tests::lab::{Lab, Observed, Observer, Probe, now};
use tests::{built, have, is_root, require, target_dir};

use crate::lab::{API_PORT, GROUP, HAPROXY_CFG, MOUNT, PORT, group_xml, wait_until};

const SIDE_PORT: u16 = 8091;
const SLOW_PORT: u16 = 8092;
const LIMIT: Duration = Duration::from_secs(60);

/// The lab with the crm-lite binary its nodes run.
struct Cluster {
    lab: Lab,
    crm: PathBuf,
    epoch: u32,
}

impl Cluster {
    fn crm(&self, node: &str, args: &[&str]) -> Output {
        let mut cmd = vec![self.crm.to_str().expect("utf-8 path")];
        cmd.extend_from_slice(args);
        self.lab.exec(node, &cmd)
    }

    fn status(&self, node: &str) -> serde_json::Value {
        let out = self.crm(node, &["status", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }

    fn status_text(&self, node: &str) -> String {
        String::from_utf8_lossy(&self.crm(node, &["status"]).stdout).into_owned()
    }

    /// Applies the lab's base CIB with these resources and constraints (a higher epoch each
    /// time) through the daemon of `node`, and checks it converged.
    fn apply(&mut self, node: &str, resources: &str, constraints: &str) {
        self.epoch += 1;
        let base = std::fs::read_to_string(self.lab.dir().join("base-cib.xml"))
            .expect("the lab's base CIB");
        let xml = base
            .replacen(r#"epoch="1""#, &format!(r#"epoch="{}""#, self.epoch), 1)
            .replacen(
                "    </resources>",
                &format!("{resources}\n    </resources>"),
                1,
            )
            .replacen(
                "<constraints/>",
                &format!("<constraints>{constraints}</constraints>"),
                1,
            );
        self.apply_xml(node, &format!("cib-{}.xml", self.epoch), &xml);
    }

    /// Hands `xml` (written to `file` in the lab's directory) to the daemon of `node` with
    /// `crm-lite apply`, and checks it converged.
    fn apply_xml(&self, node: &str, file: &str, xml: &str) {
        let path = self.lab.dir().join(file);
        std::fs::write(&path, xml).expect("write the CIB");
        let out = self.crm(node, &["apply", path.to_str().expect("utf-8")]);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "apply on {node}: {said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(said.contains("handing"), "{said}");
    }

    /// Whether something answers `body` on 127.0.0.1:`port` inside `node`.
    fn answers(&self, node: &str, port: u16, body: &str) -> bool {
        let url = format!("http://127.0.0.1:{port}/");
        // `slow` takes 1.8 s to answer anything.
        let limit = if port == SLOW_PORT { "4" } else { "0.5" };
        let out = self.lab.exec(node, &["curl", "-s", "-m", limit, &url]);
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains(body)
    }

    fn where_answers(&self, port: u16, body: &str) -> Option<String> {
        self.lab
            .nodes
            .iter()
            .find(|n| self.is_on(n) && self.answers(n, port, body))
            .cloned()
    }

    fn is_on(&self, node: &str) -> bool {
        !self.lab.run(&["pids", node]).stdout.is_empty()
    }

    fn online_everywhere(&self, node: &str, asked: &str) -> bool {
        self.status(asked)["nodes"].as_array().is_some_and(|ns| {
            ns.iter()
                .any(|n| n["name"] == node && n["state"] == "online")
        })
    }

    /// The lost node is back (the fence's reboot powers it on after its boot delay; else it
    /// is started) and online for `asked`.
    fn back(&self, node: &str, asked: &str) {
        wait_until(
            &format!("{node} powered on again"),
            Duration::from_secs(20),
            || self.is_on(node),
        );
        wait_until(&format!("{node} online again"), LIMIT, || {
            self.online_everywhere(node, asked)
        });
    }

    fn coordinator(&self, asked: &str) -> Option<String> {
        self.status(asked)["coordinator"]
            .as_str()
            .map(str::to_owned)
    }
}

fn side_xml(tiny: &str) -> String {
    format!(
        r#"<primitive id="side" class="ocf" provider="crm-lite" type="mgmt-api">
  <instance_attributes id="side-ia">
    <nvpair id="side-cmd" name="command" value="{tiny} --port {SIDE_PORT} --body side"/>
  </instance_attributes>
  <operations><op id="side-mon" name="monitor" interval="2s" timeout="10s"/></operations>
</primitive>"#
    )
}

/// A start that takes about 2 s: the health check waits for a slow answer.
fn slow_xml(tiny: &str) -> String {
    format!(
        r#"<primitive id="slow" class="ocf" provider="crm-lite" type="mgmt-api">
  <instance_attributes id="slow-ia">
    <nvpair id="slow-cmd" name="command" value="{tiny} --port {SLOW_PORT} --body slow --delay-ms 1800"/>
    <nvpair id="slow-h" name="health_url" value="http://127.0.0.1:{SLOW_PORT}/"/>
  </instance_attributes>
  <operations>
    <op id="slow-start" name="start" interval="0" timeout="30s"/>
    <op id="slow-mon" name="monitor" interval="10s" timeout="10s"/>
  </operations>
</primitive>"#
    )
}

/// An agent whose next monitor hangs once `/tmp/crm-lite-lab-ca-hang` exists (it removes
/// the file first, so that the recovery that follows works).
const HANG_AGENT: &str = r#"#!/bin/sh
state=/run/hang-agent.state
case "$1" in
  start) touch "$state" ;;
  stop) rm -f "$state" ;;
  monitor)
    if [ -e "$OCF_RESKEY_flag" ]; then rm -f "$OCF_RESKEY_flag"; sleep 3600; fi
    [ -e "$state" ] || exit 7 ;;
  meta-data) cat <<'EOF'
<?xml version="1.0"?>
<resource-agent name="hang" version="1">
  <version>1.1</version>
  <shortdesc lang="en">a test agent whose monitor hangs on request</shortdesc>
  <longdesc lang="en">a test agent whose monitor hangs on request</longdesc>
  <parameters><parameter name="flag"><content type="string"/><shortdesc lang="en">flag</shortdesc><longdesc lang="en">flag</longdesc></parameter></parameters>
  <actions><action name="start" timeout="5s"/><action name="stop" timeout="5s"/><action name="monitor" timeout="2s" interval="2s"/><action name="meta-data" timeout="5s"/></actions>
</resource-agent>
EOF
  ;;
  validate-all) ;;
  *) exit 3 ;;
esac
exit 0
"#;

fn hang_xml(flag: &Path) -> String {
    format!(
        r#"<primitive id="hung" class="ocf" provider="labtest" type="hang">
  <instance_attributes id="hung-ia"><nvpair id="hung-f" name="flag" value="{}"/></instance_attributes>
  <operations><op id="hung-mon" name="monitor" interval="2s" timeout="2s"/></operations>
</primitive>"#,
        flag.display()
    )
}

const APART: &str =
    r#"<rsc_colocation id="side-apart" rsc="side" with-rsc="web" score="-INFINITY"/>"#;

/// The observer's starts of the group on `node` after `since` are in the group's order.
fn in_order(seen: &Observed, node: &str, since: f64) -> Result<(), String> {
    let at = |r: &str| {
        seen.starts
            .iter()
            .find(|s| s.resource == r && s.node == node && s.at > since)
            .map(|s| s.at)
    };
    let times: Vec<Option<f64>> = GROUP.iter().map(|r| at(r)).collect();
    if times.iter().any(Option::is_none) {
        return Err(format!("not every member started on {node}: {times:?}"));
    }
    if times.windows(2).all(|w| w[0] <= w[1]) {
        Ok(())
    } else {
        Err(format!(
            "the group started out of order on {node}: {GROUP:?} at {times:?}"
        ))
    }
}

#[test]
fn crm_lite_daemons_fail_over_in_order_after_the_fence_and_never_run_anything_twice() {
    let Ok(()) = require(is_root(), "root (network and mount namespaces)") else {
        return;
    };
    for tool in ["haproxy", "curl", "corosync"] {
        let Ok(()) = require(
            have(tool),
            "haproxy, curl, corosync (scripts/lib.sh TEST_PKGS)",
        ) else {
            return;
        };
    }
    let bins = [
        "crm-lite",
        "filesystem",
        "mgmt-api",
        "haproxy",
        "tiny-httpd",
    ];
    let Ok(()) = require(
        bins.iter().all(|b| built(b).is_some()),
        "crm-lite, the agents and tiny-httpd built (cargo build --workspace --bins)",
    ) else {
        return;
    };
    let crm = built("crm-lite").expect("crm-lite");
    let tiny = built("tiny-httpd").expect("tiny-httpd");
    let tiny = tiny.to_str().expect("utf-8 path");
    let agents = target_dir();
    let lab = Lab::up_named(
        "ca",
        3,
        "crm-lite",
        &[
            ("LAB_AGENTS", agents.to_str().expect("utf-8 target dir")),
            ("CRM_LITE", crm.to_str().expect("utf-8")),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut c = Cluster { lab, crm, epoch: 1 };

    // The hanging agent, as ocf:labtest:hang in every node's OCF view.
    let view = c.lab.dir().join("ocf/labtest");
    std::fs::create_dir_all(&view).expect("agent dir");
    std::fs::write(view.join("hang"), HANG_AGENT).expect("agent");
    std::process::Command::new("chmod")
        .args(["0755", view.join("hang").to_str().expect("utf-8")])
        .status()
        .expect("chmod");
    let cfg = c.lab.dir().join("haproxy-web.cfg");
    std::fs::write(&cfg, HAPROXY_CFG).expect("haproxy config");
    let web = group_xml(tiny, cfg.to_str().expect("utf-8"));
    let resources = format!("{web}\n{}", side_xml(tiny));
    c.apply("n1", &resources, APART);
    wait_until("the group and side answering", LIMIT, || {
        c.where_answers(PORT, "lab-stack").is_some() && c.where_answers(SIDE_PORT, "side").is_some()
    });

    let observer = Observer::start(
        &c.lab,
        &[
            ("web-fs", Probe::Mounted(MOUNT.into())),
            ("web-api", Probe::Listening(API_PORT)),
            ("web-lb", Probe::Listening(PORT)),
            ("side", Probe::Listening(SIDE_PORT)),
            ("slow", Probe::Listening(SLOW_PORT)),
        ],
    );
    let mut checks: Vec<(String, f64, Vec<&str>)> = Vec::new();

    // 1. Power loss of the group's node.
    let victim = c.where_answers(PORT, "lab-stack").expect("the group runs");
    let survivor = c
        .lab
        .nodes
        .iter()
        .find(|n| **n != victim)
        .expect("a survivor")
        .clone();
    let t0 = now();
    c.lab.must(&["kill", &victim]);
    let mut on = None;
    wait_until(
        "the group answering on a survivor after the power loss",
        LIMIT,
        || {
            on = c.where_answers(PORT, "lab-stack");
            on.is_some()
        },
    );
    let on = on.expect("answering");
    let answered = now() - t0;
    let fence = c
        .lab
        .fence_log()
        .into_iter()
        .find(|f| f.node == victim && f.ok && f.action != "on" && f.at >= t0)
        .unwrap_or_else(|| panic!("no fence of {victim}: {:?}", c.lab.fence_log()));
    eprintln!(
        "power loss of {victim}: fenced after {:.2} s, answering on {on} after {answered:.2} s",
        fence.at - t0
    );
    wait_until("side answering", LIMIT, || {
        c.where_answers(SIDE_PORT, "side").is_some()
    });
    let side_on = c.where_answers(SIDE_PORT, "side").expect("side");
    assert_ne!(
        side_on, on,
        "side runs with the group, against its -INFINITY colocation"
    );
    checks.push((victim.clone(), t0, GROUP.to_vec()));
    let power_loss = (on.clone(), t0);
    c.back(&victim, &survivor);

    // 2. Link cut of the group's node while the fence device fails.
    let victim = c.where_answers(PORT, "lab-stack").expect("the group runs");
    let survivor = c
        .lab
        .nodes
        .iter()
        .find(|n| **n != victim)
        .expect("a survivor")
        .clone();
    c.lab.must(&["fence-fail", "on"]);
    let t1 = now();
    c.lab.must(&["cut", &victim]);
    wait_until(
        &format!("the cut {victim} stopping the group (no quorum)"),
        LIMIT,
        || !c.answers(&victim, PORT, "lab-stack") && !c.answers(&victim, API_PORT, "lab-stack"),
    );
    let stopped = now() - t1;
    // The majority cannot fence it: nothing of it is recovered, and status says why.
    std::thread::sleep(Duration::from_secs(8));
    let elsewhere = c
        .lab
        .nodes
        .iter()
        .filter(|n| **n != victim && c.answers(n, PORT, "lab-stack"))
        .count();
    assert_eq!(
        elsewhere, 0,
        "the group was recovered while {victim} could not be fenced"
    );
    let text = c.status_text(&survivor);
    assert!(
        text.contains(&format!("{victim} (id")) && text.contains("UNCLEAN"),
        "status does not show {victim} UNCLEAN:\n{text}"
    );
    assert!(
        text.contains("Fencing history:") && text.contains("failed"),
        "status does not say the fence failed:\n{text}"
    );
    eprintln!("link cut of {victim}: group stopped there after {stopped:.2} s; status:\n{text}");
    c.lab.must(&["fence-fail", "off"]);
    let t2 = now();
    wait_until(
        "the group recovered once the fence works",
        Duration::from_secs(90),
        || {
            c.where_answers(PORT, "lab-stack")
                .is_some_and(|n| n != victim)
        },
    );
    eprintln!(
        "fence working again: group answering after {:.2} s",
        now() - t2
    );
    checks.push((victim.clone(), t1, GROUP.to_vec()));
    c.lab.must(&["heal", &victim]);
    c.back(&victim, &survivor);

    // 3. The coordinator killed while a slow start runs on another node.
    let coord = c.coordinator(&survivor).expect("a coordinator");
    let target = c
        .lab
        .nodes
        .iter()
        .find(|n| **n != coord)
        .expect("another node")
        .clone();
    let asker = c
        .lab
        .nodes
        .iter()
        .find(|n| **n != coord && **n != target)
        .expect("a third node")
        .clone();
    let loc = format!(r#"<rsc_location id="slow-where" rsc="slow" node="{target}" score="1000"/>"#);
    let resources = format!("{web}\n{}\n{}", side_xml(tiny), slow_xml(tiny));
    // The apply follows the transition; it runs while the coordinator is killed.
    let path = {
        c.epoch += 1;
        let base = std::fs::read_to_string(c.lab.dir().join("base-cib.xml")).expect("base");
        let xml = base
            .replacen(r#"epoch="1""#, &format!(r#"epoch="{}""#, c.epoch), 1)
            .replacen(
                "    </resources>",
                &format!("{resources}\n    </resources>"),
                1,
            )
            .replacen(
                "<constraints/>",
                &format!("<constraints>{APART}{loc}</constraints>"),
                1,
            );
        let p = c.lab.dir().join(format!("cib-{}.xml", c.epoch));
        std::fs::write(&p, xml).expect("write");
        p
    };
    let applying = {
        let crm = c.crm.clone();
        let lab_script = tests::lab::project_root().join("scripts/lab");
        let dir = c.lab.dir().to_path_buf();
        let asker = asker.clone();
        std::thread::spawn(move || {
            std::process::Command::new(lab_script)
                .args(["exec", &asker, crm.to_str().expect("utf-8"), "apply"])
                .arg(&path)
                .env("LAB_DIR", dir)
                .output()
        })
    };
    // Listening, its health check still waiting for the slow answer.
    wait_until(&format!("slow starting on {target}"), LIMIT, || {
        let probe = format!("ss -ltn | grep -q ':{SLOW_PORT} '");
        c.lab.exec(&target, &["sh", "-c", &probe]).status.success()
    });
    let t3 = now();
    c.lab.must(&["kill", &coord]);
    // The next coordinator is the lowest id left (until the fenced one boots and rejoins).
    wait_until("a new coordinator", LIMIT, || {
        c.coordinator(&target).is_some_and(|n| n != coord)
    });
    wait_until(
        "slow answering after the coordinator was lost",
        LIMIT,
        || c.where_answers(SLOW_PORT, "slow").is_some(),
    );
    let applied = applying.join().expect("apply thread").expect("apply ran");
    eprintln!(
        "coordinator {coord} killed during slow's start on {target}: apply ended with {:?}: {}",
        applied.status.code(),
        String::from_utf8_lossy(&applied.stdout)
    );
    wait_until(
        "the group answering after the coordinator was lost",
        LIMIT,
        || c.where_answers(PORT, "lab-stack").is_some(),
    );
    checks.push((
        coord.clone(),
        t3,
        vec!["web-fs", "web-api", "web-lb", "side"],
    ));
    c.back(&coord, &target);

    // 4. A monitor that hangs: timed out, recorded, recovered.
    let flag = PathBuf::from("/tmp/crm-lite-lab-ca-hang");
    let _ = std::fs::remove_file(&flag);
    let resources = format!(
        "{web}\n{}\n{}\n{}",
        side_xml(tiny),
        slow_xml(tiny),
        hang_xml(&flag)
    );
    c.apply(&target, &resources, &format!("{APART}{loc}"));
    std::fs::write(&flag, "hang").expect("flag");
    wait_until("the hanging monitor noticed (flag taken)", LIMIT, || {
        !flag.exists()
    });
    let t4 = now();
    wait_until("the timed-out monitor in status", LIMIT, || {
        c.status(&target)["failures"].as_array().is_some_and(|f| {
            f.iter()
                .any(|l| l.as_str().is_some_and(|l| l.contains("hung")))
        })
    });
    wait_until("hung running again", LIMIT, || {
        c.status(&target)["resources"].as_array().is_some_and(|rs| {
            rs.iter()
                .any(|r| r["id"] == "hung" && r["role"] == "Started" && r["failed"] == false)
        }) && c.lab.nodes.iter().any(|n| {
            c.is_on(n)
                && c.lab
                    .exec(n, &["test", "-e", "/run/hang-agent.state"])
                    .status
                    .success()
        })
    });
    eprintln!(
        "hanging monitor: recovered {:.2} s after it hung",
        now() - t4
    );

    let seen = observer.finish();
    assert!(
        seen.rounds > 100,
        "the observer sampled {} rounds",
        seen.rounds
    );
    assert!(
        seen.double_active.is_empty(),
        "active twice: {:?}",
        seen.double_active
    );
    let fences = c.lab.fence_log();
    let early: Vec<String> = checks
        .iter()
        .flat_map(|(victim, at, rscs)| seen.starts_before_fence(victim, rscs, *at, &fences))
        .collect();
    assert!(early.is_empty(), "started before the fence: {early:?}");
    in_order(&seen, &power_loss.0, power_loss.1).unwrap_or_else(|e| panic!("{e}"));
    let slow_starts = seen.starts.iter().filter(|s| s.resource == "slow").count();
    assert_eq!(
        slow_starts, 1,
        "slow started {slow_starts} times: {:?}",
        seen.starts
    );
}

/// crm-lite's daemon beside a running Pacemaker on one Corosync ring (lab `cbp`: Pacemaker's
/// stack, and a `crm-lite daemon` started in each node with its state in the node's own
/// `/run`): crm-lite manages one resource of its own (ids Pacemaker does not have). The node
/// running it loses its power: crm-lite's coordinator fences it through Pacemaker's fencer
/// (`stonith_admin`), not through the fence agent, and only then starts the resource on a
/// survivor.
#[test]
fn crm_lite_beside_pacemaker_fences_through_pacemakers_fencer() {
    let Ok(()) = require(is_root(), "root (network and mount namespaces)") else {
        return;
    };
    for tool in ["curl", "corosync"] {
        let Ok(()) = require(have(tool), "curl, corosync (scripts/lib.sh TEST_PKGS)") else {
            return;
        };
    }
    let Ok(()) = require(
        ["crm-lite", "mgmt-api", "tiny-httpd"]
            .iter()
            .all(|b| built(b).is_some()),
        "crm-lite, the agents and tiny-httpd built (cargo build --workspace --bins)",
    ) else {
        return;
    };
    let crm = built("crm-lite").expect("crm-lite");
    let tiny = built("tiny-httpd").expect("tiny-httpd");
    let agents = target_dir();
    let lab = Lab::up_named(
        "cbp",
        3,
        "pacemaker",
        &[("LAB_AGENTS", agents.to_str().expect("utf-8 target dir"))],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let crm_s = crm.to_str().expect("utf-8 path");
    for n in &lab.nodes {
        let log = lab.dir().join(n).join("crm-lite-beside.log");
        let start = format!(
            "CRM_LITE_LOG=info setsid {crm_s} daemon --state-dir /run/crm-lite-state \
             </dev/null >>{} 2>&1 &",
            log.display()
        );
        let out = lab.exec(n, &["sh", "-c", &start]);
        assert!(out.status.success(), "starting the daemon on {n}: {out:?}");
    }
    let c = Cluster {
        lab,
        crm: crm.clone(),
        epoch: 1,
    };
    wait_until(
        "crm-lite's daemons quorate, every node online",
        LIMIT,
        || {
            let s = c.status("n1");
            s["quorate"] == true
                && s["nodes"]
                    .as_array()
                    .is_some_and(|ns| ns.iter().filter(|n| n["state"] == "online").count() == 3)
        },
    );
    let cib = format!(
        r#"<cib admin_epoch="0" epoch="5" num_updates="0" validate-with="pacemaker-3.9" crm_feature_set="3.17.4">
  <configuration>
    <crm_config><cluster_property_set id="cps">
      <nvpair id="cps-se" name="stonith-enabled" value="true"/>
      <nvpair id="cps-nq" name="no-quorum-policy" value="stop"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/><node id="2" uname="n2"/><node id="3" uname="n3"/></nodes>
    <resources>
      <primitive id="beside-fence" class="stonith" type="fence_lab">
        <instance_attributes id="beside-fence-ia"><nvpair id="beside-fence-hl" name="pcmk_host_list" value="n1 n2 n3"/></instance_attributes>
      </primitive>
      <primitive id="beside-web" class="ocf" provider="crm-lite" type="mgmt-api">
        <instance_attributes id="beside-web-ia"><nvpair id="beside-web-cmd" name="command" value="{} --port {SIDE_PORT} --body beside"/></instance_attributes>
        <operations><op id="beside-web-mon" name="monitor" interval="5s" timeout="10s"/></operations>
      </primitive>
    </resources>
    <constraints><rsc_location id="beside-web-on-n3" rsc="beside-web" node="n3" score="50"/></constraints>
  </configuration>
  <status/>
</cib>
"#,
        tiny.display()
    );
    c.apply_xml("n1", "beside-cib.xml", &cib);
    wait_until("beside-web answering on n3", LIMIT, || {
        c.answers("n3", SIDE_PORT, "beside")
    });

    let observer = Observer::start(&c.lab, &[("beside-web", Probe::Listening(SIDE_PORT))]);
    let t0 = now();
    c.lab.must(&["kill", "n3"]);
    wait_until("beside-web answering on a survivor", LIMIT, || {
        ["n1", "n2"]
            .iter()
            .any(|n| c.answers(n, SIDE_PORT, "beside"))
    });
    eprintln!(
        "beside Pacemaker: beside-web answering {:.2} s after the power loss",
        now() - t0
    );
    let seen = observer.finish();
    let fences = c.lab.fence_log();
    assert!(
        fences
            .iter()
            .any(|f| f.node == "n3" && f.ok && f.action != "on" && f.at >= t0),
        "n3 was not fenced: {fences:?}"
    );
    assert!(seen.double_active.is_empty(), "{:?}", seen.double_active);
    let early = seen.starts_before_fence("n3", &["beside-web"], t0, &fences);
    assert!(early.is_empty(), "started before the fence: {early:?}");
    // The coordinator (n1, the lowest id) asked Pacemaker's fencer.
    let log = std::fs::read_to_string(c.lab.dir().join("n1/crm-lite-beside.log"))
        .expect("n1's daemon log");
    assert!(
        log.contains("fencing through Pacemaker's fencer") && log.contains("target=n3"),
        "n1's log:\n{log}"
    );
}
