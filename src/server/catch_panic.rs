//! The panic layer: a handler (or gate) that panics answers INTERNAL, like
//! any other internal error, with the panic logged once, instead of
//! breaking the caller's stream.

use tower_http::catch_panic::CatchPanicLayer;

/// What a panic is answered with.
type AnswerPanic = fn(Box<dyn std::any::Any + Send + 'static>) -> http::Response<tonic::body::Body>;

/// The panic layer of the stack.
pub(super) fn layer() -> CatchPanicLayer<AnswerPanic> {
    CatchPanicLayer::custom(answer_panic)
}

/// The answer to a call whose handler panicked: INTERNAL, like any other
/// internal error, with the panic logged once.
fn answer_panic(
    panic: Box<dyn std::any::Any + Send + 'static>,
) -> http::Response<tonic::body::Body> {
    let message = panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %message, "a handler panicked");
    tonic::Status::internal("internal error").into_http()
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::Request;
    use tower::{ServiceBuilder, ServiceExt};

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_internal() {
        let service = ServiceBuilder::new().layer(layer()).service_fn(
            |_request: Request<tonic::body::Body>| async move {
                if std::hint::black_box(true) {
                    panic!("handler bug");
                }
                Ok::<_, Infallible>(http::Response::new(tonic::body::Body::default()))
            },
        );
        let response = service
            .oneshot(Request::new(tonic::body::Body::default()))
            .await
            .expect("an answer");
        assert_eq!(
            response.status(),
            http::StatusCode::OK,
            "gRPC errors travel in a 200"
        );
        let status = tonic::Status::from_header_map(response.headers()).expect("a grpc-status");
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), "internal error");
    }
}
