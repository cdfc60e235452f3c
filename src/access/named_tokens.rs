//! Bearer tokens of operators and services, as configured: `NAME=TOKEN`
//! entries, checked once at start. Tokens never appear in logs.

use crate::error::{Error, Result};

/// The shortest token accepted: shorter ones are guessable.
pub const MIN_TOKEN_BYTES: usize = 16;

/// A configured bearer token and the name it is known by. The token is
/// never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct NamedToken {
    /// What logs and the audit log call its holder.
    pub name: String,
    /// The bearer token.
    pub token: String,
}

impl std::fmt::Debug for NamedToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NamedToken")
            .field("name", &self.name)
            .field("token", &"***")
            .finish()
    }
}

/// Whether `name` may name a caller: not empty, letters, digits, `-`, `_`,
/// `.` (and the `#` of generated names).
pub fn is_usable_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.#".contains(&byte))
}

/// Parses `NAME=TOKEN` or bare-token entries of `flag`; a bare token is
/// named `{flag}#{position}`.
pub fn parse_tokens(entries: &[String], flag: &str) -> Result<Vec<NamedToken>> {
    let mut tokens = Vec::new();
    for (position, entry) in entries.iter().map(|entry| entry.trim()).enumerate() {
        if entry.is_empty() {
            continue;
        }
        let (name, token) = match entry.split_once('=') {
            Some((name, token)) => (name.trim().to_owned(), token.trim().to_owned()),
            None => (format!("{flag}#{}", position + 1), entry.to_owned()),
        };
        if !is_usable_name(&name) {
            return Err(Error::invalid_field(
                flag,
                "names are letters, digits, '-', '_' and '.'",
            ));
        }
        if token.len() < MIN_TOKEN_BYTES || token.bytes().any(|byte| !byte.is_ascii_graphic()) {
            return Err(Error::invalid_field(
                flag,
                format!(
                    "the token of {name} must be at least {MIN_TOKEN_BYTES} printable ASCII characters"
                ),
            ));
        }
        if tokens.iter().any(|known: &NamedToken| known.name == name) {
            return Err(Error::invalid_field(flag, format!("{name} is named twice")));
        }
        tokens.push(NamedToken { name, token });
    }
    Ok(tokens)
}
