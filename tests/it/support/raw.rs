//! A client for any RPC: messages travel as their encoded bytes, so a test
//! can call every method of the descriptor set without generated clients.

use std::time::Duration;

use http::uri::PathAndQuery;
use prost::bytes::{Buf, BufMut};
use tenantd::access::gate::TENANT_ID_HEADER;
use tonic::Status;
use tonic::client::Grpc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder, Streaming};
use tonic::transport::Channel;

/// How long one call may take before it is reported as unanswered.
const CALL_DEADLINE: Duration = Duration::from_secs(10);

/// Whether each side of an RPC streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// The client sends a stream.
    pub client_streaming: bool,
    /// The server answers with a stream.
    pub server_streaming: bool,
}

/// Sends and receives messages as their encoded bytes, so one client calls
/// every RPC.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, destination: &mut EncodeBuf<'_>) -> Result<(), Status> {
        destination.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, source: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(source.copy_to_bytes(source.remaining()).to_vec()))
    }
}

/// What a call presents: its credentials and the tenant its metadata names.
pub struct Presented {
    /// The bearer token or API key, if any.
    pub secret: Option<String>,
    /// The `x-tenant-id` value, if any.
    pub tenant_id: Option<String>,
}

/// The answer to a call: OK, or the status it was refused with.
pub type Answer = Result<(), Status>;

fn request<T>(message: T, presented: &Presented) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let metadata = request.metadata_mut();
    if let Some(secret) = &presented.secret {
        let value = format!("Bearer {secret}")
            .parse()
            .expect("ascii credentials");
        metadata.insert("authorization", value);
    }
    if let Some(id) = &presented.tenant_id {
        metadata.insert(TENANT_ID_HEADER, id.parse().expect("ascii tenant id"));
    }
    request
}

/// A streamed answer counts by its first message: the status the stream
/// ends with, or OK once a message arrives or the stream ends cleanly.
async fn first_message(response: Result<tonic::Response<Streaming<Vec<u8>>>, Status>) -> Answer {
    response?.into_inner().message().await.map(drop)
}

/// Calls the RPC at `path` with `body`, streaming it when the RPC streams.
pub async fn call(
    channel: &Channel,
    path: &str,
    shape: Shape,
    presented: &Presented,
    body: Vec<u8>,
) -> Answer {
    let mut grpc = Grpc::new(channel.clone());
    let path = PathAndQuery::try_from(path).expect("an RPC path");
    let answer = async {
        grpc.ready().await.expect("the channel is ready");
        match (shape.client_streaming, shape.server_streaming) {
            (false, false) => grpc
                .unary(request(body, presented), path, RawCodec)
                .await
                .map(drop),
            (false, true) => {
                let response = grpc.server_streaming(request(body, presented), path, RawCodec);
                first_message(response.await).await
            }
            (true, false) => grpc
                .client_streaming(request(tokio_stream::once(body), presented), path, RawCodec)
                .await
                .map(drop),
            (true, true) => {
                let stream = request(tokio_stream::once(body), presented);
                first_message(grpc.streaming(stream, path, RawCodec).await).await
            }
        }
    };
    tokio::time::timeout(CALL_DEADLINE, answer)
        .await
        .unwrap_or_else(|_| Err(Status::deadline_exceeded("no answer; the test gave up")))
}
