#![no_main]
//! `tenantd::fuzzing::request`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::fuzzing::seed_corpus("request"),
    |data: &[u8]| tenantd::fuzzing::request(data)
);
