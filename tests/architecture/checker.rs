//! Reads a crate as the compiler would: from `lib.rs`, following every
//! `mod` declaration, into its modules, their imports and their re-exports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use syn::visit::Visit;

/// A module's path below the crate root, e.g. `["store", "txn"]`.
pub(crate) type ModPath = Vec<String>;

/// The rooms of the foundation: they import no service.
pub(crate) const FOUNDATION: &[&str] = &[
    "error",
    "common",
    "store",
    "rpc",
    "pb",
    "cloudevents",
    "envoy",
];
/// The services: each imports the foundation and other services' faces.
pub(crate) const SERVICES: &[&str] = &[
    "access", "tenancy", "config", "flags", "quota", "usage", "slo", "events",
];

/// One module of the crate, as read from its file.
#[derive(Debug, Default)]
pub(crate) struct Module {
    /// The file it was read from, relative to `src/`.
    pub(crate) file: String,
    /// Names of the modules declared inside it.
    pub(crate) children: BTreeSet<String>,
    /// Every path it imports, made absolute but not yet resolved.
    pub(crate) imports: Vec<ModPath>,
    /// Its `pub use` items: name → the absolute path they re-export.
    pub(crate) reexports: BTreeMap<String, ModPath>,
}

/// The crate's modules by path, read from `src/lib.rs`.
#[derive(Debug, Default)]
pub(crate) struct Crate {
    /// By module path; the root is the empty path.
    pub(crate) modules: BTreeMap<ModPath, Module>,
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
    pub(crate) fn read(src: &Path) -> Result<Self, String> {
        let mut krate = Crate::default();
        krate.read_file(src, Path::new("lib.rs"), Vec::new(), true)?;
        Ok(krate)
    }

    pub(crate) fn read_file(
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

    pub(crate) fn read_items(
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
    pub(crate) fn module_prefix(&self, path: &[String]) -> usize {
        (0..=path.len())
            .rev()
            .find(|&len| self.modules.contains_key(&path[..len]))
            .unwrap_or(0)
    }

    /// The module that defines what `path` names, through re-exports.
    pub(crate) fn defining_module(&self, path: &[String]) -> ModPath {
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
