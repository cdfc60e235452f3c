#![no_main]
//! `tenantd::grpc::fuzzing::page_token`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::grpc::fuzzing::seed_corpus("page_token"),
    |data: &[u8]| tenantd::grpc::fuzzing::page_token(data)
);
