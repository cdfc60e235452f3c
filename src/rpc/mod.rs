//! What every gRPC adapter shares: the request codec that refuses
//! undecodable bytes and unstorable text, the conversions of common proto
//! types, and the request id header.

pub mod codec;
pub mod convert;
pub mod mask;
pub mod origin;
pub mod wire_scan;

use tonic::{Response, Status};

use crate::error::Error;

/// What every handler answers.
pub type Reply<T> = Result<Response<T>, Status>;

/// A handler's answer: `result` encoded by `encode`, or its error as the
/// one status [`Error`] maps to.
pub fn reply<T, U>(result: Result<T, Error>, encode: impl FnOnce(T) -> U) -> Reply<U> {
    result
        .map(|value| Response::new(encode(value)))
        .map_err(Status::from)
}

/// A handler's answer when `result` is already the response message.
pub fn answer<T>(result: Result<T, Error>) -> Reply<T> {
    reply(result, std::convert::identity)
}
