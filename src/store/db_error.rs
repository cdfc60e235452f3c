//! What a database error says beyond "the statement failed": that the
//! database cannot be reached right now (answered UNAVAILABLE with
//! `RetryInfo`, so callers and their retry policies wait and try again
//! instead of treating a restart or a failover as a bug), or that it
//! refused to store a text (the caller's input, INVALID_ARGUMENT).

use sea_orm::sqlx::error::Error as SqlxError;
use sea_orm::{DbErr, RuntimeErr};

/// PostgreSQL SQLSTATEs of a lost or refused connection: class 08
/// (connection exception), `57P01`–`57P03` (the server is shutting down,
/// crashed or starting), `53300` (too many connections).
fn is_unreachable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// SQLite's `SQLITE_BUSY` (5) and `SQLITE_LOCKED` (6), extended codes
/// included: another connection holds the file; the same call succeeds
/// once it lets go.
fn is_busy_sqlite(code: &str) -> bool {
    code.parse::<i64>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
}

fn sqlx_unreachable(error: &SqlxError) -> bool {
    match error {
        SqlxError::Io(_)
        | SqlxError::Tls(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed
        | SqlxError::BeginFailed => true,
        SqlxError::Database(database) => database.code().is_some_and(|code| {
            is_unreachable_sqlstate(&code)
                || (database
                    .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                    .is_some()
                    && is_busy_sqlite(&code))
        }),
        _ => false,
    }
}

/// The PostgreSQL SQLSTATE of `error`, if it carries one.
fn sqlstate(error: &DbErr) -> Option<String> {
    let (DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error))) =
        error
    else {
        return None;
    };
    let SqlxError::Database(database) = error.as_ref() else {
        return None;
    };
    database
        .try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>()
        .map(|postgres| postgres.code().to_owned())
}

/// Whether PostgreSQL refused a text it cannot store: a NUL character
/// (`22021`) or a `\u0000` escape in JSON (`22P05`). Requests are checked
/// for both before any work; this is the backstop that keeps a case the
/// checks missed a caller's mistake rather than an INTERNAL error.
pub(crate) fn is_unstorable_text(error: &DbErr) -> bool {
    sqlstate(error).is_some_and(|code| matches!(code.as_str(), "22021" | "22P05"))
}

/// Whether `error` says the database is out of reach (down, restarting,
/// out of connections, or busy) rather than that the statement is wrong.
pub(crate) fn is_unreachable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            sqlx_unreachable(error)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_states_are_unreachable_and_others_are_not() {
        for code in ["08006", "08001", "57P01", "57P03", "53300"] {
            assert!(is_unreachable_sqlstate(code), "{code}");
        }
        for code in ["23505", "22021", "42P01", "40001"] {
            assert!(!is_unreachable_sqlstate(code), "{code}");
        }
        assert!(is_busy_sqlite("5"));
        assert!(is_busy_sqlite("517"));
        assert!(!is_busy_sqlite("19"));
        let io = DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(SqlxError::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        ))));
        assert!(is_unreachable(&io));
        assert!(!is_unreachable(&DbErr::RecordNotFound("x".into())));
    }
}
