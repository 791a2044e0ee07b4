//! `drbd-emu`: DRBD 9's `drbdadm` and `drbdsetup` emulated for machines without the DRBD
//! kernel module. Called through symlinks named `drbdadm` and `drbdsetup`; the state is in
//! the JSON file named by `DRBD_EMU_STATE`. See `tests::drbd_emu`.

fn main() {
    std::process::exit(tests::drbd_emu::main())
}
