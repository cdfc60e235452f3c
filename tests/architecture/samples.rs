//! The checker's own tests: small crates in the layout, then with a
//! circle and with each forbidden import, each one reported.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::rules::violations;

/// A throwaway crate under the temporary directory, from (file, text) pairs.
fn sample(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = std::env::temp_dir().join(format!(
        "tenantd-architecture-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    for (file, text) in files {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("a directory");
        std::fs::write(path, text).expect("a file");
    }
    root
}

/// Rooms every sample has, so each sample adds only what it shows.
const SAMPLE_BASE: &[(&str, &str)] = &[
    (
        "lib.rs",
        "pub mod store;\npub mod quota;\npub mod usage;\npub mod cli;\npub mod server;\n",
    ),
    ("store/mod.rs", "pub mod txn;\npub struct Store;\n"),
    (
        "store/txn.rs",
        "use super::Store;\npub struct Txn(Store);\n",
    ),
    ("quota/mod.rs", "mod quotas;\npub use quotas::Quotas;\n"),
    (
        "quota/quotas.rs",
        "use crate::store::Store;\npub struct Quotas(Store);\n",
    ),
    (
        "cli/mod.rs",
        "use crate::server::run;\npub fn main() { run() }\n",
    ),
    (
        "server/mod.rs",
        "use crate::quota::Quotas;\npub fn run() {}\n",
    ),
    ("usage/mod.rs", "pub struct Usage;\n"),
];

fn sample_with(name: &str, extra: &[(&str, &str)]) -> Vec<String> {
    let mut files: BTreeMap<&str, &str> = SAMPLE_BASE.iter().copied().collect();
    files.extend(extra.iter().copied());
    let files: Vec<(&str, &str)> = files.into_iter().collect();
    let root = sample(name, &files);
    let found = violations(&root).expect("the sample parses");
    let _ = std::fs::remove_dir_all(&root);
    found
}

#[test]
fn a_sample_in_the_layout_has_no_violations() {
    let found = sample_with(
        "clean",
        &[(
            "usage/mod.rs",
            "use crate::quota::Quotas;\npub fn f(_: Quotas) {}\n",
        )],
    );
    assert_eq!(found, Vec::<String>::new());
}

#[test]
fn an_import_circle_is_reported() {
    let found = sample_with(
        "circle",
        &[
            (
                "quota/mod.rs",
                "mod quotas;\nmod plans;\npub use quotas::Quotas;\n",
            ),
            (
                "quota/quotas.rs",
                "use super::plans::Plan;\npub struct Quotas(Plan);\n",
            ),
            (
                "quota/plans.rs",
                "pub struct Plan;\npub fn f(_: super::quotas::Quotas) {}\n",
            ),
        ],
    );
    assert_eq!(
        found,
        vec!["import circle: crate::quota::plans → crate::quota::quotas".to_owned()]
    );
}

#[test]
fn a_circle_through_a_face_is_reported() {
    let found = sample_with(
        "face-circle",
        &[
            (
                "quota/quotas.rs",
                "use crate::usage::Usage;\npub struct Quotas(Usage);\n",
            ),
            (
                "usage/mod.rs",
                "use crate::quota::Quotas;\npub struct Usage;\npub fn f(_: Quotas) {}\n",
            ),
        ],
    );
    assert_eq!(
        found,
        vec!["import circle: crate::quota::quotas → crate::usage".to_owned()]
    );
}

#[test]
fn the_foundation_importing_a_service_is_reported() {
    let found = sample_with(
        "foundation",
        &[(
            "store/txn.rs",
            "use super::Store;\npub struct Txn(Store, crate::quota::Quotas);\n",
        )],
    );
    assert!(
        found.contains(
            &"src/store/txn.rs: the foundation imports quota: crate::quota::Quotas".to_owned()
        ),
        "{found:?}"
    );
}

#[test]
fn reaching_past_a_face_is_reported() {
    let found = sample_with(
        "private-file",
        &[
            ("quota/mod.rs", "pub mod quotas;\npub use quotas::Quotas;\n"),
            (
                "usage/mod.rs",
                "use crate::quota::quotas::Quotas;\npub fn f(_: Quotas) {}\n",
            ),
        ],
    );
    assert_eq!(
        found,
        vec!["src/usage/mod.rs: reaches past quota's face into its files: crate::quota::quotas::Quotas".to_owned()]
    );
}

#[test]
fn importing_the_cli_or_the_composition_root_is_reported() {
    let found = sample_with(
        "top",
        &[(
            "usage/mod.rs",
            "pub fn f() { crate::server::run(); crate::cli::main() }\n",
        )],
    );
    assert_eq!(
        found,
        vec![
            "src/usage/mod.rs: a service imports cli, which sits above the services: crate::cli::main".to_owned(),
            "src/usage/mod.rs: a service imports server, which sits above the services: crate::server::run".to_owned(),
        ]
    );
}
