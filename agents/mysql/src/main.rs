//! `ocf:crm-lite:mysql`: the agent binary. All logic lives in the library.

fn main() {
    ocf::dispatch::main(&mysql::Mysql)
}
