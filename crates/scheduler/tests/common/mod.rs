//! What the scheduler's integration tests share (each test file uses a part of it).
#![allow(dead_code)]
use scheduler::{Input, Plan, schedule};

/// The plan for the CIB `xml` (which must be valid) at a fixed "now".
pub fn plan_of(xml: &str) -> Plan {
    plan_with(xml, false)
}

/// [`plan_of`], with explanations and the score table when `explain`.
pub fn plan_with(xml: &str, explain: bool) -> Plan {
    let parsed = cib::parse("cib.xml", xml);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    schedule(
        &parsed.cib,
        &Input {
            now: Some(1_700_000_000),
            explain,
        },
    )
}
