//! The architecture test: reads `src/` as the compiler would (from `lib.rs`,
//! following every `mod` declaration) and holds the crate to the layout
//! `lib.rs` documents under `# Layout`:
//!
//! - no import circle between modules;
//! - imports point down: the foundation (`error`, `common`, `store`, `rpc`
//!   and the generated `pb` and `envoy`) imports no service and nothing
//!   above it; a service (`access`, `tenancy`, `config`, `flags`, `quota`,
//!   `usage`) imports nothing above the services;
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
//! The checker's own tests below build small crates with a circle and with
//! each forbidden import and show each one is reported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module's path below the crate root, e.g. `["store", "txn"]`.
type ModPath = Vec<String>;

/// The rooms of the foundation: they import no service.
const FOUNDATION: &[&str] = &["error", "common", "store", "rpc", "pb", "envoy"];
/// The services: each imports the foundation and other services' faces.
const SERVICES: &[&str] = &["access", "tenancy", "config", "flags", "quota", "usage"];

/// One module of the crate, as read from its file.
#[derive(Debug, Default)]
struct Module {
    /// The file it was read from, relative to `src/`.
    file: String,
    /// Names of the modules declared inside it.
    children: BTreeSet<String>,
    /// Every path it imports, made absolute but not yet resolved.
    imports: Vec<ModPath>,
    /// Its `pub use` items: name → the absolute path they re-export.
    reexports: BTreeMap<String, ModPath>,
}

/// The crate's modules by path, read from `src/lib.rs`.
#[derive(Debug, Default)]
struct Crate {
    /// By module path; the root is the empty path.
    modules: BTreeMap<ModPath, Module>,
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Meta>()
                .is_ok_and(|meta| meta.path().is_ident("test"))
    })
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| match &attr.meta {
        syn::Meta::NameValue(pair) if pair.path.is_ident("path") => match &pair.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) => Some(text.value()),
            _ => None,
        },
        _ => None,
    })
}

/// Every leaf of a `use` tree as (segments as written, name it binds).
fn use_leaves(prefix: &[String], tree: &syn::UseTree, out: &mut Vec<(ModPath, Option<String>)>) {
    match tree {
        syn::UseTree::Path(path) => {
            let mut longer = prefix.to_vec();
            longer.push(path.ident.to_string());
            use_leaves(&longer, &path.tree, out);
        }
        syn::UseTree::Name(name) if name.ident == "self" => {
            let bound = prefix.last().cloned();
            out.push((prefix.to_vec(), bound));
        }
        syn::UseTree::Name(name) => {
            let mut path = prefix.to_vec();
            path.push(name.ident.to_string());
            out.push((path, Some(name.ident.to_string())));
        }
        syn::UseTree::Rename(rename) => {
            let mut path = prefix.to_vec();
            if rename.ident != "self" {
                path.push(rename.ident.to_string());
            }
            out.push((path, Some(rename.rename.to_string())));
        }
        syn::UseTree::Glob(_) => out.push((prefix.to_vec(), None)),
        syn::UseTree::Group(group) => {
            for item in &group.items {
                use_leaves(prefix, item, out);
            }
        }
    }
}

/// `segments` as written in module `here` (with `children`), made absolute;
/// `None` for paths into other crates.
fn absolute(here: &[String], children: &BTreeSet<String>, segments: &[String]) -> Option<ModPath> {
    let first = segments.first()?;
    match first.as_str() {
        "crate" => Some(segments[1..].to_vec()),
        "self" => Some([here, &segments[1..]].concat()),
        "super" => {
            let mut base = here.to_vec();
            let mut rest = segments;
            while rest.first().is_some_and(|segment| segment == "super") {
                base.pop();
                rest = &rest[1..];
            }
            Some([base.as_slice(), rest].concat())
        }
        name if children.contains(name) => Some([here, segments].concat()),
        _ => None,
    }
}

