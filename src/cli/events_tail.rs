//! `tenantd events tail`: lifecycle events as they commit, one per line,
//! read from the database through the same stream WatchEvents serves
//! (in sequence order, resumable with `--after`).

use std::io::Write;
use std::time::Duration;

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::events::cloud::to_json;
use crate::events::{EventFilter, EventWatch, OutboxEvent, WatchItem, WatchSpec};
use crate::settings::events::{TailArgs, TailFormat};
use crate::store::Store;
use crate::store::outbox::{full_type, parse_type, short_types};
use crate::store::scope::Scope;

/// The filter `args` asks for, or INVALID_ARGUMENT naming the flag.
fn filter(args: &TailArgs) -> Result<EventFilter> {
    let mut types = Vec::with_capacity(args.types.len());
    for given in &args.types {
        let known = parse_type(given).ok_or_else(|| {
            Error::invalid_field(
                "type",
                format!(
                    "{given:?} is not an event type; types: {}",
                    short_types().join(", ")
                ),
            )
        })?;
        types.push(known.to_owned());
    }
    let mut tenants = Vec::with_capacity(args.tenants.len());
    for given in &args.tenants {
        let id = given.strip_prefix("tenants/").unwrap_or(given);
        tenants.push(TenantId::parse(id, "tenant")?);
    }
    Ok(EventFilter { types, tenants })
}

/// One line of text output.
fn line(event: &OutboxEvent) -> String {
    format!(
        "{:>8}  {}  {:<42}  {:<46}  {}\n",
        event.sequence,
        event
            .time
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        full_type(&event.short_type),
        event.subject,
        event.resource
    )
}

/// Prints the events `args` asks for to `out` until `args.limit` were
/// printed (or forever when it is 0).
pub async fn run(store: Store, args: &TailArgs, mut out: impl Write) -> Result<()> {
    let spec = WatchSpec {
        filter: filter(args)?,
        after: args.after,
        // Heartbeats are not printed; they only keep the stream's cursor.
        heartbeat: Duration::from_secs(60),
    };
    store.listen_for_changes().await?;
    let (_running, stopping) = tokio::sync::watch::channel(false);
    let watch = EventWatch::new(store, stopping);
    let follower = watch.spawn_follower().await?;
    let mut items = watch.watch(Scope::Platform, spec).await?;
    let mut printed = 0u64;
    while let Some(item) = items.recv().await {
        let WatchItem::Event(event) = item? else {
            continue;
        };
        let text = match args.format {
            TailFormat::Text => line(&event),
            TailFormat::Json => format!("{}\n", to_json(&event)),
        };
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(Error::internal)?;
        printed = printed.saturating_add(1);
        if args.limit != 0 && printed >= args.limit {
            break;
        }
    }
    follower.abort();
    Ok(())
}
