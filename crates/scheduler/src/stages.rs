//! The scheduler's stages one by one, for the stage benchmarks (`benches/stages.rs`) and
//! profiling: [`build`] the working set (configuration and status unpacking), [`assign`]
//! it, derive the [`actions`]. [`crate::schedule`] is the three in a row; nothing else
//! should call these.
use cib::Cib;

use crate::{Input, Plan, actions, assign, ws};

/// A built working set, opaque.
#[derive(Debug, Clone)]
pub struct Working(ws::WorkingSet);

/// Build the working set: nodes, resources, constraints, the status unpacked.
pub fn build(cib: &Cib, input: &Input) -> Working {
    Working(ws::WorkingSet::build(cib, input))
}

/// Place every resource.
pub fn assign(w: &mut Working) {
    assign::assign_all(&mut w.0);
}

/// Derive the plan from an assigned working set.
pub fn actions(w: &mut Working) -> Plan {
    actions::create(&mut w.0)
}