/// Collects the paths a module's code names.
struct PathCollector<'a> {
    /// Paths as written.
    found: &'a mut Vec<ModPath>,
}

impl<'ast> Visit<'ast> for PathCollector<'_> {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: ModPath = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.found.push(segments);
        syn::visit::visit_path(self, path);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut leaves = Vec::new();
        use_leaves(&[], &item.tree, &mut leaves);
        self.found.extend(leaves.into_iter().map(|(path, _)| path));
    }

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {}

    // `pub(crate)` and `pub(super)` name no item.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}
}

impl Crate {
    /// Reads the crate whose `lib.rs` is in `src`.
    fn read(src: &Path) -> Result<Self, String> {
        let mut krate = Crate::default();
        krate.read_file(src, Path::new("lib.rs"), Vec::new(), true)?;
        Ok(krate)
    }

    fn read_file(
        &mut self,
        src: &Path,
        file: &Path,
        path: ModPath,
        owns_dir: bool,
    ) -> Result<(), String> {
        let text = std::fs::read_to_string(src.join(file))
            .map_err(|error| format!("{}: {error}", file.display()))?;
        let parsed =
            syn::parse_file(&text).map_err(|error| format!("{}: {error}", file.display()))?;
        // Where this file's child modules live.
        let dir = if owns_dir {
            file.parent().unwrap_or(Path::new("")).to_path_buf()
        } else {
            file.with_extension("")
        };
        let here_dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
        self.read_items(src, file, &dir, &here_dir, path, &parsed.items)
    }

    fn read_items(
        &mut self,
        src: &Path,
        file: &Path,
        dir: &Path,
        here_dir: &Path,
        path: ModPath,
        items: &[syn::Item],
    ) -> Result<(), String> {
        let mut module = Module {
            file: file.display().to_string(),
            ..Module::default()
        };
        let mut written = Vec::new();
        let mut children = Vec::new();
        for item in items {
            match item {
                syn::Item::Mod(declared) if is_cfg_test(&declared.attrs) => {}
                syn::Item::Mod(declared) => {
                    let name = declared.ident.to_string();
                    module.children.insert(name.clone());
                    children.push(declared);
                }
                syn::Item::Use(used) => {
                    let mut leaves = Vec::new();
                    use_leaves(&[], &used.tree, &mut leaves);
                    let public = !matches!(used.vis, syn::Visibility::Inherited);
                    for (segments, bound) in leaves {
                        if public && let Some(name) = bound {
                            module.reexports.insert(name, segments.clone());
                        }
                        written.push(segments);
                    }
                }
                other => PathCollector {
                    found: &mut written,
                }
                .visit_item(other),
            }
        }
        module.imports = written
            .iter()
            .filter_map(|segments| absolute(&path, &module.children, segments))
            .collect();
        module.reexports = module
            .reexports
            .iter()
            .filter_map(|(name, segments)| {
                absolute(&path, &module.children, segments).map(|target| (name.clone(), target))
            })
            .collect();
        self.modules.insert(path.clone(), module);
        for declared in children {
            let name = declared.ident.to_string();
            let child_path = [path.as_slice(), std::slice::from_ref(&name)].concat();
            if let Some((_, items)) = &declared.content {
                let inner_dir = dir.join(&name);
                self.read_items(src, file, &inner_dir, here_dir, child_path, items)?;
                continue;
            }
            let (child_file, owns_dir) = match path_attr(&declared.attrs) {
                Some(relative) => (here_dir.join(relative), false),
                None if src.join(dir.join(format!("{name}.rs"))).exists() => {
                    (dir.join(format!("{name}.rs")), false)
                }
                None => (dir.join(&name).join("mod.rs"), true),
            };
            self.read_file(src, &child_file, child_path, owns_dir)?;
        }
        Ok(())
    }

    /// The longest prefix of `path` that is a module.
    fn module_prefix(&self, path: &[String]) -> usize {
        (0..=path.len())
            .rev()
            .find(|&len| self.modules.contains_key(&path[..len]))
            .unwrap_or(0)
    }

