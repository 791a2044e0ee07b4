//! The I/O around the daemon's state machine: one loop that waits on Corosync (at most until
//! the machine's next deadline, and never more than [`MAX_WAIT`] so that finished runs and
//! clients are seen promptly), feeds everything that happened in as [`Input`]s with the
//! time, ticks, and carries out the outputs: sends through [`Outgoing`], runs in threads,
//! saves through the state store, alerts, replies.
//!
//! The loop is generic over the [`Machine`] (the real one is [`::daemon::Node`]), the
//! [`Group`] (Corosync, or `cluster::sim` in tests) and the [`Exec`] that runs operations
//! (`executor`'s runner, or a fake), so that it is tested in-process.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use ::daemon::{ClientId, Input, Output, RunId, Status};
use anyhow::{Context, Result, bail};
use cluster::{Group, Outgoing};
use executor::drive::{Exec, Ran};
use scheduler::graph::OpKind;
use transition::OpResult;

use super::control::{Incoming, ServerMsg};

/// The longest the loop waits on Corosync before it looks at runs and clients again.
pub const MAX_WAIT: Duration = Duration::from_millis(10);

/// The state machine as the runtime drives it ([`::daemon::Node`]'s contract).
pub trait Machine {
    /// Something happened at `now_ms`.
    fn handle(&mut self, input: Input, now_ms: u64);
    /// Time passed.
    fn tick(&mut self, now_ms: u64);
    /// When to tick next.
    fn next_deadline(&self) -> Option<u64>;
    /// What to do now, in order.
    fn take_outputs(&mut self) -> Vec<Output>;
    /// What `crm-lite status` shows.
    fn status(&self) -> Status;
}

impl Machine for ::daemon::Node {
    fn handle(&mut self, input: Input, now_ms: u64) {
        ::daemon::Node::handle(self, input, now_ms)
    }
    fn tick(&mut self, now_ms: u64) {
        ::daemon::Node::tick(self, now_ms)
    }
    fn next_deadline(&self) -> Option<u64> {
        ::daemon::Node::next_deadline(self)
    }
    fn take_outputs(&mut self) -> Vec<Output> {
        ::daemon::Node::take_outputs(self)
    }
    fn status(&self) -> Status {
        ::daemon::Node::status(self)
    }
}

/// Where the alert agents are configured: the CIB the machine saved last.
fn alerts_of(xml: &str) -> Vec<cib::model::Alert> {
    let parsed = cib::parse("state", xml);
    parsed.cib.alerts
}

/// The loop's state.
pub struct Runtime<G: Group, M: Machine, E: Exec + Send + Sync + 'static> {
    group: G,
    machine: M,
    exec: Arc<E>,
    store: store::Store,
    outgoing: Outgoing,
    done_tx: Sender<Finished>,
    done_rx: Receiver<Finished>,
    /// Where this node's agents leave promotion scores (`<dir>/<node>/master-<rsc>`), read
    /// after each of their operations.
    attrs: Option<PathBuf>,
    clients: BTreeMap<ClientId, Sender<ServerMsg>>,
    running: usize,
    /// The CIB saved last (its alerts section says who is told what).
    saved: Option<String>,
    /// Its alerts, read at the first alert after each save.
    alerts: Option<Vec<cib::model::Alert>>,
    clock: Box<dyn Fn() -> u64>,
    /// Pacemaker's resource ids on this node, as `pacemaker::watch` reads them.
    pacemaker: Option<Receiver<std::collections::BTreeSet<String>>>,
    /// A pipe an operation's thread writes to when it ended, so that the loop's wait on
    /// Corosync ends at once ([`Group::wake_on`]); `None` if it could not be made (the loop
    /// then sees ended operations within [`MAX_WAIT`]).
    wake: Option<Wake>,
}

/// The two ends of the wake pipe.
struct Wake {
    read: std::fs::File,
    write: Arc<std::fs::File>,
}

impl Wake {
    fn new() -> std::io::Result<Wake> {
        use nix::fcntl::OFlag;
        let (r, w) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        Ok(Wake {
            read: std::fs::File::from(r),
            write: Arc::new(std::fs::File::from(w)),
        })
    }

