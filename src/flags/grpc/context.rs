//! Bounds of an evaluation context (EvaluateFlag, EvaluateFlags), checked
//! before any of it is converted: the count of attributes, the length of
//! their names, and the encoded size, which also bounds the work of
//! converting nested values.

use crate::error::{Error, Result};
use crate::pb;

/// The most attributes one evaluation context may carry.
const MAX_CONTEXT_ATTRIBUTES: usize = 100;
/// The longest attribute name, in bytes.
const MAX_ATTRIBUTE_NAME_BYTES: usize = 256;
/// The largest evaluation context, encoded: what bounds the work of
/// converting nested values too.
const MAX_CONTEXT_BYTES: usize = 64 * 1024;

/// Refuses a context over its limits, before any of it is converted.
pub(crate) fn check(context: Option<&pb::EvaluationContext>) -> Result<()> {
    let Some(context) = context else {
        return Ok(());
    };
    if context.attributes.len() > MAX_CONTEXT_ATTRIBUTES {
        return Err(Error::invalid_field(
            "context.attributes",
            format!("at most {MAX_CONTEXT_ATTRIBUTES} attributes"),
        ));
    }
    if prost::Message::encoded_len(context) > MAX_CONTEXT_BYTES {
        return Err(Error::invalid_field(
            "context",
            format!("at most {MAX_CONTEXT_BYTES} bytes encoded"),
        ));
    }
    if let Some(name) = context
        .attributes
        .keys()
        .find(|name| name.len() > MAX_ATTRIBUTE_NAME_BYTES)
    {
        return Err(Error::invalid_field(
            format!("context.attributes.{name}"),
            format!("attribute names are at most {MAX_ATTRIBUTE_NAME_BYTES} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(attributes: usize, name_bytes: usize, value_bytes: usize) -> pb::EvaluationContext {
        pb::EvaluationContext {
            targeting_key: "user-1".into(),
            attributes: (0..attributes)
                .map(|index| {
                    let name = format!("{index:0>width$}", width = name_bytes);
                    let value = prost_types::Value {
                        kind: Some(prost_types::value::Kind::StringValue(
                            "v".repeat(value_bytes),
                        )),
                    };
                    (name, value)
                })
                .collect(),
        }
    }

    fn refused_field(context: &pb::EvaluationContext) -> Option<String> {
        match check(Some(context)) {
            Ok(()) => None,
            Err(Error::InvalidArgument(violations)) => Some(violations[0].field.clone()),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn evaluation_contexts_are_bounded_before_conversion() {
        assert_eq!(refused_field(&context(100, 8, 10)), None);
        assert_eq!(
            refused_field(&context(101, 8, 10)).as_deref(),
            Some("context.attributes")
        );
        assert_eq!(refused_field(&context(1, 256, 10)), None);
        let long = refused_field(&context(1, 257, 10)).expect("refused");
        assert!(long.starts_with("context.attributes."), "{long}");
        assert_eq!(
            refused_field(&context(2, 8, 40_000)).as_deref(),
            Some("context")
        );
    }
}
