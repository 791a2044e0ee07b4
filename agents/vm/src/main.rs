//! `ocf:crm-lite:vm`: the agent binary. All logic lives in the library.

fn main() {
    ocf::dispatch::main(&vm::Vm::new(vm::virt::LibVirt))
}
