//! The HTTP front: hyper server, the tower stack, routing, handlers and error mapping.

pub mod errors;
pub mod extract;
pub mod handlers;
pub mod observe;
pub mod pages;
pub mod readiness;
pub mod router;
pub mod server;
pub mod stack;
pub mod state;
pub mod waiting;
