//! The accept loop (plain HTTP and `--tls`), and a connection filter that gives Graph's
//! error body to the answers hyper writes on its own.
//!
//! hyper refuses some requests before any middleware runs — a request target over its
//! hard-coded 64 KB (414), a head larger than its read buffer or with more than 100 headers
//! (431), a request line it can't parse (400) — and answers with a bare status line and
//! `content-length: 0`. Graph answers every error with its JSON body and a `request-id`
//! (graph-facts §4), and so must the emulator (see [`crate::limits`]), so each connection
//! goes through [`GraphShapedIo`], which recognises those answers and rewrites them:
//! - it is an HTTP/1 response head, a 4xx or 5xx, with nothing after it, and
//! - it has no `request-id` header: every response of the emulator's own router has one
//!   (`routes::request_ids` stamps them all), so only hyper's automatic answers lack it.
//!
//! HTTP/2 frames never start with `HTTP/1.`, so they pass untouched. The filter reports
//! itself as not supporting vectored writes, which makes hyper flatten each response into
//! one buffer, so a head is seen whole.
//!
//! One loop serves both schemes (axum's `serve` can't take a filtered connection): at
//! shutdown it stops accepting and drops open connections, so a stalled response (see
//! [`crate::simulation`]) can't hold the shutdown up. Requests already running finish on
//! their own tasks (`routes::request_ids`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::error::RequestIds;

/// How long a client gets to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            // Reap finished connection tasks so the set doesn't grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else {
                    // Accept errors (EMFILE, aborted handshakes) are transient: keep going.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                // Small JSON answers shouldn't wait for Nagle's algorithm.
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let tls = tls.clone();
                connections.spawn(async move {
                    match tls {
                        None => serve_connection(GraphShapedIo::new(stream), app).await,
                        Some(acceptor) => {
                            let Ok(Ok(stream)) =
                                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                                    .await
                            else {
                                return;
                            };
                            serve_connection(GraphShapedIo::new(stream), app).await;
                        }
                    }
                });
            }
        }
    }
    connections.shutdown().await;
}

async fn serve_connection<T>(io: GraphShapedIo<T>, app: Router)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(app);
    // Errors here are the client's (reset, bad request): nothing to report.
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .await;
}

/// A connection whose writes pass through unchanged, except hyper's own error answers,
/// which get Graph's body (see the module docs).
pub struct GraphShapedIo<T> {
    inner: T,
    /// The rewritten answer not yet written to `inner`.
    pending: Option<Bytes>,
}

impl<T> GraphShapedIo<T> {
    /// Wraps a connection.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

impl<T: AsyncWrite + Unpin> GraphShapedIo<T> {
    /// Writes what is left of a rewritten answer.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(pending) = &mut self.pending {
            if pending.is_empty() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *pending = pending.slice(n..);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for GraphShapedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GraphShapedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.drain(cx))?;
        if let Some(answer) = rewrite(buf) {
            this.pending = Some(answer);
            // What isn't written now is written by the flush hyper does next.
            if let Poll::Ready(Err(e)) = this.drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Graph's answer in place of `buf`, when `buf` is one of hyper's bodiless error heads.
fn rewrite(buf: &[u8]) -> Option<Bytes> {
    let head = std::str::from_utf8(buf.strip_suffix(b"\r\n\r\n")?).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?.strip_prefix("HTTP/1.")?;
    let status: StatusCode = status_line.get(2..5)?.parse().ok()?;
    if !(status.is_client_error() || status.is_server_error()) {
        return None;
    }
    let mut date = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("request-id")
            || (name.eq_ignore_ascii_case("content-length") && value != "0")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            return None;
        }
        if name.eq_ignore_ascii_case("date") {
            date = Some(value);
        }
    }
    let ids = RequestIds::from_headers(&HeaderMap::new());
    let body = crate::limits::refusal(status, None).body(&ids).to_string();
    let mut answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nrequest-id: {}\r\nclient-request-id: {}\r\nconnection: close\r\n",
        body.len(),
        ids.request_id,
        ids.client_request_id,
    );
    if let Some(date) = date {
        answer.push_str(&format!("date: {date}\r\n"));
    }
    answer.push_str("\r\n");
    answer.push_str(&body);
    Some(Bytes::from(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_hypers_bodiless_error_heads() {
        let hyper_431 =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(rewrite(hyper_431).unwrap().to_vec()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("\r\nrequest-id: ") && head.contains("date: Mon, 01 Jan"));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"]["code"], "RequestHeaderFieldsTooLarge");
        assert!(head.contains(&format!(
            "content-length: {}",
            answer.len() - head.len() - 4
        )));

        for untouched in [
            &b"HTTP/1.1 404 Not Found\r\nrequest-id: x\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}",
            b"\x00\x00\x12\x04\x00\x00\x00\x00\x00",
        ] {
            assert!(rewrite(untouched).is_none());
        }
    }
}
