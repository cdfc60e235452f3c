#![no_main]
//! `tenantd::fuzzing::config`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::fuzzing::seed_corpus("config"),
    |data: &[u8]| tenantd::fuzzing::config(data)
);
