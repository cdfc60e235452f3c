//! UsageService: decode, call the metric catalogue or usage ingestion and
//! queries, encode.
//!
//! StreamUsage keeps the server's memory flat: per stream, a reader checks
//! the next batch while a writer records the previous one, the two joined
//! by a channel of [`PREPARED_BUFFER`] batch, and acks go through a channel
//! of [`ACK_BUFFER`] entries. A stream so holds at most three batches and
//! a few acks: a slow database or a client that stops reading acks slows
//! the client's sends (HTTP/2 flow control) instead of growing buffers
//! here.

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};

use crate::access::Gate;
use crate::access::TenantContext;
use crate::access::{open, open_platform};
use crate::common::ids::request_id;
use crate::common::paging::page_size;
use crate::error::Error;
use crate::pb;
use crate::pb::usage_service_server::UsageService;
use crate::quota::Quotas;
use crate::rpc::Reply;
use crate::usage::export::Exports;
use crate::usage::grpc::billing::{self, summary_request, summary_response};
use crate::usage::grpc::convert::{
    metric_update, new_metric, raw_events, report_response, stream_response, usage_answer,
    usage_query,
};
use crate::usage::ingest::{BatchOutcome, PreparedBatch, Usage};
use crate::usage::metric::parse_metric_name;
use crate::usage::metrics::Metrics;

/// Acks queued for a StreamUsage client before the next batch waits.
const ACK_BUFFER: usize = 4;

/// The UsageService implementation.
pub struct UsageApi {
    /// The metric catalogue.
    metrics: Metrics,
    /// Ingestion and queries.
    usage: Usage,
    /// Billing exports.
    exports: Exports,
    /// What tenants' plans include, for summaries.
    quotas: Quotas,
    /// Scopes callers to the tenants they may reach.
    gate: Gate,
}

impl UsageApi {
    /// Serves `metrics`, `usage` and `exports`, with plan allowances from
    /// `quotas`,
    /// reached through `gate`.
    pub fn new(
        metrics: Metrics,
        (usage, exports): (Usage, Exports),
        quotas: Quotas,
        gate: Gate,
    ) -> Self {
        Self {
            metrics,
            usage,
            exports,
            quotas,
            gate,
        }
    }
}

/// Checks a batch's bounds and records it.
async fn report(
    usage: &Usage,
    context: &TenantContext,
    events: Vec<pb::UsageEvent>,
    bytes: usize,
) -> Result<BatchOutcome, Error> {
    Usage::check_batch(events.len(), bytes, "events")?;
    usage.report(context, raw_events(events)).await
}

/// Batches checked by a stream's reader and not yet taken by its writer:
/// with one here, one being recorded and one being read, a stream holds at
/// most three batches.
const PREPARED_BUFFER: usize = 1;

/// A batch of a stream as its reader left it: checked and ready to record,
/// or refused as a whole (which ends the stream once answered), with the
/// status the stream ends with.
type Step = (i64, Result<PreparedBatch, Status>);

/// Answers the batches of one StreamUsage stream in order; ends at the
/// client's end of stream, a broken stream, or the first failed batch
/// (answered with its status). A reader checks the next batch while a
/// writer records the previous one, so checking overlaps the commit; the
/// writer alone touches the database and acks, one batch at a time, each
/// only after its commit.
async fn serve_stream(
    usage: Usage,
    context: TenantContext,
    inbound: Streaming<pb::StreamUsageRequest>,
    acks: mpsc::Sender<Result<pb::StreamUsageResponse, Status>>,
) {
    let (prepared, steps) = mpsc::channel(PREPARED_BUFFER);
    let writer = record_batches(usage.clone(), steps, acks);
    tokio::pin!(writer);
    tokio::select! {
        // The writer stopped (a failed batch, or the client went away):
        // reading more would only fill the buffer.
        () = &mut writer => {}
        // The reader is done and dropped its sender: the writer drains what
        // is left, then ends.
        () = read_batches(usage, context, inbound, prepared) => writer.await,
    }
}

/// Reads and checks the stream's batches in order, handing each to the
/// writer; stops after the first batch refused as a whole.
async fn read_batches(
    usage: Usage,
    context: TenantContext,
    mut inbound: Streaming<pb::StreamUsageRequest>,
    prepared: mpsc::Sender<Step>,
) {
    let mut previous: Option<i64> = None;
    loop {
        let batch = match inbound.message().await {
            Ok(Some(batch)) => batch,
            Ok(None) => break,
            // A message that cannot be decoded is the caller's mistake, and
            // the stream ends telling it so.
            Err(status) if status.code() == tonic::Code::InvalidArgument => {
                let _ = prepared
                    .send((previous.unwrap_or_default(), Err(status)))
                    .await;
                break;
            }
            Err(status) => {
                tracing::debug!(code = ?status.code(), "usage stream broke off");
                break;
            }
        };
        let bytes = prost::Message::encoded_len(&batch);
        let sequence = batch.sequence;
        let checked = if previous.is_some_and(|last| sequence <= last) {
            Err(Error::invalid_field(
                "sequence",
                format!("must increase within the stream; {sequence} follows {previous:?}"),
            ))
        } else {
            match Usage::check_batch(batch.events.len(), bytes, "events") {
                Ok(()) => usage.prepare(&context, raw_events(batch.events)).await,
                Err(error) => Err(error),
            }
        };
        previous = Some(sequence);
        let checked = checked.map_err(Status::from);
        let failed = checked.is_err();
        if prepared.send((sequence, checked)).await.is_err() || failed {
            break;
        }
    }
}

