//! `ocf:crm-lite:haproxy`: the agent binary. All logic lives in the library.

fn main() {
    ocf::dispatch::main(&haproxy::Haproxy)
}
