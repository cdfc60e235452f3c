//! EventService and WebhookService on the wire: the requests checked and
//! scoped, the events as CloudEvents, endpoints and deliveries as their
//! messages.

pub mod convert;
pub mod service;
pub mod webhook_convert;
pub mod webhooks;
