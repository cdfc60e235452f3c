#![no_main]
//! `tenantd::fuzzing::messages::envoy_descriptors`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::fuzzing::seed_corpus("envoy_descriptors"),
    |data: &[u8]| tenantd::fuzzing::messages::envoy_descriptors(data)
);
