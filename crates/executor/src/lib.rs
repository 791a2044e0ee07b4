//! `executor`: runs resource agents the way Pacemaker's executor does, and records what
//! happened in the CIB status in Pacemaker's own `lrm_rsc_op` format, so that `crm_simulate`
//! and `crm-lite simulate` read the same file.
//!
//! - [`Runner`] is the effect boundary: [`OcfRunner`] is the OCF policy (the agent's
//!   lookup and environment as Pacemaker builds them, its meta-data read once, reload
//!   mapping, restart digests, fence-device shortcuts) over [`process`], the thin layer
//!   that spawns one program in its own process group, reads its output within bounds and
//!   kills the group only when its time is up; tests can put a recording fake in its place.
//! - [`record`] writes one operation result into a CIB [`cib::Document`].
//! - [`fence`] fences a node through fence agents (the fence-agents stdin protocol), and
//!   [`fenced`] records it as Pacemaker's controller does.
//! - [`alert`]: Pacemaker-compatible alert events and agents.
//! - [`preflight`] finds configured agents that are not installed, before anything runs.
//! - [`converge`] holds `crm-lite apply`'s loops: plan, lower, run a round, save, until
//!   nothing is left to do; `watch` runs the recurring monitors afterwards.
//! - [`drive`] runs a transition graph through the transition engine on this machine:
//!   ready operations in parallel up to the batch limit, results recorded and journaled,
//!   progress printed.
//! - [`op_digest`] (from `cib::digest`, shared with the scheduler) is Pacemaker's operation
//!   digest, so that a recorded start does not look like a changed definition to Pacemaker.
#![deny(missing_docs)]

pub mod alert;
pub mod converge;
pub mod drive;
pub mod fence;
pub mod metadata;
pub mod preflight;
pub mod process;
mod record;
mod run;

pub use cib::digest::op_digest;
pub use record::{
    OpRecord, fenced, forget_in_flight, node_state, read_promotion_scores, record,
    set_promotion_scores, sync_promotion_scores,
};
pub use run::{
    ExecError, OUTPUT_LIMIT, OcfRunner, Outcome, RSCTMP, Request, Runner, valid_agent_name,
};
