//! `ocf`: what every crm-lite OCF resource agent shares, and nothing cluster-side.
//!
//! An agent declares itself once, as a static [`AgentInfo`] (parameters as [`ParamSpec`]s,
//! actions as [`ActionSpec`]s), implements [`Agent`], and calls [`dispatch::main`]. From that
//! one declaration come:
//!
//! * the meta-data XML, valid against `ra-api-1.dtd` and `metadata.rng` ([`metadata`]);
//! * parameter validation (required, type, allowed values, ranges) and typed access
//!   ([`Params`]), plus the cross-instance `unique` check ([`params::check_unique`]);
//! * dispatch of the action named on the command line, with unknown actions answered by
//!   exit 3 and a usage line, and every failure written as an `ocf-exit-reason:` line.
//!
//! The environment is read once into [`OcfEnv`] (instance parameters, `CRM_meta_*` meta
//! attributes, notification lists in both spellings, the check level). Every action runs
//! against a [`Deadline`] derived from `OCF_RESKEY_CRM_meta_timeout`, and every effect on
//! the system goes through the [`Host`] trait, faked by [`fake::FakeHost`] in tests.
//!
//! Invariants: nothing but meta-data is written to stdout; [`dispatch::main`] is the only
//! place that exits the process; no function here panics on bad input.
#![deny(missing_docs)]

pub mod action;
pub mod deadline;
pub mod dispatch;
pub mod env;
pub mod exit;
pub mod fake;
pub mod host;
pub mod http;
pub mod log;
pub mod metadata;
pub mod params;
pub mod promotion;
pub mod service;
pub mod unix;
pub mod utilization;

pub use action::Action;
pub use deadline::Deadline;
pub use dispatch::{Agent, Ctx};
pub use env::{CheckLevel, OcfEnv};
pub use exit::{ActionResult, Failure, OcfExit, Status};
pub use host::{Host, RealHost};
pub use metadata::{ActionSpec, AgentInfo, Role};
pub use params::{ParamKind, ParamSpec, Params};
