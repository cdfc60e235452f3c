#![no_main]
//! `tenantd::fuzzing::names`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::fuzzing::seed_corpus("names"),
    |data: &[u8]| tenantd::fuzzing::names(data)
);
