//! The layout's rules over a read crate: which import breaks the
//! direction of the rooms or reaches past a face, and which modules import
//! each other in a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::checker::{Crate, FOUNDATION, ModPath, SERVICES};

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
pub(crate) fn violations(src: &Path) -> Result<Vec<String>, String> {
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