    /// Empties the pipe (it only says "look again").
    fn drain(&self) {
        use std::io::Read;
        let mut buf = [0u8; 64];
        while matches!((&self.read).read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// Tells the loop to look again (a full pipe already says so).
fn wake(w: &std::fs::File) {
    use std::io::Write;
    let _ = (&*w).write(&[1]);
}

impl<G: Group, M: Machine, E: Exec + Send + Sync + 'static> std::fmt::Debug for Runtime<G, M, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("store", &self.store)
            .field("queued", &self.outgoing.len())
            .field("running", &self.running)
            .field("clients", &self.clients.len())
            .finish_non_exhaustive()
    }
}

/// An operation that ended: its run, its result, and the promotion scores its node's
/// agents left (read after it, when the runtime knows where they go).
type Finished = (RunId, OpResult, Option<::daemon::scores::Scores>);

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl<G: Group, M: Machine, E: Exec + Send + Sync + 'static> Runtime<G, M, E> {
    /// A loop over a group this node has joined.
    pub fn new(
        mut group: G,
        machine: M,
        exec: E,
        store: store::Store,
        saved: Option<String>,
    ) -> Self {
        let (done_tx, done_rx) = channel();
        let wake = Wake::new()
            .inspect_err(|e| tracing::warn!(error = %e, "no wake pipe: ended operations wait for the next turn"))
            .ok();
        if let Some(w) = &wake {
            use std::os::fd::AsRawFd;
            group.wake_on(w.read.as_raw_fd());
        }
        Runtime {
            wake,
            group,
            machine,
            exec: Arc::new(exec),
            store,
            outgoing: Outgoing::new(),
            done_tx,
            done_rx,
            attrs: None,
            clients: BTreeMap::new(),
            running: 0,
            saved,
            alerts: None,
            clock: Box::new(now_ms),
            pacemaker: None,
        }
    }

    /// Reads the promotion scores agents leave under `dir` (`<dir>/<node>`, as the
    /// runner's `attr_root` tells them) after each of their operations, and hands them to
    /// the machine with the result ([`Input::Scores`] right before [`Input::Done`]).
    pub fn with_attr_dir(mut self, dir: PathBuf) -> Self {
        self.attrs = Some(dir);
        self
    }

    /// Feeds the machine the resource ids of a Pacemaker on this node as they change.
    pub fn with_pacemaker(mut self, ids: Receiver<std::collections::BTreeSet<String>>) -> Self {
        self.pacemaker = Some(ids);
        self
    }

    /// Replaces the clock (tests).
    #[cfg(test)]
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// The machine (tests look into it).
    #[cfg(test)]
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// How many operations run now.
    pub fn running(&self) -> usize {
        self.running
    }

    /// One turn of the loop: wait for Corosync at most `wait` (and not past the machine's
    /// deadline), take in what happened, tick, carry out the outputs. An error is fatal:
    /// Corosync is gone, or the state cannot be saved.
    pub fn turn(
        &mut self,
        wait: Duration,
        requests: impl FnMut() -> Option<Incoming>,
    ) -> Result<()> {
        let now = (self.clock)();
        let wait = match self.machine.next_deadline() {
            Some(d) => wait.min(Duration::from_millis(d.saturating_sub(now))),
            None => wait,
        };
        if self.group.is_closed() {
            bail!("the connection to corosync is gone (is corosync running?)");
        }
        let mut event = self.group.wait(wait);
        if let Some(w) = &self.wake {
            w.drain();
        }
        while let Some(ev) = event {
            tracing::debug!(?ev, "corosync");
            self.machine.handle(Input::Cluster(ev), (self.clock)());
            self.carry_out()?;
            event = self.group.poll();
        }
        while let Ok((id, result, scores)) = self.done_rx.try_recv() {
            self.running -= 1;
            tracing::debug!(run = id.0, ?result, ?scores, "operation done");
            if let Some(s) = scores {
                self.machine.handle(Input::Scores(s), (self.clock)());
            }
            self.machine
                .handle(Input::Done { id, result }, (self.clock)());
            self.carry_out()?;
        }
        while let Some(ids) = self.pacemaker.as_ref().and_then(|rx| rx.try_recv().ok()) {
            self.machine
                .handle(Input::Pacemaker { ids }, (self.clock)());
            self.carry_out()?;
        }
        let mut requests = requests;
        while let Some(inc) = requests() {
            self.request(inc);
            self.carry_out()?;
        }
        let now = (self.clock)();
        if self.machine.next_deadline().is_some_and(|d| d <= now) {
            self.machine.tick(now);
        }
        self.carry_out()
    }

    fn request(&mut self, inc: Incoming) {
        let Incoming {
            client,
            msg,
            replies,
        } = inc;
        match msg.into_request() {
            None => {
                let _ = replies.send(ServerMsg::Status(Box::new(self.machine.status())));
            }
            Some(request) => {
                match &request {
                    ::daemon::Request::Apply { file, xml } => {
                        tracing::info!(client = client.0, file, bytes = xml.len(), "request: apply")
                    }
                    other => tracing::info!(client = client.0, request = ?other, "request"),
                }
                self.clients.insert(client, replies);
                self.machine
                    .handle(Input::Request { client, request }, (self.clock)());
            }
        }
    }

    /// Carries out what the machine wants, in order, then sends what waits.
    fn carry_out(&mut self) -> Result<()> {
        for out in self.machine.take_outputs() {
            match out {
                Output::Send(bytes) => self.outgoing.push(bytes),
                Output::Run { id, op, call_id } => self.run(id, op, call_id),
                Output::Save { xml } => {
                    let v = self.store.put(&xml).with_context(|| {
                        format!(
                            "failed to save the cluster's CIB in {}",
                            self.store.dir().display()
                        )
                    })?;
                    tracing::debug!(version = %store::version_string(v), "saved");
                    self.saved = Some(xml);
                    self.alerts = None;
                }
                Output::Alert(event) => self.alert(event),
                Output::Reply { client, reply } => {
                    let msg = ServerMsg::from(reply);
                    let last = msg.is_last();
                    let gone = match self.clients.get(&client) {
                        Some(tx) => tx.send(msg).is_err(),
                        None => true,
                    };
                    if gone || last {
                        self.clients.remove(&client);
                    }
                }
            }
        }
        match self.outgoing.flush(&mut self.group) {
            Ok(_) => Ok(()),
            Err(cluster::Error::Closed) => {
                bail!("the connection to corosync is gone (is corosync running?)")
            }
            Err(e) => bail!("corosync refused a message: {e}"),
        }
    }

