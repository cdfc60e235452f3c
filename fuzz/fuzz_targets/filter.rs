#![no_main]
//! `tenantd::grpc::fuzzing::filter`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::grpc::fuzzing::seed_corpus("filter"),
    |data: &[u8]| tenantd::grpc::fuzzing::filter(data)
);
