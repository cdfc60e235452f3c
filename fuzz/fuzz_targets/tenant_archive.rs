#![no_main]
//! `tenantd::fuzzing::tenant_archive`, from the seeds of `seed_corpus`; see
//! `fuzz/README.md`.

libfuzzer_sys::fuzz_target!(
    init: tenantd::fuzzing::seed_corpus("tenant_archive"),
    |data: &[u8]| tenantd::fuzzing::tenant_archive(data)
);
