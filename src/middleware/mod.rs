//! Tower layers of the gRPC server, one per file. `server.rs` assembles
//! them and says why each sits where it does.

pub mod bulkhead;
pub mod tenant_context;
