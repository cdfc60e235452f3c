#![no_main]
//! `tenantd::fuzzing::filter`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::fuzzing::seed_corpus("filter"),
    |data: &[u8]| tenantd::fuzzing::filter(data)
);
