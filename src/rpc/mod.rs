//! What every gRPC adapter shares: the request codec that refuses
//! undecodable bytes and unstorable text, the conversions of common proto
//! types, the request id header, and the handlers that only hand their
//! request on (`forward!`).

pub mod codec;
pub mod convert;
pub mod mask;
pub mod origin;
pub mod wire_scan;

use std::future::Future;
use std::pin::Pin;

use tonic::{Response, Status};

use crate::error::Error;

/// What every handler answers.
pub type Reply<T> = Result<Response<T>, Status>;

/// What a handler returns once `async_trait` rewrote it: its answer, to
/// come (`forward!` writes handlers so).
pub type ReplyFuture<'a, T> = Pin<Box<dyn Future<Output = Reply<T>> + Send + 'a>>;

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

/// Writes, inside a `#[tonic::async_trait]` service impl, the handlers that
/// only hand their request on, one line each:
///
/// - `name(Request) -> Response => self.helper(arguments);` answers
///   `self.helper(request, arguments)`: one method of the service's own
///   serving several RPCs of one shape;
/// - `self.field: name(Request) -> Response; …` answers each with
///   `self.field.name(request)`: a part of the service served by another
///   type.
///
/// `async_trait` rewrites an impl's methods before the macros inside it
/// expand, so the handlers are written here as it would have rewritten
/// them: returning a boxed `Send` future that borrows `self`.
macro_rules! forward {
    (self.$field:ident: $($method:ident($request:ty) -> $reply:ty;)*) => {
        $crate::rpc::forward! { $($method($request) -> $reply => self.$field.$method();)* }
    };
    (
        $($method:ident($request:ty) -> $reply:ty => self.$($call:ident).+($($argument:expr),*);)*
    ) => {$(
        fn $method<'life0, 'async_trait>(
            &'life0 self,
            request: ::tonic::Request<$request>,
        ) -> $crate::rpc::ReplyFuture<'async_trait, $reply>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(self.$($call).+(request $(, $argument)*))
        }
    )*};
}
pub(crate) use forward;
