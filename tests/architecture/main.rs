//! The architecture test: reads `src/` as the compiler would (from `lib.rs`,
//! following every `mod` declaration) and holds the crate to the layout
//! `lib.rs` documents under `# Layout`:
//!
//! - no import circle between modules;
//! - imports point down: the foundation (`error`, `common`, `store`, `rpc`
//!   and the generated `pb` and `envoy`) imports no service and nothing
//!   above it; a service (`access`, `tenancy`, `config`, `flags`, `quota`,
//!   `usage`, `slo`) imports nothing above the services;
//! - a service uses another only through that service's face, the items its
//!   `mod.rs` exports (`crate::quota::Quotas`, never `crate::quota::quotas::Quotas`);
//! - nothing imports the CLI (`cli`) or the fuzzing entry points, and only the
//!   CLI imports the composition root (`server`).
//!
//! An import is every `use` and every path in code that starts at `crate`,
//! `super`, `self` or a child module, resolved through `pub use` re-exports
//! to the module that defines the item. Test modules (`#[cfg(test)]`) are
//! left out. A module's use of its own ancestors is not an edge of the
//! circle check: a child module is part of its parent (Rust lets it see the
//! parent's private items for that reason), so `store::txn` using
//! `store::Store` while `store` uses `txn::Txn` is one module's inside.
//!
//!
//! The checker is in `checker.rs` (reading the crate) and `rules.rs` (what
//! an import may reach); its own tests in `samples.rs` build small crates
//! with a circle and with each forbidden import and show each one is
//! reported.

mod checker;
mod rules;
mod samples;

use std::path::PathBuf;

use rules::violations;

#[test]
fn the_crate_keeps_its_layout() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src).expect("src/ parses");
    assert!(
        found.is_empty(),
        "{} violations of the layout:\n{}",
        found.len(),
        found.join("\n")
    );
}
