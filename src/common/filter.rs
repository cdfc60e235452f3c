//! A small subset of the AIP-160 filter language: comparisons joined by
//! `AND`, e.g. `state = ACTIVE AND labels.env = "prod"`. Each listing
//! decides which fields and operators it accepts.
//!
//! Bounded before any work: a filter longer than [`MAX_FILTER_BYTES`] is
//! refused before it is scanned, and parsing stops at the first comparison
//! past [`MAX_COMPARISONS`], so no listing ever builds (or renders) a
//! condition of unbounded size.

use crate::error::{Error, Result};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `<`
    Lt,
}

/// One `field op value` comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The field path, e.g. `labels.env`.
    pub field: String,
    /// The operator.
    pub op: Op,
    /// The value, unquoted.
    pub value: String,
}

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 4096;
/// The most comparisons a filter may join.
pub const MAX_COMPARISONS: usize = 20;

/// Parses a filter into its comparisons; an empty filter has none.
/// Control characters are refused anywhere: no stored value holds one, and
/// PostgreSQL cannot even compare text with a NUL.
pub fn parse(filter: &str, field: &str) -> Result<Vec<Comparison>> {
    if filter.len() > MAX_FILTER_BYTES {
        return Err(Error::invalid_field(
            field,
            format!("must be at most {MAX_FILTER_BYTES} bytes long"),
        ));
    }
    if filter.chars().any(char::is_control) {
        return Err(syntax(field, "must not contain control characters"));
    }
    let tokens = tokenize(filter, field)?;
    let mut comparisons = Vec::new();
    let mut position = 0;
    while position < tokens.len() {
        if comparisons.len() == MAX_COMPARISONS {
            return Err(Error::invalid_field(
                field,
                format!("must have at most {MAX_COMPARISONS} comparisons"),
            ));
        }
        if !comparisons.is_empty() {
            match tokens.get(position) {
                Some(Token::Word(word)) if word == "AND" => position += 1,
                _ => return Err(syntax(field, "comparisons must be joined by AND")),
            }
        }
        let (Some(Token::Word(name)), Some(Token::Op(op)), Some(value)) = (
            tokens.get(position),
            tokens.get(position + 1),
            tokens.get(position + 2),
        ) else {
            return Err(syntax(field, "expected `field = value`"));
        };
        let value = match value {
            Token::Word(word) | Token::Quoted(word) => word.clone(),
            Token::Op(_) => return Err(syntax(field, "expected a value after the operator")),
        };
        comparisons.push(Comparison {
            field: name.clone(),
            op: *op,
            value,
        });
        position += 3;
    }
    Ok(comparisons)
}

fn syntax(field: &str, description: &str) -> Error {
    Error::invalid_field(field, format!("is not a valid filter: {description}"))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(Op),
}

fn tokenize(filter: &str, field: &str) -> Result<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = filter.chars().peekable();
    while let Some(&next) = chars.peek() {
        if next.is_whitespace() {
            chars.next();
        } else if next == '"' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(escaped) => text.push(escaped),
                        None => return Err(syntax(field, "unterminated string")),
                    },
                    Some(other) => text.push(other),
                    None => return Err(syntax(field, "unterminated string")),
                }
            }
            tokens.push(Token::Quoted(text));
        } else if matches!(next, '=' | '<' | '>') {
            chars.next();
            let followed_by_eq = chars.next_if_eq(&'=').is_some();
            let op = match (next, followed_by_eq) {
                ('=', false) => Op::Eq,
                ('>', true) => Op::Ge,
                ('>', false) => Op::Gt,
                ('<', true) => Op::Le,
                ('<', false) => Op::Lt,
                _ => return Err(syntax(field, "unknown operator")),
            };
            tokens.push(Token::Op(op));
        } else if next.is_alphanumeric() || matches!(next, '_' | '.' | '-' | ':') {
            let mut word = String::new();
            while let Some(character) =
                chars.next_if(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'))
            {
                word.push(character);
            }
            tokens.push(Token::Word(word));
        } else {
            return Err(syntax(field, &format!("unexpected character {next:?}")));
        }
    }
    Ok(tokens)
}

/// The error for a comparison on a field or with an operator the listing
/// does not support.
pub fn unsupported(comparison: &Comparison, field: &str, supported: &str) -> Error {
    Error::invalid_field(
        field,
        format!(
            "cannot filter on {:?} with {:?}; supported: {supported}",
            comparison.field, comparison.op
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_conjunctions_of_comparisons() {
        let parsed = parse(r#"state = ACTIVE AND labels.env = "prod \"x\"" AND create_time >= "2026-01-01T00:00:00Z""#, "filter").unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(
            parsed[0],
            Comparison {
                field: "state".into(),
                op: Op::Eq,
                value: "ACTIVE".into()
            }
        );
        assert_eq!(parsed[1].value, "prod \"x\"");
        assert_eq!(parsed[2].op, Op::Ge);
        assert!(parse("", "filter").unwrap().is_empty());
    }

    #[test]
    fn refuses_malformed_filters() {
        for bad in [
            "state",
            "state =",
            "state = ACTIVE OR plan = x",
            "state = \"open",
            "a == b",
            "a != b",
            "(a = b)",
        ] {
            assert!(parse(bad, "filter").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn filters_are_bounded_in_size_and_comparisons() {
        let joined = |count: usize| vec![r#"action = "x""#; count].join(" AND ");
        assert_eq!(
            parse(&joined(MAX_COMPARISONS), "filter").unwrap().len(),
            MAX_COMPARISONS
        );
        let Err(Error::InvalidArgument(violations)) = parse(&joined(MAX_COMPARISONS + 1), "f")
        else {
            panic!("one comparison too many is refused");
        };
        assert_eq!(violations[0].field, "f");
        assert!(violations[0].description.contains("at most 20 comparisons"));
        let long = format!("action = \"{}\"", "x".repeat(MAX_FILTER_BYTES));
        let Err(Error::InvalidArgument(violations)) = parse(&long, "f") else {
            panic!("an over-long filter is refused");
        };
        assert!(violations[0].description.contains("at most 4096 bytes"));
    }
}
