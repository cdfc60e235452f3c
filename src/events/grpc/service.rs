//! EventService: decode, scope the stream to what the caller may see,
//! stream while the caller is still admitted, encode.

use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use crate::access::{Gate, Reach, open};
use crate::error::{Error, Result};
use crate::events::grpc::convert::{watch_response, watch_spec};
use crate::events::watch::{EventWatch, WatchSpec};
use crate::pb;
use crate::pb::event_service_server::EventService;
use crate::rpc::Reply;
use crate::store::scope::Scope;

/// The EventService implementation.
pub struct EventApi {
    /// The replica's event streams.
    watch: EventWatch,
    /// Ends a stream whose caller is no longer admitted.
    gate: Gate,
}

impl EventApi {
    /// Serves `watch`'s streams, to callers `gate` still admits.
    pub fn new(watch: EventWatch, gate: Gate) -> Self {
        Self { watch, gate }
    }
}

/// The scope `reach` reads in, once `spec` is checked against it: a tenant
/// key or user names no tenant but its own (TENANT_MISMATCH otherwise) and
/// is held to it.
fn scope_of(reach: Reach, spec: &mut WatchSpec) -> Result<Scope> {
    match reach {
        Reach::Fleet(platform) => Ok(Scope::from(&platform)),
        Reach::Own(own) => {
            let tenant_id = own.tenant_id();
            if spec.filter.tenants.iter().any(|named| *named != tenant_id) {
                return Err(Error::PermissionDenied {
                    reason: "TENANT_MISMATCH",
                    message: "the request names a tenant other than the caller's".to_owned(),
                });
            }
            spec.filter.tenants = vec![tenant_id];
            Ok(Scope::from(&own))
        }
    }
}

#[tonic::async_trait]
impl EventService for EventApi {
    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Reply<BoxStream<pb::WatchEventsResponse>> {
        let (context, request) = open(request)?;
        let mut spec = watch_spec(&request)?;
        let scope = scope_of(context.reach(), &mut spec)?;
        let items = self.watch.watch(scope, spec).await?;
        let items = self.gate.while_admitted(context, items);
        let answers =
            ReceiverStream::new(items).map(|item| item.map(watch_response).map_err(Status::from));
        Ok(Response::new(Box::pin(answers)))
    }
}
