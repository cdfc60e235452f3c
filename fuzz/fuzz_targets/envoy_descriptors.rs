#![no_main]
//! `tenantd::fuzzing::envoy_descriptors`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::fuzzing::seed_corpus("envoy_descriptors"),
    |data: &[u8]| tenantd::fuzzing::envoy_descriptors(data)
);
