#![no_main]
//! `tenantd::fuzzing::page_token`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::fuzzing::seed_corpus("page_token"),
    |data: &[u8]| tenantd::fuzzing::page_token(data)
);
