//! HTTP routes in front of JSON-RPC on the same port: a [`Route`] claims the requests whose path
//! it matches and answers them; every other request goes on to jsonrpsee. The binary ingest path
//! and the Universal Resolver interface are routes, and so will the REST interfaces to come.

use crate::params::Ctx;
use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An HTTP endpoint beside JSON-RPC.
pub trait Route: Clone + Send + Sync + 'static {
    /// Whether this route serves `path`.
    fn matches(&self, path: &str) -> bool;
    /// Answers a request whose path matched.
    fn handle(&self, node: Ctx, request: HttpRequest) -> BoxFuture<HttpResponse>;
}

/// The tower layer of a [`Route`], for `jsonrpsee::server::Builder::set_http_middleware`.
#[derive(Clone)]
pub struct RouteLayer<R> {
    node: Ctx,
    route: R,
}

impl<R: Route> RouteLayer<R> {
    /// `route`, serving `node`.
    pub fn new(node: Ctx, route: R) -> Self {
        Self { node, route }
    }
}

impl<S, R: Route> tower::Layer<S> for RouteLayer<R> {
    type Service = RouteService<S, R>;

    fn layer(&self, inner: S) -> RouteService<S, R> {
        RouteService {
            inner,
            node: self.node.clone(),
            route: self.route.clone(),
        }
    }
}

/// See [`RouteLayer`].
#[derive(Clone)]
pub struct RouteService<S, R> {
    inner: S,
    node: Ctx,
    route: R,
}

impl<S, R> tower::Service<HttpRequest> for RouteService<S, R>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
    R: Route,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture<Result<HttpResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        if !self.route.matches(request.uri().path()) {
            return Box::pin(self.inner.call(request));
        }
        let response = self.route.handle(self.node.clone(), request);
        Box::pin(async move { Ok(response.await) })
    }
}
