//! EventService on the wire: the request checked and scoped, the events
//! as CloudEvents.

pub mod convert;
pub mod service;
