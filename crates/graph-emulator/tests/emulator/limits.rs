//! Size limits and the refusals of the HTTP stack, over raw HTTP: every 413, 414 and 431
//! (the emulator's own limits and hyper's hard ones), an unparsable request and a 405 of
//! an admin route carry Graph's JSON error body and a `request-id` header that matches
//! `innerError.request-id`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::time::Duration;

use graph_emulator::limits::{MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_URL_BYTES};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// An answer read off a raw connection: status, head and JSON body.
struct RawAnswer {
    status: u16,
    head: String,
    body: Value,
}

impl RawAnswer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Writes `request` to a fresh connection and reads one answer: its head, then the body
/// its `content-length` announces (or up to the close). Done as soon as the answer is
/// whole, so the test does not depend on when the server's close reaches the client (a
/// close with unread request bytes may arrive as a reset, or late on a busy machine). The
/// writing runs alongside: a server may answer before it has read everything.
async fn raw(emu: &Emulator, request: &[u8]) -> RawAnswer {
    let addr = emu.root.trim_start_matches("http://").trim_end_matches('/');
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let request = request.to_vec();
    // A write error only means the server stopped reading, which is its right.
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        writer
    });
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 8192];
        loop {
            if answer_is_whole(&bytes) {
                return Ok(());
            }
            match reader.read(&mut chunk).await {
                Ok(0) => return Ok(()),
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(e),
            }
        }
    })
    .await
    .expect("the server answers");
    assert!(read.is_ok() || !bytes.is_empty(), "{read:?}");
    writing.abort();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    RawAnswer {
        status: head[9..12].parse().unwrap(),
        head: head.to_owned(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

/// Whether `bytes` hold a response head and as much body as it announces.
fn answer_is_whole(bytes: &[u8]) -> bool {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&bytes[..end]);
    let length = head.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    length.is_some_and(|length| bytes.len() >= end + 4 + length)
}

/// Graph's error body, with the `request-id` header repeated in `innerError`.
#[track_caller]
fn assert_graph_error(
    status: u16,
    code: &str,
    got_status: u16,
    request_id: Option<&str>,
    body: &Value,
) {
    assert_eq!(got_status, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let inner = &body["error"]["innerError"];
    assert!(
        inner["date"].is_string() && inner["client-request-id"].is_string(),
        "{body}"
    );
    let request_id = request_id.expect("a request-id header");
    assert_eq!(inner["request-id"], request_id, "{body}");
}

#[track_caller]
fn assert_answer(answer: &Answer, status: u16, code: &str) {
    let request_id = answer
        .headers
        .get("request-id")
        .map(|v| v.to_str().unwrap());
    assert_graph_error(
        status,
        code,
        answer.status.as_u16(),
        request_id,
        &answer.json,
    );
}

#[track_caller]
fn assert_raw(answer: &RawAnswer, status: u16, code: &str) {
    assert_graph_error(
        status,
        code,
        answer.status,
        answer.header("request-id"),
        &answer.body,
    );
    assert!(
        answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{}",
        answer.head
    );
}

#[tokio::test]
async fn a_declared_body_over_4_mb_is_413_before_it_is_read() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    // 50 MB announced, a few bytes sent: the emulator must answer without waiting for
    // the rest.
    let request = format!(
        "POST /v1.0/invitations HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{{\"invited",
        50 * 1024 * 1024
    );
    let answer = raw(&emu, request.as_bytes()).await;
    assert_raw(&answer, 413, "RequestEntityTooLarge");
    // Refused at the edge: nothing was logged or changed.
    assert_eq!(emu.state().await["requestCount"], 0);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_with_graphs_body() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    // No Content-Length: the body is cut off as it passes the limit. One byte over is
    // sent, so the server has read everything when it answers.
    let size = MAX_BODY_BYTES + 1;
    let mut request = format!(
        "PATCH /v1.0/users/{} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{size:x}\r\n",
        uid(1)
    )
    .into_bytes();
    request.extend(std::iter::repeat_n(b' ', size));
    let answer = raw(&emu, &request).await;
    assert_raw(&answer, 413, "RequestEntityTooLarge");

    // Just under the limit is read and applied.
    let mut body = vec![b' '; MAX_BODY_BYTES - 100];
    body.extend_from_slice(br#"{"usageLocation":"DE"}"#);
    let response = emu
        .client
        .patch(format!("{}v1.0/users/{}", emu.root, uid(1)))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{:?}", response.text().await);
    assert_eq!(emu.user(&uid(1)).await["usageLocation"], "DE");
}

#[tokio::test]
async fn a_url_over_8_kb_is_414_and_over_hypers_own_limit_too() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let filter = format!("startsWith(mail,'{}')", "a".repeat(MAX_URL_BYTES));
    let a = emu
        .get(&format!("v1.0/users?$filter={filter}"), &token)
        .await;
    assert_answer(&a, 414, "RequestUriTooLong");

    // Over hyper's hard-coded 64 KB, hyper answers itself; the answer is rewritten.
    let path = format!("/v1.0/users?$filter={}", "a".repeat(70 * 1024));
    let answer = raw(
        &emu,
        format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes(),
    )
    .await;
    assert_raw(&answer, 414, "RequestUriTooLong");

    // A URL just under the limit goes through to Graph's own rules.
    let ok = format!("startsWith(mail,'{}')", "a".repeat(1000));
    let a = emu.get(&format!("v1.0/users?$filter={ok}"), &token).await;
    assert_eq!(a.status, 200, "{}", a.text);
}

#[tokio::test]
async fn headers_over_16_kb_or_too_many_are_431() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let big = "b".repeat(MAX_HEADER_BYTES);
    let a = emu
        .send(
            "GET",
            "v1.0/users",
            Some(&token),
            &[("x-padding", &big)],
            None,
        )
        .await;
    assert_answer(&a, 431, "RequestHeaderFieldsTooLarge");
    // The token endpoint and the admin routes are behind the same limits.
    let a = emu
        .send("GET", "_emulator/state", None, &[("x-padding", &big)], None)
        .await;
    assert_answer(&a, 431, "RequestHeaderFieldsTooLarge");

    // Over hyper's ~400 KB read buffer: hyper's own 431, rewritten.
    let huge = "h".repeat(500 * 1024);
    let answer = raw(
        &emu,
        format!("GET /v1.0/users HTTP/1.1\r\nhost: x\r\nx-padding: {huge}\r\n\r\n").as_bytes(),
    )
    .await;
    assert_raw(&answer, 431, "RequestHeaderFieldsTooLarge");

    // More than 100 headers: hyper's own 431, rewritten.
    let many: String = (0..150).map(|i| format!("x-h{i}: v\r\n")).collect();
    let answer = raw(
        &emu,
        format!("GET /v1.0/users HTTP/1.1\r\nhost: x\r\n{many}\r\n").as_bytes(),
    )
    .await;
    assert_raw(&answer, 431, "RequestHeaderFieldsTooLarge");
}

#[tokio::test]
async fn other_refusals_of_the_stack_are_graph_shaped_too() {
    let emu = Emulator::demo().await;
    // A request line hyper can't parse.
    let answer = raw(&emu, b"GET /v1.0/us ers HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_raw(&answer, 400, "BadRequest");
    // axum's default 405 on an admin route.
    let a = emu.send("DELETE", "_emulator/state", None, &[], None).await;
    assert_answer(&a, 405, "BadRequest");
    assert!(a.headers.contains_key("allow"), "{:?}", a.headers);
    // A bad state option.
    let a = emu
        .send("GET", "_emulator/state?usres=false", None, &[], None)
        .await;
    assert_answer(&a, 400, "Request_BadRequest");
    // The redemption page's HTML 404 stays a page for a browser.
    let a = emu
        .send("GET", "redeem/no-such-token", None, &[], None)
        .await;
    assert_eq!(a.status, 404);
    assert!(
        a.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}
