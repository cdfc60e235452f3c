//! ConfigService's configuration handlers.

pub mod convert;
pub mod service;
pub mod watch;
