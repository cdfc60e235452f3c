//! `tenantd tenants health [TENANT...]`: how tenants' calls went over the
//! last hour and day, as a small aligned table on stdout, one line per
//! tenant and window. It reads the database directly, so it sees what
//! replicas have flushed, not what they counted since their last flush.

use std::io::Write;

use crate::common::ids::{TenantId, TenantRef};
use crate::common::latency::duration_text;
use crate::error::{Error, Result};
use crate::quota::Plans;
use crate::slo::{ServiceLevels, WindowHealth};
use crate::store::Store;
use crate::store::scope::Scope;
use crate::tenancy::tenants::Tenants;

/// Most tenants shown when none is named.
pub const MOST_FAILING: u64 = 20;

/// The table's columns; those after the window are right-aligned numbers,
/// the last is text again.
const HEADER: [&str; 7] = [
    "TENANT",
    "WINDOW",
    "REQUESTS",
    "FAILURES",
    "ERROR RATIO",
    "P99",
    "OBJECTIVES MET",
];

/// Writes the table of the tenants `names` names (of the most failing when
/// it names none) to `out`.
pub async fn run(
    store: &Store,
    tenants: &Tenants,
    names: &[String],
    mut out: impl Write,
) -> Result<()> {
    let levels = ServiceLevels::stored(store.clone(), Plans::new(store.clone()));
    let shown = if names.is_empty() {
        most_failing(&levels, tenants).await?
    } else {
        named(tenants, names).await?
    };
    let mut rows = Vec::new();
    for (label, tenant_id, plan) in shown {
        let health = levels.health(tenant_id, &plan).await?;
        rows.extend(health.windows.iter().map(|window| row(&label, window)));
    }
    out.write_all(render(&rows).as_bytes())
        .and_then(|()| out.flush())
        .map_err(Error::internal)
}

/// The tenants `names` names, as (label, id, plan); NOT_FOUND for one that
/// is not there.
async fn named(tenants: &Tenants, names: &[String]) -> Result<Vec<(String, TenantId, String)>> {
    let mut found = Vec::with_capacity(names.len());
    for name in names {
        let full = match name.strip_prefix("tenants/") {
            Some(_) => name.clone(),
            None => format!("tenants/{name}"),
        };
        let by = TenantRef::parse_name(&full, "TENANT")?;
        let tenant = tenants.find(Scope::Platform, &by).await?;
        found.push((tenant.slug, tenant.id, tenant.plan));
    }
    Ok(found)
}

/// The tenants with the most failures in the last day; one purged since
/// shows by its id, without objectives.
async fn most_failing(
    levels: &ServiceLevels,
    tenants: &Tenants,
) -> Result<Vec<(String, TenantId, String)>> {
    let mut found = Vec::new();
    for tenant_id in levels.most_failing(MOST_FAILING).await? {
        match tenants
            .find(Scope::Platform, &TenantRef::Id(tenant_id))
            .await
        {
            Ok(tenant) => found.push((tenant.slug, tenant.id, tenant.plan)),
            Err(Error::NotFound { .. }) => {
                found.push((tenant_id.to_string(), tenant_id, String::new()));
            }
            Err(error) => return Err(error),
        }
    }
    Ok(found)
}

/// One line of the table.
fn row(tenant: &str, window: &WindowHealth) -> [String; 7] {
    let counts = &window.counts;
    [
        tenant.to_owned(),
        window_label(window.minutes),
        counts.requests.to_string(),
        counts.failures.to_string(),
        format!("{:.2}%", counts.error_ratio() * 100.0),
        counts.p99().map_or_else(|| "-".to_owned(), duration_text),
        objectives_met(window),
    ]
}

/// `1h`, `1d`.
fn window_label(minutes: i64) -> String {
    if minutes % (24 * 60) == 0 {
        format!("{}d", minutes / (24 * 60))
    } else if minutes % 60 == 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// `yes`, `no (availability)`, `no (availability, latency)`, or `-` when
/// the plan declares no objectives.
fn objectives_met(window: &WindowHealth) -> String {
    let objectives = [
        ("availability", window.availability),
        ("latency", window.latency),
    ];
    if objectives.iter().all(|(_, measured)| measured.is_none()) {
        return "-".to_owned();
    }
    let missed: Vec<&str> = objectives
        .iter()
        .filter(|(_, measured)| measured.is_some_and(|measured| !measured.met))
        .map(|(name, _)| *name)
        .collect();
    if missed.is_empty() {
        "yes".to_owned()
    } else {
        format!("no ({})", missed.join(", "))
    }
}

/// The header and `rows`, each column as wide as its widest cell.
fn render(rows: &[[String; 7]]) -> String {
    let header = HEADER.map(str::to_owned);
    let mut widths = [0usize; 7];
    for line in std::iter::once(&header).chain(rows) {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for line in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = line
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(column, (cell, width))| match column {
                2..=5 => format!("{cell:>width$}"),
                _ => format!("{cell:<width$}"),
            })
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::slo::attainment::attainment;
    use crate::slo::counts::CallCounts;

    fn window(minutes: i64, failures: u64, measured: bool) -> WindowHealth {
        let mut counts = CallCounts::default();
        for index in 0..8 {
            counts.add_call(index < failures, Duration::from_millis(20));
        }
        WindowHealth {
            minutes,
            start_minute: 0,
            counts,
            availability: measured.then(|| attainment(0.999, counts.successes(), 8)),
            latency: measured.then(|| attainment(0.99, 8, 8)),
        }
    }

    #[test]
    fn the_table_is_aligned_with_numbers_to_the_right() {
        let rows = [
            row("acme", &window(60, 2, true)),
            row("initech-long-slug", &window(24 * 60, 0, false)),
        ];
        let table = render(&rows);
        let expected = "\
TENANT             WINDOW  REQUESTS  FAILURES  ERROR RATIO   P99  OBJECTIVES MET
acme               1h             8         2       25.00%  25ms  no (availability)
initech-long-slug  1d             8         0        0.00%  25ms  -
";
        assert_eq!(table, expected);
    }

    #[test]
    fn windows_and_verdicts_read_as_an_operator_expects() {
        assert_eq!(window_label(60), "1h");
        assert_eq!(window_label(24 * 60), "1d");
        assert_eq!(window_label(90), "90m");
        assert_eq!(objectives_met(&window(60, 0, true)), "yes");
        let empty = WindowHealth {
            counts: CallCounts::default(),
            ..window(60, 0, false)
        };
        assert_eq!(row("quiet", &empty)[5], "-");
    }
}
