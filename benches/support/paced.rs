//! Open-loop load: calls paced on a schedule of their own (each starts on
//! its tick, not after the previous one answers), so a slow answer cannot
//! hide the calls that would have queued behind it; and a unary call whose
//! answer is kept as its bytes, so the load generator, on the server's
//! cores, takes less from the server.

use std::future::Future;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use super::stats::percentile;

/// What one tenant's paced load saw.
#[derive(Default)]
pub struct Seen {
    /// Latencies of answered calls, µs.
    pub ok: Vec<u64>,
    /// Calls refused by the bulkhead.
    pub refused: usize,
}

impl Seen {
    /// Adds `other`'s calls to these.
    pub fn add(&mut self, other: Seen) {
        self.ok.extend(other.ok);
        self.refused += other.refused;
    }

    /// The p99 of these over the p99 of `base`.
    pub fn p99_ratio(&mut self, base: &mut Seen) -> f64 {
        percentile(&mut self.ok, 0.99) as f64 / percentile(&mut base.ok, 0.99).max(1) as f64
    }
}

/// Starts `rate` calls a second for `length`, each on its own schedule;
/// a call's latency runs until its answer has arrived. Panics on any
/// answer but success and `ResourceExhausted`.
pub async fn paced<F, Fut>(rate: u32, length: Duration, call: F) -> Seen
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let end = Instant::now() + length;
    let mut calls = Vec::new();
    while Instant::now() < end {
        ticks.tick().await;
        let answer = call();
        calls.push(tokio::spawn(async move {
            let started = Instant::now();
            (answer.await, started.elapsed())
        }));
    }
    let mut seen = Seen::default();
    for call in calls {
        match call.await.expect("call task") {
            (Ok(()), took) => seen
                .ok
                .push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX)),
            (Err(status), _) if status.code() == tonic::Code::ResourceExhausted => {
                seen.refused += 1
            }
            (Err(status), _) => panic!("unexpected answer: {status:?}"),
        }
    }
    seen
}

/// Calls `path` with `request` on `channel`, keeping the answer as bytes.
pub async fn unary_undecoded<M>(
    channel: tonic::transport::Channel,
    path: &'static str,
    request: tonic::Request<M>,
) -> Result<(), tonic::Status>
where
    M: prost::Message + Send + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    match grpc.ready().await {
        Ok(()) => {
            let path = http::uri::PathAndQuery::from_static(path);
            let answer = grpc.unary(request, path, Undecoded::<M>::new()).await;
            answer.map(drop)
        }
        Err(error) => Err(tonic::Status::unavailable(error.to_string())),
    }
}

/// Encodes requests of type `M` as usual but keeps each answer as its
/// bytes: decoding a large answer (50 audit events with their before and
/// after documents) would be client work counted against the server.
pub struct Undecoded<M>(PhantomData<fn(M)>);

impl<M> Undecoded<M> {
    fn new() -> Self {
        Self(PhantomData)
    }
}

impl<M> Clone for Undecoded<M> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<M: prost::Message + Send + 'static> tonic::codec::Codec for Undecoded<M> {
    type Encode = M;
    type Decode = usize;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        self.clone()
    }

    fn decoder(&mut self) -> Self {
        self.clone()
    }
}

impl<M: prost::Message> tonic::codec::Encoder for Undecoded<M> {
    type Item = M;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Self::Item,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        prost::Message::encode(&item, buf)
            .map_err(|error| tonic::Status::internal(error.to_string()))
    }
}

impl<M> tonic::codec::Decoder for Undecoded<M> {
    type Item = usize;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        buf: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<usize>, tonic::Status> {
        let length = prost::bytes::Buf::remaining(buf);
        prost::bytes::Buf::advance(buf, length);
        Ok(Some(length))
    }
}
