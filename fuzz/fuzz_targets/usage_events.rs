#![no_main]
//! `tenantd::fuzzing::usage_events`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::fuzzing::seed_corpus("usage_events"),
    |data: &[u8]| tenantd::fuzzing::usage_events(data)
);
