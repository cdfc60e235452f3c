//! The codec every tenantd service decodes its requests with: prost's, with
//! two answers of its own. Bytes that are not the request message are the
//! caller's mistake, INVALID_ARGUMENT with `ErrorInfo` (prost's codec calls
//! them INTERNAL). And text the database cannot store is refused here, in
//! one place for every RPC, naming the field ([`crate::rpc::wire_scan`]), before
//! any handler runs.

use std::marker::PhantomData;

use prost::Message;
use prost::bytes::Buf;
use tonic::Status;
use tonic::codec::{BufferSettings, DecodeBuf, Decoder, EncodeBuf, Encoder};

use crate::common::validate::UNSTORABLE_TEXT;
use crate::error::Error;

/// The proto name of a generated message (`tenantd.v1.CreateTenantRequest`).
pub trait WireName {
    /// The fully qualified proto name.
    const NAME: &'static str;
}

include!(concat!(env!("OUT_DIR"), "/wire_names.rs"));

/// prost's `google.protobuf.Empty`.
impl WireName for () {
    const NAME: &'static str = "google.protobuf.Empty";
}

/// `application/grpc+proto` for tenantd's messages.
#[derive(Debug, Clone)]
pub struct Codec<T, U> {
    _messages: PhantomData<(T, U)>,
}

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Self {
            _messages: PhantomData,
        }
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + WireName + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = MessageEncoder<T>;
    type Decoder = MessageDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        MessageEncoder(tonic_prost::ProstEncoder::new(BufferSettings::default()))
    }

    fn decoder(&mut self) -> Self::Decoder {
        MessageDecoder {
            _message: PhantomData,
        }
    }
}

/// Encodes with prost, unchanged.
#[derive(Debug)]
pub struct MessageEncoder<T>(tonic_prost::ProstEncoder<T>);

impl<T: Message> Encoder for MessageEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        self.0.encode(item, buf)
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

/// Decodes one request message `U` from `buf`, as every RPC does: text
/// the database cannot store, then bytes that are not a `U`, are refused.
pub fn decode_message<U: Message + Default + WireName>(buf: &mut impl Buf) -> Result<U, Error> {
    if let Some(field) = crate::rpc::wire_scan::unstorable_field(U::NAME, buf.chunk()) {
        return Err(Error::invalid_field(field, UNSTORABLE_TEXT));
    }
    U::decode(buf).map_err(|error| {
        Error::invalid_field(
            "request",
            format!("is not a valid {} message: {error}", U::NAME),
        )
    })
}

/// Decodes `U`, refusing what a caller should not have sent.
#[derive(Debug)]
pub struct MessageDecoder<U> {
    _message: PhantomData<U>,
}

impl<U: Message + Default + WireName> Decoder for MessageDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        decode_message(buf).map(Some).map_err(Error::into_status)
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// The message prost's codec answers undecodable requests with (INTERNAL).
const PROST_DECODE_FAILURE: &str = "failed to decode Protobuf message";

/// Rewrites the answer of a service that decodes with prost's own codec
/// (health and reflection, which tenantd takes as they come): a request it
/// could not decode is the caller's mistake, INVALID_ARGUMENT with
/// `ErrorInfo` as from every tenantd service, not INTERNAL. Applies to
/// answers whose status comes in the headers, as it does for a refused
/// first message.
pub fn refuse_undecodable<B>(mut response: http::Response<B>) -> http::Response<B> {
    let Some(status) = Status::from_header_map(response.headers()) else {
        return response;
    };
    if status.code() != tonic::Code::Internal || !status.message().starts_with(PROST_DECODE_FAILURE)
    {
        return response;
    }
    let refused = Error::invalid_field("request", status.message().to_owned()).into_status();
    let headers = response.headers_mut();
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        headers.remove(name);
    }
    if refused.add_header(headers).is_err() {
        // Not expected; the original answer stays as it was.
        let _ = status.add_header(headers);
    }
    response
}
