//! `ocf:crm-lite:filesystem`: the agent binary. All logic lives in the library.

fn main() {
    ocf::dispatch::main(&filesystem::Filesystem)
}
