//! Fuzz the CIB parser: any bytes must parse without panicking, and a well-formed document
//! must survive write-back: reparsing the written XML gives the same model and writes the
//! same bytes again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let first = cib::parse_bytes("fuzz.xml", data);
    let syntax_ok = std::str::from_utf8(data).is_ok()
        && !first
            .diagnostics
            .iter()
            .any(|d| d.message.starts_with("malformed xml"));
    let written = first.doc.to_xml();
    if syntax_ok && first.doc.root().is_some() {
        let again = cib::parse("fuzz.xml", &written);
        assert_eq!(first.cib, again.cib, "model changed by write-back");
        assert_eq!(again.doc.to_xml(), written, "write-back is not stable");
    }
});
