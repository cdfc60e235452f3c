//! The server call duration histogram, by service, method and code.

use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use crate::common::calls::code_name;
use crate::server::route::Route;

/// The histogram's name.
pub(super) const CALL_DURATION: &str = "tenantd_rpc_server_call_duration_seconds";

/// How many gRPC codes there are.
const CODES: usize = 17;

/// The handles, by route index and code: each series is registered once,
/// so a call costs one array index and one sample, not a registry lookup.
static HANDLES: LazyLock<Vec<[OnceLock<metrics::Histogram>; CODES]>> = LazyLock::new(|| {
    (0..Route::count())
        .map(|_| std::array::from_fn(|_| OnceLock::new()))
        .collect()
});

/// Records one call of `route` answered with `code` after `latency`.
pub(crate) fn record(route: Route, code: tonic::Code, latency: Duration) {
    let Some(slot) = HANDLES
        .get(route.index)
        .and_then(|codes| codes.get(code as usize))
    else {
        return;
    };
    let histogram = slot.get_or_init(|| {
        metrics::histogram!(
            CALL_DURATION,
            "grpc_service" => route.service,
            "grpc_method" => route.method,
            "grpc_code" => code_name(code),
        )
    });
    histogram.record(latency.as_secs_f64());
}
