#![no_main]
//! `tenantd::fuzzing::flags`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::fuzzing::seed_corpus("flags"),
    |data: &[u8]| tenantd::fuzzing::flags(data)
);
