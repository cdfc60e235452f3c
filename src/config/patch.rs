//! What a change does to a configuration layer: replace it, patch the
//! paths of an update mask, or restore a version; and the bounds every
//! layer and change comment must keep, checked before anything is stored.

use serde_json::{Map, Value};

use crate::error::{Error, Result, Violations};

/// The largest layer document accepted, serialised as JSON.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// The deepest nesting of objects and lists accepted in a layer.
pub const MAX_DEPTH: usize = 32;
/// The longest comment kept with a version, in characters.
pub const MAX_COMMENT_CHARS: usize = 500;

/// What a change does to a layer.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerChange {
    /// The layer becomes `values`.
    Replace(Map<String, Value>),
    /// Each path is set to its value in `values`, or removed when absent.
    Patch {
        /// Where the values are read from.
        values: Map<String, Value>,
        /// Key paths, each non-empty.
        paths: Vec<Vec<String>>,
    },
    /// The layer becomes the content of this version.
    Restore(i64),
}

/// Parses the paths of an UpdateConfig mask: `values.{key}.{subkey}…`;
/// `None` when the whole layer is replaced (no paths, `values` or `*`).
pub fn mask_paths(paths: &[String], field: &str) -> Result<Option<Vec<Vec<String>>>> {
    if paths.is_empty() || paths.iter().any(|path| path == "values" || path == "*") {
        return Ok(None);
    }
    let mut parsed = Vec::with_capacity(paths.len());
    let mut violations = Vec::new();
    for path in paths {
        let keys: Option<Vec<String>> = path
            .strip_prefix("values.")
            .map(|rest| rest.split('.').map(str::to_owned).collect());
        match keys {
            Some(keys) if keys.iter().all(|key| is_mask_key(key)) => parsed.push(keys),
            _ => violations.refuse(
                field,
                format!(
                    "{path:?} must be values.{{key}}[.{{subkey}}…] with keys of lowercase letters, digits and '_', starting with a letter"
                )),
        }
    }
    if violations.is_empty() {
        Ok(Some(parsed))
    } else {
        Err(Error::InvalidArgument(violations))
    }
}

/// Whether a FieldMask may name `key`.
fn is_mask_key(key: &str) -> bool {
    key.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && key
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

/// The value at `path` in `values`, if every step is an object holding it.
fn lookup<'a>(values: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let found = values.get(first)?;
    if rest.is_empty() {
        return Some(found);
    }
    lookup(found.as_object()?, rest)
}

/// Sets `path` in `layer` to `value`, making (or replacing with) objects
/// on the way; removes it when `value` is `None`.
fn put(layer: &mut Map<String, Value>, path: &[String], value: Option<&Value>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        match value {
            Some(value) => {
                layer.insert(first.clone(), value.clone());
            }
            None => {
                layer.remove(first);
            }
        }
        return;
    }
    if value.is_none() && !layer.get(first).is_some_and(Value::is_object) {
        return;
    }
    let entry = layer
        .entry(first.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(inner) = entry {
        put(inner, rest, value);
    }
}

/// The layer `current` becomes with the patch of `paths` from `values`.
pub fn apply_patch(
    current: &Map<String, Value>,
    values: &Map<String, Value>,
    paths: &[Vec<String>],
) -> Map<String, Value> {
    let mut next = current.clone();
    for path in paths {
        put(&mut next, path, lookup(values, path));
    }
    next
}

/// Refuses a layer document beyond [`MAX_DOCUMENT_BYTES`] or
/// [`MAX_DEPTH`].
pub fn check_limits(values: &Map<String, Value>, field: &str) -> Result<()> {
    let size = serde_json::to_vec(values).map_err(Error::internal)?.len();
    if size > MAX_DOCUMENT_BYTES {
        return Err(Error::invalid_field(
            field,
            format!("is {size} bytes as JSON; at most {MAX_DOCUMENT_BYTES} are accepted"),
        ));
    }
    let deepest = values.values().map(depth).max().unwrap_or(0) + 1;
    if deepest > MAX_DEPTH {
        return Err(Error::invalid_field(
            field,
            format!("nests {deepest} levels deep; at most {MAX_DEPTH} are accepted"),
        ));
    }
    Ok(())
}

/// How many objects and lists nest in `value`, itself included.
fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Refuses a comment longer than [`MAX_COMMENT_CHARS`].
pub fn check_comment(comment: &str, field: &str) -> Result<()> {
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(Error::invalid_field(
            field,
            format!("must be at most {MAX_COMMENT_CHARS} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::layered::object;

    #[test]
    fn patches_set_and_remove_named_paths_only() {
        let current = object(json!({"a": {"x": 1, "y": 2}, "b": 1}));
        let values = object(json!({"a": {"x": 5}, "c": "new"}));
        let paths = mask_paths(
            &["values.a.x".into(), "values.a.y".into(), "values.c".into()],
            "update_mask",
        )
        .expect("valid")
        .expect("a patch");
        assert_eq!(
            Value::Object(apply_patch(&current, &values, &paths)),
            json!({"a": {"x": 5}, "b": 1, "c": "new"})
        );
        assert_eq!(mask_paths(&["*".into()], "m").expect("valid"), None);
        assert!(mask_paths(&["a.b".into()], "m").is_err());
        assert!(mask_paths(&["values.Bad".into()], "m").is_err());
    }

    #[test]
    fn limits_refuse_deep_and_large_documents() {
        let mut deep = json!(1);
        for _ in 0..=MAX_DEPTH {
            deep = json!({ "k": deep });
        }
        assert!(check_limits(&object(deep), "f").is_err());
        let large = object(json!({"s": "x".repeat(MAX_DOCUMENT_BYTES)}));
        assert!(check_limits(&large, "f").is_err());
        assert!(check_limits(&object(json!({"a": {"b": [1]}})), "f").is_ok());
    }
}
