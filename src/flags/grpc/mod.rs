//! ConfigService's flag handlers.

mod context;
pub mod convert;
pub mod decode;
pub mod encode;
pub mod service;