    /// The module that defines what `path` names, through re-exports.
    fn defining_module(&self, path: &[String]) -> ModPath {
        let mut current = path.to_vec();
        for _ in 0..16 {
            let len = self.module_prefix(&current);
            let module = &self.modules[&current[..len]];
            match current.get(len).and_then(|name| module.reexports.get(name)) {
                Some(target) if target.as_slice() != current.as_slice() => {
                    current = [target.as_slice(), &current[len + 1..]].concat();
                }
                _ => return current[..len].to_vec(),
            }
        }
        current
    }
}

fn room(path: &[String]) -> &str {
    path.first().map_or("crate", String::as_str)
}

fn display(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_owned()
    } else {
        format!("crate::{}", path.join("::"))
    }
}

/// What breaks the rules when module `from` imports `written`, which
/// `defined` defines.
fn direction_violation(
    krate: &Crate,
    from: &[String],
    written: &[String],
    defined: &[String],
) -> Option<String> {
    let (source, target) = (room(from), room(defined));
    if source == target {
        return None;
    }
    let source_is_foundation = FOUNDATION.contains(&source);
    let target_is_service = SERVICES.contains(&target);
    let target_is_foundation = FOUNDATION.contains(&target);
    if source_is_foundation && !target_is_foundation {
        return Some(format!("the foundation imports {target}"));
    }
    if SERVICES.contains(&source) && !target_is_service && !target_is_foundation {
        return Some(format!(
            "a service imports {target}, which sits above the services"
        ));
    }
    if target == "cli" || target == "fuzzing" {
        return Some(format!("{target} is imported"));
    }
    if target == "server" && source != "cli" {
        return Some("the composition root is imported".to_owned());
    }
    if SERVICES.contains(&source) && target_is_service {
        let through_face = room(written) == target
            && written.len() >= 2
            && !krate.modules.contains_key(&written[..2]);
        if !through_face {
            return Some(format!("reaches past {target}'s face into its files"));
        }
    }
    None
}

/// Every circle and every forbidden import of the crate in `src`.
fn violations(src: &Path) -> Result<Vec<String>, String> {
    let krate = Crate::read(src)?;
    let mut found = BTreeSet::new();
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (path, module) in &krate.modules {
        for written in &module.imports {
            let defined = krate.defining_module(written);
            if let Some(rule) = direction_violation(&krate, path, written, &defined) {
                found.insert(format!("src/{}: {rule}: {}", module.file, display(written)));
            }
            let is_ancestor = defined.len() <= path.len() && path[..defined.len()] == defined[..];
            if !is_ancestor {
                edges.entry(path.clone()).or_default().insert(defined);
            }
        }
    }
    for circle in circles(&edges) {
        let names: Vec<String> = circle.iter().map(|path| display(path)).collect();
        found.insert(format!("import circle: {}", names.join(" → ")));
    }
    Ok(found.into_iter().collect())
}

/// The strongly connected components of more than one module (Tarjan).
fn circles(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct State<'a> {
        edges: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        found: Vec<Vec<ModPath>>,
    }
    fn visit<'a>(state: &mut State<'a>, node: &'a ModPath) {
        let next = state.index.len();
        state.index.insert(node, next);
        state.low.insert(node, next);
        state.stack.push(node);
        state.on_stack.insert(node);
        if let Some(targets) = state.edges.get(node) {
            for target in targets {
                if !state.index.contains_key(target) {
                    visit(state, target);
                    let low = state.low[node].min(state.low[target]);
                    state.low.insert(node, low);
                } else if state.on_stack.contains(target) {
                    let low = state.low[node].min(state.index[target]);
                    state.low.insert(node, low);
                }
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                component.push(member.clone());
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in edges.keys() {
        if !state.index.contains_key(node) {
            visit(&mut state, node);
        }
    }
    state.found
}

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
