//! Update masks of top-level fields, read one way for every Update request
//! that takes one: the mask's paths in its order, `*` standing for every
//! mutable field, or without a mask (or with an empty one) the mutable
//! fields the request sets.

use prost_types::FieldMask;

use crate::error::FieldViolation;

/// The mutable fields of a message, in the order `*` stands for them, each
/// with whether the request sets it.
pub type MutableFields = [(&'static str, bool)];

/// The paths an update changes: the mask's in its order, `*` replaced by
/// every mutable field; without paths, the fields the request sets. A path
/// that names no mutable field stays, for the caller to refuse with
/// [`not_mutable`] where it stands, so that violations come in the mask's
/// order.
pub fn update_paths<'a>(mask: Option<&'a FieldMask>, fields: &MutableFields) -> Vec<&'a str> {
    let every = fields.iter().map(|(field, _)| *field);
    let Some(mask) = mask.filter(|mask| !mask.paths.is_empty()) else {
        let set = fields.iter().filter(|(_, set)| *set);
        return set.map(|(field, _)| *field).collect();
    };
    let mut paths = Vec::with_capacity(mask.paths.len());
    for path in &mask.paths {
        if path == "*" {
            paths.extend(every.clone());
        } else {
            paths.push(path.as_str());
        }
    }
    paths
}

/// The violation of a mask `path` that names no mutable field of
/// `message` (`Plan`).
pub fn not_mutable(path: &str, message: &str, fields: &MutableFields) -> FieldViolation {
    let mutable: Vec<&str> = fields.iter().map(|(field, _)| *field).collect();
    FieldViolation::new(
        "update_mask",
        format!(
            "{path:?} is not a mutable field of {message}; mutable fields: {}",
            mutable.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &MutableFields = &[("a", false), ("b", true), ("c", true)];

    fn mask(paths: &[&str]) -> FieldMask {
        FieldMask {
            paths: paths.iter().map(|path| (*path).to_owned()).collect(),
        }
    }

    #[test]
    fn without_paths_the_set_fields_are_changed() {
        assert_eq!(update_paths(None, FIELDS), ["b", "c"]);
        assert_eq!(update_paths(Some(&mask(&[])), FIELDS), ["b", "c"]);
    }

    #[test]
    fn a_star_stands_for_every_field_where_it_is() {
        let given = mask(&["c", "*", "x"]);
        assert_eq!(
            update_paths(Some(&given), FIELDS),
            ["c", "a", "b", "c", "x"]
        );
        assert_eq!(
            not_mutable("x", "Thing", FIELDS).description,
            "\"x\" is not a mutable field of Thing; mutable fields: a, b, c"
        );
    }
}
