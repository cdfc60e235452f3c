//! `tenantd usage reaggregate`: recomputes the rollups of a range of days,
//! one day per transaction under the aggregation lock, with a progress bar.
//! A day recomputed equals what the aggregation job would have made of it,
//! so this is safe to run while replicas serve and aggregate.

use chrono::{NaiveDate, Utc};

use crate::cli::progress;
use crate::error::{Error, Result};
use crate::usage::rollups::Rollups;

/// Recomputes the days `from..=to` (inclusive).
pub async fn run(rollups: Rollups, (from, to): (NaiveDate, NaiveDate)) -> Result<()> {
    if to < from {
        return Err(Error::invalid_field("to", "must not be before --from"));
    }
    let days: Vec<NaiveDate> = from.iter_days().take_while(|day| *day <= to).collect();
    let bar = progress::bar(days.len(), "{bar:40} {pos}/{len} days  {msg}")?;
    let mut events = 0;
    for day in days {
        bar.set_message(day.to_string());
        events += rollups.reaggregate(day, Utc::now()).await?;
        bar.inc(1);
    }
    bar.finish_with_message(format!("{events} events"));
    tracing::info!(%from, %to, events, "usage rollups recomputed");
    Ok(())
}
