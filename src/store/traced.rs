//! What a scoped transaction tells an operator: a span by the
//! OpenTelemetry database semantic conventions, a child of the call it
//! serves, and its duration in the [`DB_TRANSACTION_DURATION`] histogram
//! (`tenantd_db_transaction_duration_seconds`) by mode.
//!
//! A span names the database system, the database and the kind of
//! transaction, never SQL text or a parameter value: those hold tenants'
//! data. A transaction outside any span (a background job's tick, an
//! operator command) opens none, so an idle replica exports no traces; its
//! duration is measured all the same.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DbBackend;
use tracing::Span;
use tracing::field::Empty;

use crate::common::otel;
use crate::error::Error;
use crate::store::DB_TRANSACTION_DURATION;

/// Whether a transaction only reads or writes: the histogram's `mode`
/// label and the span's `tenantd.transaction.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// [`crate::store::Store::read_in`].
    Read,
    /// The writes: audited, conditional or unannounced.
    Write,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Read => "read",
            Mode::Write => "write",
        }
    }
}

/// The database a store's transactions run on, as their spans name it;
/// worked out once, at connection.
#[derive(Debug, Clone)]
pub(crate) struct DbIdentity {
    /// `db.system.name`: `postgresql` or `sqlite`.
    system: &'static str,
    /// `db.namespace`: the PostgreSQL database's name, from the URL; none
    /// on SQLite, whose database is a file.
    namespace: Option<Arc<str>>,
    /// The span's name by the conventions, `{operation} {namespace}`:
    /// `transaction tenantd`, or `transaction` without a namespace.
    span_name: Arc<str>,
}

/// The `db.operation.name` of a transaction's span.
const OPERATION: &str = "transaction";

impl DbIdentity {
    /// The identity of the database at `url`, spoken to as `backend`.
    pub(crate) fn of(url: &str, backend: DbBackend) -> Self {
        let (system, namespace) = match backend {
            DbBackend::Postgres => ("postgresql", postgres_database(url)),
            DbBackend::Sqlite => ("sqlite", None),
            // Not a backend tenantd connects to (sea-orm's enum is open).
            _ => ("other_sql", None),
        };
        let span_name = match &namespace {
            Some(database) => format!("{OPERATION} {database}").into(),
            None => OPERATION.into(),
        };
        Self {
            system,
            namespace,
            span_name,
        }
    }

    /// The span of a transaction in `mode`, a child of the current span;
    /// disabled when there is none.
    pub(crate) fn span(&self, mode: Mode) -> Span {
        if Span::current().is_none() {
            return Span::none();
        }
        tracing::info_span!(
            "db.transaction",
            otel.name = &*self.span_name,
            otel.kind = "client",
            otel.status_code = Empty,
            db.system.name = self.system,
            db.namespace = self.namespace.as_deref(),
            db.operation.name = OPERATION,
            tenantd.transaction.mode = mode.label(),
            "error.type" = Empty,
        )
    }
}

/// The database named in a PostgreSQL URL's path, if any.
fn postgres_database(url: &str) -> Option<Arc<str>> {
    let parsed = url::Url::parse(url).ok()?;
    let name = parsed.path().trim_start_matches('/');
    (!name.is_empty()).then(|| name.into())
}

/// Records how a transaction in `mode` that took `elapsed` ended: on its
/// `span` the error's code (an ERROR status for a server failure only, as
/// for calls), and its duration in the histogram.
pub(crate) fn record_end(span: &Span, mode: Mode, elapsed: Duration, error: Option<&Error>) {
    if let Some(error) = error {
        otel::record_outcome(span, error.code());
    }
    let seconds = elapsed.as_secs_f64();
    // One literal label set per mode: the key is then built without
    // allocating on every transaction.
    match mode {
        Mode::Read => {
            metrics::histogram!(DB_TRANSACTION_DURATION, "mode" => "read").record(seconds);
        }
        Mode::Write => {
            metrics::histogram!(DB_TRANSACTION_DURATION, "mode" => "write").record(seconds);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgresql_spans_name_the_database_and_no_secret() {
        let identity = DbIdentity::of(
            "postgres://app:s3cret@db.internal:5432/tenantd?sslmode=require",
            DbBackend::Postgres,
        );
        assert_eq!(identity.system, "postgresql");
        assert_eq!(identity.namespace.as_deref(), Some("tenantd"));
        assert_eq!(&*identity.span_name, "transaction tenantd");
    }

    #[test]
    fn sqlite_and_unnamed_databases_have_no_namespace() {
        let sqlite = DbIdentity::of("sqlite://tenantd.db?mode=rwc", DbBackend::Sqlite);
        assert_eq!((sqlite.system, sqlite.namespace), ("sqlite", None));
        assert_eq!(&*sqlite.span_name, "transaction");
        let unnamed = DbIdentity::of("postgres://db.internal", DbBackend::Postgres);
        assert_eq!(unnamed.namespace, None);
    }
}
