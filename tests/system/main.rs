//! System tests: the agents and commands against real processes, sockets and tools.
//! Requirements (root, ocf-tester, xmllint) are installed by `scripts/test`; run by hand
//! without them, a test fails; only a person who sets `CRM_LITE_ALLOW_SKIP=1` sees `skipped: <reason>` instead.

mod apply;
mod cluster;
mod corosync;
mod drbd;
mod faults;
mod filesystem;
mod haproxy;
mod lab;
mod live;
mod mgmt_api;
mod mgmt_api_https;
mod mysql;
mod replays;
mod store;
mod vm;
