//! What every gRPC adapter shares: the request codec that refuses
//! undecodable bytes and unstorable text, the conversions of common proto
//! types, and the request id header.

pub mod codec;
pub mod convert;
pub mod origin;
pub mod wire_scan;
