//! Database URLs for logs: the password and secret query parameters
//! replaced, so a URL can be logged wherever it helps.

/// Query parameters whose values are secrets, compared without case:
/// libpq's `password`, and the names other drivers use for tokens and keys.
const SECRET_QUERY_PARAMETERS: [&str; 5] = ["password", "pass", "pwd", "token", "secret"];

/// The URL with its password and any secret query parameter replaced by
/// `***`, for logs. Parsed with the `url` crate, so the userinfo ends at the
/// last `@` as in every driver; a URL that does not parse is not shown at
/// all, since nothing says where its secrets are.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return "<a URL that does not parse>".to_owned();
    };
    if url.password().is_some() {
        // Fails only for URLs that cannot carry a password, so had none.
        let _ = url.set_password(Some("***"));
    }
    let is_secret = |key: &str| {
        SECRET_QUERY_PARAMETERS
            .iter()
            .any(|secret| key.eq_ignore_ascii_case(secret))
    };
    if url.query_pairs().any(|(key, _)| is_secret(&key)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                let value = if is_secret(&key) { "***".into() } else { value };
                (key.into_owned(), value.into_owned())
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::DEFAULT_DATABASE_URL;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/t"),
            "postgres://app:***@db:5432/t"
        );
        assert_eq!(redact_url("postgres://app@db/t"), "postgres://app@db/t");
        assert_eq!(redact_url(DEFAULT_DATABASE_URL), DEFAULT_DATABASE_URL);
    }

    #[test]
    fn passwords_holding_at_signs_and_query_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:p@ss@host/db"),
            "postgres://u:***@host/db"
        );
        assert_eq!(
            redact_url("postgres://app@db/t?sslmode=require&password=s3cret"),
            "postgres://app@db/t?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://app:a@b@db/t?PASSWORD=x%40y&user=app"),
            "postgres://app:***@db/t?PASSWORD=***&user=app"
        );
        let unparsed = redact_url("postgres://app:s3cret@[bad");
        assert!(!unparsed.contains("s3cret"), "{unparsed}");
    }
}
