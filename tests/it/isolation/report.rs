//! What the isolation matrix found: every answer checked against the
//! table, the differences gathered and shown together at the end, and the
//! byte-for-byte comparison of refusals tenant B must not tell apart.

use tonic::{Code, Status};
use tonic_types::StatusExt;

use super::{Expected, Rpc};
use crate::support::raw::Answer;

fn reason_of(status: &Status) -> Option<String> {
    status.get_details_error_info().map(|info| info.reason)
}

fn describe(answer: &Answer) -> String {
    match answer {
        Ok(()) => "Ok".to_owned(),
        Err(status) => format!(
            "{:?} {} ({})",
            status.code(),
            reason_of(status).unwrap_or_else(|| "-".to_owned()),
            status.message()
        ),
    }
}

/// Everything a caller can read from an answer.
fn fingerprint(answer: &Answer) -> (Code, String, Vec<u8>) {
    match answer {
        Ok(()) => (Code::Ok, String::new(), Vec::new()),
        Err(status) => (
            status.code(),
            status.message().to_owned(),
            status.details().to_vec(),
        ),
    }
}

/// The answers that differ from the table's, shown together at the end.
#[derive(Default)]
pub(super) struct Report {
    /// How many answers were checked.
    pub(super) checked: usize,
    /// The RPC, caller, expected and actual answer of each difference.
    pub(super) differences: Vec<[String; 4]>,
}

impl Report {
    pub(super) fn check(&mut self, rpc: &Rpc, caller: &str, expected: Expected, answer: &Answer) {
        self.checked += 1;
        let (code, reason) = match answer {
            Ok(()) => (Code::Ok, None),
            Err(status) => (status.code(), reason_of(status)),
        };
        let reason_matches = expected
            .reason
            .is_none_or(|wanted| reason.as_deref() == Some(wanted));
        if code != expected.code || !reason_matches {
            let wanted = format!("{:?} {}", expected.code, expected.reason.unwrap_or("-"));
            self.differences
                .push([rpc.label(), caller.to_owned(), wanted, describe(answer)]);
        }
    }

    /// Checks that `answer` reads exactly like `reference`.
    pub(super) fn same(&mut self, rpc: &Rpc, caller: &str, reference: &Answer, answer: &Answer) {
        self.checked += 1;
        if fingerprint(reference) != fingerprint(answer) {
            let wanted = format!("as naming A: {}", describe(reference));
            self.differences
                .push([rpc.label(), caller.to_owned(), wanted, describe(answer)]);
        }
    }

    pub(super) fn table(&self) -> String {
        let header = ["rpc", "caller", "expected", "got"].map(str::to_owned);
        let rows: Vec<&[String; 4]> = std::iter::once(&header).chain(&self.differences).collect();
        let mut widths = [0; 4];
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row.iter()) {
                *width = (*width).max(cell.len());
            }
        }
        let mut table = String::new();
        for row in rows {
            let mut line = String::new();
            for (width, cell) in widths.iter().zip(row.iter()) {
                line.push_str(&format!("{cell:width$}  "));
            }
            table.push_str(line.trim_end());
            table.push('\n');
        }
        table
    }
}
