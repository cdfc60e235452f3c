#![no_main]
//! `tenantd::grpc::fuzzing::tenant_archive`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::grpc::fuzzing::seed_corpus("tenant_archive"),
    |data: &[u8]| tenantd::grpc::fuzzing::tenant_archive(data)
);