    /// Runs `op` in a thread; its result comes back through the done channel.
    fn run(&mut self, id: RunId, mut op: OpKind, call_id: i64) {
        if let OpKind::Rsc(r) = &mut op {
            // The agent carries its call marker, as under apply: a daemon that restarts
            // finds an agent still running from before by it.
            r.meta.push(self.store.call_marker(call_id));
            tracing::info!(run = id.0, rsc = %r.rsc, action = %r.action, node = %r.node, "run");
        } else if let OpKind::Fence(f) = &op {
            tracing::info!(run = id.0, target = %f.target, action = %f.action, "fence");
        }
        let exec = self.exec.clone();
        let tx = self.done_tx.clone();
        let waker = self.wake.as_ref().map(|w| w.write.clone());
        // The node's attribute directory, when the operation is an agent's.
        let attrs = match &op {
            OpKind::Rsc(r) => self.attrs.as_ref().map(|d| d.join(&r.node)),
            _ => None,
        };
        self.running += 1;
        let spawned = std::thread::Builder::new()
            .name(format!("run-{}", id.0))
            .spawn(move || {
                let ran = exec.run(&op);
                log_ran(id, &ran);
                let scores = attrs.as_deref().map(executor::read_promotion_scores);
                let _ = tx.send((id, ran.result(), scores));
                if let Some(w) = &waker {
                    wake(w);
                }
            });
        if let Err(e) = spawned {
            // Not run at all: said as an agent that could not be started.
            tracing::error!(run = id.0, error = %e, "cannot start a thread for an operation");
            let _ = self.done_tx.send((
                id,
                OpResult::Agent {
                    rc: 1,
                    timed_out: false,
                    exec_ms: 0,
                    exit_reason: Some(format!("the daemon could not start it: {e}")),
                    restart: None,
                },
                None,
            ));
        }
    }

    /// Runs the CIB's alert agents for `event` in a thread (they block until each ends or
    /// is killed at its timeout); how each ended is logged.
    fn alert(&mut self, event: executor::alert::AlertEvent) {
        let saved = self.saved.as_deref();
        let alerts = self
            .alerts
            .get_or_insert_with(|| saved.map(alerts_of).unwrap_or_default())
            .clone();
        tracing::debug!(?event, agents = alerts.len(), "alert");
        if alerts.is_empty() {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("alert".into())
            .spawn(move || {
                for sent in executor::alert::send(&alerts, &event) {
                    match (&sent.error, sent.rc) {
                        (None, Some(0)) => {
                            tracing::debug!(alert = %sent.alert, recipient = ?sent.recipient, "alert sent")
                        }
                        (error, rc) => tracing::warn!(
                            alert = %sent.alert,
                            recipient = ?sent.recipient,
                            ?rc,
                            error = error.as_deref().unwrap_or(""),
                            "alert agent failed"
                        ),
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start a thread for the alert agents");
        }
    }

    /// Sends what still waits and gives the group back (dropping it leaves the CPG group).
    pub fn shutdown(mut self) -> G {
        let _ = self.outgoing.flush(&mut self.group);
        for (_, tx) in std::mem::take(&mut self.clients) {
            let _ = tx.send(ServerMsg::Done {
                ok: false,
                message: "the daemon is stopping".into(),
            });
        }
        self.group
    }
}

/// Says why a fence failed (the result the machine gets only says that it did).
fn log_ran(id: RunId, ran: &Ran) {
    match ran {
        Ran::Fence { attempts, .. } if ran.rc() != 0 || attempts.is_empty() => {
            if attempts.is_empty() {
                tracing::warn!(run = id.0, "fence: no device can fence the target");
            }
            for a in attempts {
                match &a.outcome {
                    Ok(o) => tracing::warn!(
                        run = id.0,
                        device = %a.device,
                        rc = o.rc,
                        timed_out = o.timed_out,
                        reason = o.exit_reason.as_deref().unwrap_or(""),
                        output = %o.stdout.trim(),
                        "fence attempt failed"
                    ),
                    Err(e) => {
                        tracing::warn!(run = id.0, device = %a.device, error = %e, "fence attempt failed")
                    }
                }
            }
        }
        _ => tracing::debug!(run = id.0, ?ran, "ran"),
    }
}

/// The control socket's requests, for [`Runtime::turn`].
pub fn from_server(server: &super::control::Server) -> impl FnMut() -> Option<Incoming> + '_ {
    move || server.try_recv()
}

#[cfg(test)]
mod tests;
