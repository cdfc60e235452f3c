//! Webhooks end to end: deliveries verified by the Standard Webhooks
//! reference implementation, retries and dead letters, SSRF refusals,
//! who may manage which endpoints, and a delivering replica killed
//! mid-burst.

mod access;
mod crash;
mod delivery;
mod receiver;
mod retries;
mod ssrf;
