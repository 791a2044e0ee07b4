//! `ocf:crm-lite:mgmt-api`: the agent binary. All logic lives in the library.

fn main() {
    ocf::dispatch::main(&mgmt_api::MgmtApi)
}
