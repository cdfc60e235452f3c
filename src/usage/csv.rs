//! The CSV form of a usage export (`tenantd usage export --format csv`),
//! for operators who open it in a spreadsheet or feed it to billing.
//!
//! Invariants kept here:
//! - every record is written by the `csv` crate (RFC 4180): a field holding
//!   a comma, a quote or a line break is quoted, its quotes doubled, so a
//!   unit such as `{req,s}` stays one field;
//! - a text field that a spreadsheet would run as a formula (starting with
//!   `=`, `+`, `-`, `@`, a tab or a carriage return) is written with a
//!   leading `'`, as OWASP advises against CSV injection; numbers, days,
//!   ids and times are written as they are, since none can start so.

use std::io::Write;

use crate::access::PlatformScope;
use crate::error::{Error, Result};
use crate::usage::export::{ExportQuery, ExportedRollup, Exports};

/// The header of the CSV form of an export.
pub const CSV_HEADER: [&str; 8] = [
    "tenant_id",
    "metric",
    "day",
    "value",
    "event_count",
    "unit",
    "closed",
    "update_time",
];

/// `text` as a spreadsheet shows it rather than runs it: with a leading `'`
/// when it starts like a formula.
pub fn neutralise_formula(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

/// One rollup as the fields of a CSV record.
pub fn csv_record(rollup: &ExportedRollup) -> [String; 8] {
    let stored = &rollup.stored;
    [
        stored.tenant_id.to_string(),
        neutralise_formula(&stored.rollup.metric),
        stored.rollup.day.to_string(),
        stored.rollup.value.to_string(),
        stored.rollup.event_count.to_string(),
        neutralise_formula(&rollup.unit),
        rollup.closed.to_string(),
        stored
            .update_time
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    ]
}

impl Exports {
    /// Writes `query` to `out` as CSV, header first: the operator's export,
    /// which reads the database directly with its owner's credentials.
    /// Answers the number of rollups written.
    pub async fn write_csv(&self, query: ExportQuery, out: &mut impl Write) -> Result<usize> {
        let platform = PlatformScope::system();
        let mut reader = self.open(query, None).await?;
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(CSV_HEADER).map_err(Error::internal)?;
        let mut written = 0;
        while let Some(chunk) = reader.next(&platform).await? {
            for rollup in &chunk.rollups {
                writer
                    .write_record(csv_record(rollup))
                    .map_err(Error::internal)?;
            }
            written += chunk.rollups.len();
        }
        writer.flush().map_err(Error::internal)?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_prefixes_are_neutralised() {
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise_formula(formula), format!("'{formula}"));
        }
        assert_eq!(neutralise_formula("{req,s}"), "{req,s}");
        assert_eq!(neutralise_formula(""), "");
    }
}
