#![no_main]
//! `tenantd::grpc::fuzzing::names`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::grpc::fuzzing::seed_corpus("names"),
    |data: &[u8]| tenantd::grpc::fuzzing::names(data)
);
