//! `ocf:crm-lite:drbd`: the agent binary. All logic lives in the library.

fn main() {
    ocf::dispatch::main(&drbd::Drbd)
}
