#![no_main]
//! `tenantd::grpc::fuzzing::usage_events`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::grpc::fuzzing::seed_corpus("usage_events"),
    |data: &[u8]| tenantd::grpc::fuzzing::usage_events(data)
);
