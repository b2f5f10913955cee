//! `weft vc serve`: the W3C VC API's `POST /credentials/issue`, served by an issuer process that
//! holds only its own key (never anyone else's). Requests asking for `credentialStatus` get a
//! fresh entry in the issuer's revocation or suspension list, allocated on chain.

use crate::output::{Global, connect, out};
use anyhow::{Context, Result, anyhow};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use std::sync::Arc;
use tokio::sync::Mutex;
use weft_client::Client;
use weft_client::credentials::Issuer;
use weft_credentials::vcapi::{self, Answer};
use weft_types::status::Purpose;

/// The largest request body taken.
const MAX_BODY: usize = 1024 * 1024;

struct State {
    issuer: Mutex<Issuer<'static>>,
    revocation: Option<u32>,
    suspension: Option<u32>,
}

fn respond(answer: &Answer) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(answer.status)
        .header("content-type", answer.media_type())
        .body(Full::new(Bytes::from(
            serde_json::to_vec_pretty(&answer.body).unwrap_or_default(),
        )))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

async fn handle(
    state: Arc<State>,
    request: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    if request.uri().path() != "/credentials/issue" {
        return respond(&vcapi::problem(
            404,
            "PARSING_ERROR",
            "Not found",
            "this issuer serves POST /credentials/issue",
        ));
    }
    if request.method() != hyper::Method::POST {
        return respond(&vcapi::problem(
            405,
            "PARSING_ERROR",
            "Method not allowed",
            "POST /credentials/issue with {credential, options}",
        ));
    }
    let body = match http_body_util::Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return respond(&vcapi::problem(
                413,
                "PARSING_ERROR",
                "Unreadable body",
                format!("the body could not be read (at most {MAX_BODY} bytes): {e}"),
            ));
        }
    };
    let parsed = match vcapi::parse_issue(&body) {
        Ok(p) => p,
        Err(answer) => return respond(&answer),
    };
    let mut lists = Vec::new();
    for purpose in &parsed.status {
        let (purpose, list) = match purpose.as_str() {
            "revocation" => (Purpose::Revocation, state.revocation),
            _ => (Purpose::Suspension, state.suspension),
        };
        let Some(list) = list else {
            return respond(&vcapi::problem(
                422,
                "MALFORMED_VALUE_ERROR",
                "No such status list",
                format!("this issuer keeps no {purpose} list (start it with --{purpose}-list N)"),
            ));
        };
        lists.push((purpose, list));
    }
    let mut issuer = state.issuer.lock().await;
    if let Some(given) = parsed.credential.get("issuer").and_then(|i| {
        i.as_str()
            .map(str::to_string)
            .or_else(|| i.get("id").and_then(|v| v.as_str()).map(str::to_string))
    }) && given != issuer.did()
    {
        return respond(&vcapi::problem(
            422,
            "MALFORMED_VALUE_ERROR",
            "Wrong issuer",
            format!(
                "the credential names issuer {given}; this service issues only as {}",
                issuer.did()
            ),
        ));
    }
    let result = issuer
        .issue(parsed.credential, &parsed.format, &lists)
        .await
        .map_err(|e| weft_credentials::Error::Invalid(e.to_string()));
    respond(&vcapi::issued(result))
}

/// Serves until interrupted.
pub async fn serve(
    cli: &Global,
    did: &str,
    fragment: &str,
    listen: std::net::SocketAddr,
    revocation: Option<u32>,
    suspension: Option<u32>,
) -> Result<()> {
    // The issuer lives as long as the process: leak one client for it.
    let client: &'static Client = Box::leak(Box::new(connect(cli).await?));
    let path = crate::output::key_path(cli);
    let key = weft_client::keyfile::read(&path)
        .with_context(|| format!("the issuer's own key: pass --key (read {})", path.display()))?;
    let issuer = Issuer::new(client, key, did, fragment, client.url())
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    out!(
        "issuing as {}#{} at http://{}/credentials/issue (Ctrl-C stops)",
        did,
        fragment,
        listener.local_addr()?
    );
    let state = Arc::new(State {
        issuer: Mutex::new(issuer),
        revocation,
        suspension,
    });
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(state, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}