/// Records the checked batches one at a time and acks each once committed.
async fn record_batches(
    usage: Usage,
    mut steps: mpsc::Receiver<Step>,
    acks: mpsc::Sender<Result<pb::StreamUsageResponse, Status>>,
) {
    while let Some((sequence, checked)) = steps.recv().await {
        let answer = match checked {
            Ok(prepared) => usage.record(prepared).await.map_err(Status::from),
            Err(status) => Err(status),
        };
        let failed = answer.is_err();
        let ack = answer.map(|outcome| stream_response(sequence, outcome));
        // The client went away: nothing more to answer.
        if acks.send(ack).await.is_err() || failed {
            break;
        }
    }
}

#[tonic::async_trait]
impl UsageService for UsageApi {
    async fn create_metric(&self, request: Request<pb::CreateMetricRequest>) -> Reply<pb::Metric> {
        let (platform, context, request) = open_platform(request)?;
        let origin = context.origin(&request.request_id);
        let new = new_metric(&request)?;
        let request_id = request_id(&request.request_id)?;
        let metric = self
            .metrics
            .create(&platform, &origin, new, request_id)
            .await?;
        Ok(Response::new(pb::Metric::from(&metric)))
    }

    async fn get_metric(&self, request: Request<pb::GetMetricRequest>) -> Reply<pb::Metric> {
        let key = parse_metric_name(&request.get_ref().name, "name")?;
        let metric = self.metrics.get(&key).await?;
        Ok(Response::new(pb::Metric::from(&metric)))
    }

    async fn list_metrics(
        &self,
        request: Request<pb::ListMetricsRequest>,
    ) -> Reply<pb::ListMetricsResponse> {
        let request = request.into_inner();
        let size = page_size(request.page_size, "page_size")?;
        let (metrics, next_page_token) = self.metrics.list(size, &request.page_token).await?;
        let metrics = metrics.iter().map(pb::Metric::from).collect();
        Ok(Response::new(pb::ListMetricsResponse {
            metrics,
            next_page_token,
        }))
    }

    async fn update_metric(&self, request: Request<pb::UpdateMetricRequest>) -> Reply<pb::Metric> {
        let (platform, context, request) = open_platform(request)?;
        let origin = context.origin("");
        let (key, expected, patch) = metric_update(&request)?;
        let metric = self
            .metrics
            .update(&platform, &origin, &key, expected, patch)
            .await?;
        Ok(Response::new(pb::Metric::from(&metric)))
    }

    async fn report_usage(
        &self,
        request: Request<pb::ReportUsageRequest>,
    ) -> Reply<pb::ReportUsageResponse> {
        let (context, request) = open(request)?;
        let bytes = prost::Message::encoded_len(&request);
        let outcome = report(&self.usage, &context, request.events, bytes).await?;
        Ok(Response::new(report_response(outcome)))
    }

    async fn stream_usage(
        &self,
        request: Request<Streaming<pb::StreamUsageRequest>>,
    ) -> Reply<BoxStream<pb::StreamUsageResponse>> {
        let (context, inbound) = open(request)?;
        let (sender, receiver) = mpsc::channel(ACK_BUFFER);
        let usage = self.usage.clone();
        tokio::spawn(serve_stream(usage, context, inbound, sender));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn query_usage(
        &self,
        request: Request<pb::QueryUsageRequest>,
    ) -> Reply<pb::QueryUsageResponse> {
        let (context, request) = open(request)?;
        let (by, query) = usage_query(&request)?;
        let scope = self.gate.scope_for(&context, &by).await?;
        let answer = self.usage.query(&scope, &query).await?;
        Ok(Response::new(usage_answer(&answer)))
    }

    async fn get_usage_summary(
        &self,
        request: Request<pb::GetUsageSummaryRequest>,
    ) -> Reply<pb::GetUsageSummaryResponse> {
        let (context, request) = open(request)?;
        let (by, day, metrics) = summary_request(&request)?;
        let scope = self.gate.scope_for(&context, &by).await?;
        let limits = self.quotas.limits(&scope).await?;
        let summary = self.usage.summary(&scope, limits, day, metrics).await?;
        Ok(Response::new(summary_response(&summary)))
    }

    async fn export_usage(
        &self,
        request: Request<pb::ExportUsageRequest>,
    ) -> Reply<BoxStream<pb::ExportUsageResponse>> {
        let (platform, context, request) = open_platform(request)?;
        let (query, cursor) =
            billing::export_request(&self.gate, self.exports.page_tokens(), &context, &request)
                .await?;
        let (sender, receiver) = mpsc::channel(billing::EXPORT_BUFFER);
        tokio::spawn(billing::stream_export(
            self.exports.clone(),
            platform,
            query,
            cursor,
            sender,
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}
