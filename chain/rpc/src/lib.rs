//! `weft-rpc`: Weft's JSON-RPC 2.0 server, HTTP and WebSocket on one port (jsonrpsee).
//!
//! - [`params`]: Weft's error codes ([`codes`]), every method with its parameter names
//!   ([`METHODS`], served as OpenRPC by `rpc.discover`), and parameter parsing by position or name.
//! - [`chain`]: the `weft_*` methods and subscriptions.
//! - [`tangle`]: the `tangle_*` methods and subscriptions of a committee member's Tangle.
//! - [`binary`]: the binary ingest path (`POST /binary/v1/transactions`, borsh batches), an HTTP
//!   layer in front of JSON-RPC on the same port.
//! - [`did`]: `did_resolve` and the Universal Resolver driver interface
//!   (`GET /1.0/identifiers/{did}`), another HTTP route on the same port.
//! - [`credentials`]: the W3C VC API verifier endpoints (`POST /credentials/verify`,
//!   `POST /presentations/verify`, `POST /challenges`), status lists (`GET /status/…`) and the
//!   `status_*` and `trust_*` methods.
//! - [`policy`]: `policy_decide`, device access decisions on verified credentials, with the
//!   proof of the policy they rest on.
//! - [`route`]: how such HTTP routes sit in front of JSON-RPC.
//!
//! Start reading at [`module`] and [`serve`]. The server reaches the node only through
//! `weft_api::NodeApi`, so this crate knows nothing of the executor, the mempool, consensus, the
//! network or RocksDB, and a change here rebuilds neither. `docs/json-rpc.md` is the reference.

pub mod assets;
pub mod binary;
pub mod chain;
pub mod credentials;
pub mod did;
pub mod params;
pub mod policy;
pub mod route;
pub mod tangle;

pub use params::{Ctx, METHODS, MethodDoc, codes, openrpc};

use jsonrpsee::server::{RpcModule, Server, ServerHandle};
use std::net::SocketAddr;

/// Limits of the HTTP and WebSocket server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// Largest request body, in bytes (responses may be up to 16 MiB or this, whichever is more).
    pub max_request_bytes: u32,
    /// Most simultaneous connections.
    pub max_connections: u32,
}

/// The RPC module over `node`: every method of [`METHODS`].
pub fn module(node: Ctx) -> RpcModule<Ctx> {
    let mut m = RpcModule::new(node);
    chain::register(&mut m);
    tangle::register(&mut m);
    did::register(&mut m);
    credentials::register(&mut m);
    policy::register(&mut m);
    assets::register(&mut m);
    m
}

/// Starts the JSON-RPC server on `listen`; returns its address (useful with port 0) and handle.
pub async fn serve(
    node: Ctx,
    listen: SocketAddr,
    limits: ServerConfig,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let config = jsonrpsee::server::ServerConfig::builder()
        .max_request_body_size(limits.max_request_bytes)
        .max_response_body_size(limits.max_request_bytes.max(16 * 1024 * 1024))
        .max_connections(limits.max_connections)
        .build();
    let binary = binary::layer(node.clone(), limits.max_request_bytes as usize);
    let server = Server::builder()
        .set_config(config)
        .set_http_middleware(
            tower::ServiceBuilder::new()
                .layer(binary)
                .layer(did::layer(node.clone()))
                .layer(credentials::layer(
                    node.clone(),
                    limits.max_request_bytes as usize,
                )),
        )
        .build(listen)
        .await?;
    let addr = server.local_addr()?;
    Ok((addr, server.start(module(node))))
}
