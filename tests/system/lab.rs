//! The drop-in proof: stock Pacemaker, in a 3-node lab (`scripts/lab`, `LAB_STACK=pacemaker`),
//! runs `ocf:crm-lite:filesystem`, `ocf:crm-lite:mgmt-api` and `ocf:crm-lite:haproxy` as a
//! group with `fence_lab` as its fence device. The node running the group loses its power,
//! then (after it is back) another one loses its link: each time Pacemaker fences it (the
//! fence log says so) and the stack answers on a survivor, while the observer, which looks
//! into every node itself every 50 ms, sees no resource active twice and no start of the
//! group elsewhere before the fence.

use std::time::{Duration, Instant};

use tests::lab::{FenceEvent, Lab, Observer, Probe, now};
use tests::{built, have, is_root, require, target_dir};

pub(crate) const PORT: u16 = 8080;
pub(crate) const API_PORT: u16 = 8081;
pub(crate) const MOUNT: &str = "/srv/crm-lite-lab-web";
pub(crate) const GROUP: [&str; 3] = ["web-fs", "web-api", "web-lb"];

pub(crate) fn group_xml(tiny_httpd: &str, haproxy_cfg: &str) -> String {
    let mon = |id: &str| {
        format!(
            "<operations><op id=\"{id}-mon\" name=\"monitor\" interval=\"2s\" timeout=\"10s\"/></operations>"
        )
    };
    format!(
        r#"<group id="web">
  <primitive id="web-fs" class="ocf" provider="crm-lite" type="filesystem">
    <instance_attributes id="web-fs-ia">
      <nvpair id="web-fs-dev" name="device" value="tmpfs"/>
      <nvpair id="web-fs-dir" name="directory" value="{MOUNT}"/>
      <nvpair id="web-fs-type" name="fstype" value="tmpfs"/>
      <nvpair id="web-fs-mk" name="create_directory" value="true"/>
    </instance_attributes>
    {}
  </primitive>
  <primitive id="web-api" class="ocf" provider="crm-lite" type="mgmt-api">
    <instance_attributes id="web-api-ia">
      <nvpair id="web-api-cmd" name="command" value="{tiny_httpd} --port {API_PORT} --body lab-stack"/>
      <nvpair id="web-api-h" name="health_url" value="http://127.0.0.1:{API_PORT}/"/>
    </instance_attributes>
    {}
  </primitive>
  <primitive id="web-lb" class="ocf" provider="crm-lite" type="haproxy">
    <instance_attributes id="web-lb-ia">
      <nvpair id="web-lb-cfg" name="config" value="{haproxy_cfg}"/>
    </instance_attributes>
    {}
  </primitive>
</group>"#,
        mon("web-fs"),
        mon("web-api"),
        mon("web-lb"),
    )
}

pub(crate) const HAPROXY_CFG: &str = "global
    maxconn 100
    stats socket /run/haproxy-lab.sock mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend web
    bind :8080
    default_backend api
backend api
    server api1 127.0.0.1:8081 check inter 500ms
";

fn ip(node: &str) -> String {
    format!(
        "192.0.2.{}",
        10 + node[1..].parse::<u32>().expect("node n<i>")
    )
}

/// Whether the stack answers (through HAProxy to the API) on `node`, asked from `from`.
fn answers(lab: &Lab, from: &str, node: &str) -> bool {
    let url = format!("http://{}:{PORT}/", ip(node));
    let out = lab.exec(from, &["curl", "-s", "-m", "0.5", &url]);
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("lab-stack")
}

/// The node Pacemaker runs the group on, asked on `from`.
fn running_on(lab: &Lab, from: &str) -> Option<String> {
    let out = lab.exec(from, &["crm_resource", "-W", "-r", "web"]);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| !l.contains("UNCLEAN"))
        .find_map(|l| l.split("running on:").nth(1))
        .map(|n| n.trim().to_string())
}

pub(crate) fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out after {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Loses `victim` (`kill` or `cut`), waits for the stack on a survivor and checks the
/// fence log; returns (fenced after, answered after) in seconds.
fn lose(lab: &Lab, how: &str, victim: &str) -> (f64, f64) {
    let survivors: Vec<String> = lab.nodes.iter().filter(|n| *n != victim).cloned().collect();
    let t0 = now();
    lab.must(&[how, victim]);
    let mut answered = None;
    wait_until(
        &format!("the stack answering on a survivor after {how} {victim}"),
        Duration::from_secs(60),
        || {
            answered = survivors
                .iter()
                .find(|n| answers(lab, &survivors[0], n))
                .map(|_| now());
            answered.is_some()
        },
    );
    let fences: Vec<FenceEvent> = lab.fence_log();
    let fence = fences
        .iter()
        .find(|f| f.node == victim && f.ok && f.action != "on" && f.at >= t0)
        .unwrap_or_else(|| panic!("no fence of {victim} in the fence log: {fences:?}"));
    let answered = answered.expect("answered");
    assert!(
        fence.at <= answered,
        "the stack answered at {answered:.3} before {victim} was fenced at {:.3}",
        fence.at
    );
    (fence.at - t0, answered - t0)
}

#[test]
fn pacemaker_runs_crm_lite_agents_through_power_loss_and_link_cut_with_fence_lab() {
    let Ok(()) = require(is_root(), "root (network and mount namespaces)") else {
        return;
    };
    let Ok(()) = require(have("haproxy"), "haproxy (scripts/lib.sh TEST_PKGS)") else {
        return;
    };
    let Ok(()) = require(have("curl"), "curl (scripts/lib.sh TEST_PKGS)") else {
        return;
    };
    let agents_built = ["filesystem", "mgmt-api", "haproxy"]
        .iter()
        .all(|a| built(a).is_some());
    let Ok(()) = require(
        agents_built,
        "the agents built (cargo build --workspace --bins)",
    ) else {
        return;
    };
    let Some(tiny) = built("tiny-httpd") else {
        let Ok(()) = require(false, "tiny-httpd built (cargo build -p tests)") else {
            return;
        };
        return;
    };
    let agents = target_dir();
    let lab = Lab::up(
        3,
        "pacemaker",
        &[("LAB_AGENTS", agents.to_str().expect("utf-8 target dir"))],
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let cfg = lab.dir().join("haproxy-web.cfg");
    std::fs::write(&cfg, HAPROXY_CFG).expect("haproxy config");
    let xml = lab.dir().join("web.xml");
    std::fs::write(
        &xml,
        group_xml(
            tiny.to_str().expect("utf-8 path"),
            cfg.to_str().expect("utf-8 path"),
        ),
    )
    .expect("group xml");
    let out = lab.exec(
        "n1",
        &[
            "cibadmin",
            "-C",
            "-o",
            "resources",
            "-x",
            xml.to_str().expect("utf-8"),
        ],
    );
    assert!(
        out.status.success(),
        "cibadmin: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until(
        "the group started and answering",
        Duration::from_secs(60),
        || running_on(&lab, "n1").is_some_and(|n| answers(&lab, "n1", &n)),
    );

    let observer = Observer::start(
        &lab,
        &[
            ("web-fs", Probe::Mounted(MOUNT.into())),
            ("web-api", Probe::Listening(API_PORT)),
            ("web-lb", Probe::Listening(PORT)),
        ],
    );

    // 1. Power loss of the node running the group.
    let first = running_on(&lab, "n1").expect("the group runs somewhere");
    let kill_at = now();
    let (fenced, answered) = lose(&lab, "kill", &first);
    eprintln!("kill {first}: fenced after {fenced:.2} s, answering after {answered:.2} s");

    // It boots again and joins; the group stays where it is (stickiness).
    lab.must(&["start", &first]);
    let other = lab
        .nodes
        .iter()
        .find(|n| **n != first)
        .expect("a survivor")
        .clone();
    wait_until(
        &format!("{first} back online"),
        Duration::from_secs(60),
        || {
            let out = lab.exec(&other, &["crm_mon", "-1"]);
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.contains("Online:") && l.contains(&first))
        },
    );

    // 2. Link cut of the node running the group: it loses quorum and stops (no-quorum-policy
    // stop), the majority fences it and starts the group.
    let second = running_on(&lab, &other).expect("the group runs somewhere");
    let cut_at = now();
    let (fenced2, answered2) = lose(&lab, "cut", &second);
    eprintln!("cut {second}: fenced after {fenced2:.2} s, answering after {answered2:.2} s");
    lab.must(&["heal", &second]);

    let seen = observer.finish();
    assert!(
        seen.rounds > 20,
        "the observer sampled {} rounds",
        seen.rounds
    );
    assert!(
        seen.double_active.is_empty(),
        "active twice: {:?}",
        seen.double_active
    );
    let fences = lab.fence_log();
    let mut early = seen.starts_before_fence(&first, &GROUP, kill_at, &fences);
    early.extend(seen.starts_before_fence(&second, &GROUP, cut_at, &fences));
    assert!(early.is_empty(), "started before the fence: {early:?}");
    // The observer did see the group start on the survivors (it is not blind).
    for rsc in GROUP {
        assert!(
            seen.starts
                .iter()
                .any(|s| s.resource == rsc && s.node != first && s.at > kill_at),
            "the observer never saw {rsc} start after the power loss: {:?}",
            seen.starts
        );
    }
}
