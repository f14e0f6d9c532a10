//! `POST /$batch` (graph-facts.md §6): up to 20 requests, each dispatched through the same
//! `/v1.0` routes behind the gate (so each is authenticated with the outer `Authorization`
//! header, throttled — an item can get its own 429 with `Retry-After` — and logged with
//! `batch: true`).
//!
//! Choices (stricter where undocumented): the whole batch is 400 `BadRequest` when the
//! payload is malformed, has more than 20 requests, repeats an id, has an item with a body
//! but no `Content-Type` header, an absolute `url`, an unknown item field, or a `dependsOn`
//! that names an unknown or later id, lists more than one id, or doesn't follow one of the
//! documented patterns (all parallel; a serial chain where each item depends on the one
//! before; every dependent item depending on the same one). Items run in array order;
//! the dependents of a failed item (status ≥ 400) get 424 `FailedDependency`.

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use super::{BatchItem, Ctx, json};
use crate::error::{GraphError, RequestIds};

/// State of the `$batch` route: the gated, logged copy of the API items go through.
#[derive(Clone)]
pub struct BatchState {
    /// The `/v1.0` routes (relative), wrapped in gate and request log.
    pub api: Router,
}

const MAX_REQUESTS: usize = 20;
const ITEM_FIELDS: &[&str] = &["id", "method", "url", "headers", "body", "dependsOn"];

fn bad(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
}

struct Item {
    id: String,
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    depends_on: Option<String>,
}

fn parse(body: &[u8]) -> Result<Vec<Item>, GraphError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| bad("Invalid batch payload format."))?;
    let Some(requests) = value.get("requests").and_then(Value::as_array) else {
        return Err(bad(
            "Invalid batch payload format: a 'requests' array is required.",
        ));
    };
    if let Some(k) = value
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "requests"))
    {
        return Err(bad(format!(
            "Invalid batch payload format: unknown property '{k}'."
        )));
    }
    if requests.is_empty() {
        return Err(bad("Invalid batch payload format: 'requests' is empty."));
    }
    if requests.len() > MAX_REQUESTS {
        return Err(bad(format!(
            "The number of requests in the batch ({}) exceeds the limit of {MAX_REQUESTS}.",
            requests.len()
        )));
    }
    let mut items = Vec::with_capacity(requests.len());
    let mut ids = HashSet::new();
    for r in requests {
        let Some(o) = r.as_object() else {
            return Err(bad(
                "Invalid batch payload format: each request must be an object.",
            ));
        };
        if let Some(k) = o.keys().find(|k| !ITEM_FIELDS.contains(&k.as_str())) {
            return Err(bad(format!(
                "Invalid batch payload format: unknown property '{k}'."
            )));
        }
        let id = match o.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(bad("Each batch request needs an 'id'.")),
        };
        if !ids.insert(id.clone()) {
            return Err(bad(format!(
                "Batch request ids must be unique; '{id}' is repeated."
            )));
        }
        let method = o
            .get("method")
            .and_then(Value::as_str)
            .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
            .ok_or_else(|| bad(format!("Batch request '{id}' needs a valid 'method'.")))?;
        let url = o
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("Batch request '{id}' needs a 'url'.")))?;
        if url.contains("://") {
            return Err(bad(format!(
                "Batch request '{id}': the url must be relative to /v1.0."
            )));
        }
        let url = if url.starts_with('/') {
            url.to_owned()
        } else {
            format!("/{url}")
        };
        let mut headers = Vec::new();
        match o.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(h)) => {
                for (k, v) in h {
                    let Some(v) = v.as_str() else {
                        return Err(bad(format!(
                            "Batch request '{id}': header '{k}' must be a string."
                        )));
                    };
                    headers.push((k.clone(), v.to_owned()));
                }
            }
            Some(_) => {
                return Err(bad(format!(
                    "Batch request '{id}': 'headers' must be an object."
                )));
            }
        }
        let body = o.get("body").filter(|b| !b.is_null()).cloned();
        if body.is_some()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            return Err(bad(format!(
                "Batch request '{id}' has a body but no Content-Type header."
            )));
        }
        let depends_on = match o.get("dependsOn") {
            None | Some(Value::Null) => None,
            Some(Value::Array(d)) if d.is_empty() => None,
            Some(Value::Array(d)) if d.len() == 1 => match &d[0] {
                Value::String(s) => Some(s.clone()),
                _ => {
                    return Err(bad(format!(
                        "Batch request '{id}': dependsOn must list ids."
                    )));
                }
            },
            Some(Value::Array(_)) => {
                return Err(bad(format!(
                    "Batch request '{id}': a request can depend on only one other request."
                )));
            }
            Some(_) => {
                return Err(bad(format!(
                    "Batch request '{id}': dependsOn must be an array."
                )));
            }
        };
        items.push(Item {
            id,
            method,
            url,
            headers,
            body,
            depends_on,
        });
    }
    check_dependencies(&items)?;
    Ok(items)
}

fn check_dependencies(items: &[Item]) -> Result<(), GraphError> {
    let position: HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.as_str(), i))
        .collect();
    for (i, item) in items.iter().enumerate() {
        if let Some(dep) = &item.depends_on {
            match position.get(dep.as_str()) {
                Some(p) if *p < i => {}
                _ => {
                    return Err(bad(format!(
                        "Batch request '{}' depends on '{dep}', which is not an earlier request of the batch.",
                        item.id
                    )));
                }
            }
        }
    }
    let dependents: Vec<(usize, &str)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, it)| it.depends_on.as_deref().map(|d| (i, d)))
        .collect();
    if dependents.is_empty() {
        return Ok(());
    }
    let serial = items
        .iter()
        .enumerate()
        .all(|(i, it)| match (i, &it.depends_on) {
            (0, None) => true,
            (0, Some(_)) => false,
            (_, Some(d)) => *d == items[i - 1].id,
            (_, None) => false,
        });
    let first = dependents[0].1;
    let same_root = dependents.iter().all(|(_, d)| *d == first)
        && items.iter().filter(|it| it.depends_on.is_none()).count() == 1;
    if serial || same_root {
        Ok(())
    } else {
        Err(bad(
            "Unsupported dependsOn pattern: requests must be all parallel, a serial chain, or all depend on the same request.",
        ))
    }
}

/// `POST /$batch`.
pub async fn handle(
    State(state): State<BatchState>,
    ctx: Ctx,
    body: axum::body::Bytes,
) -> Response {
    let items = match super::require_json_body(&ctx.headers, &body).and_then(|()| parse(&body)) {
        Ok(items) => items,
        Err(e) => return ctx.finish(Err(e)),
    };
    let authorization = ctx.headers.get(axum::http::header::AUTHORIZATION).cloned();
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::with_capacity(items.len());
    for item in items {
        let failed_dependency = item
            .depends_on
            .as_ref()
            .and_then(|d| statuses.get(d))
            .is_some_and(|s| *s >= 400);
        let (status, headers, body) = if failed_dependency {
            let ids = RequestIds::from_headers(&ctx.headers);
            let e = GraphError::new(
                StatusCode::FAILED_DEPENDENCY,
                "FailedDependency",
                "The request was not executed because one of the requests it depends on failed.",
            );
            (
                424,
                json!({"Content-Type": "application/json"}),
                Some(e.body(&ids)),
            )
        } else {
            dispatch(&state.api, &item, authorization.as_ref()).await
        };
        statuses.insert(item.id.clone(), status);
        let mut r = Map::new();
        r.insert("id".into(), json!(item.id));
        r.insert("status".into(), json!(status));
        r.insert("headers".into(), headers);
        if let Some(b) = body {
            r.insert("body".into(), b);
        }
        responses.push(Value::Object(r));
    }
    ctx.finish(Ok(json(StatusCode::OK, json!({"responses": responses}))))
}

async fn dispatch(
    api: &Router,
    item: &Item,
    authorization: Option<&HeaderValue>,
) -> (u16, Value, Option<Value>) {
    let mut builder = Request::builder()
        .method(item.method.clone())
        .uri(&item.url);
    let mut content_type_json = false;
    for (k, v) in &item.headers {
        if k.eq_ignore_ascii_case("authorization") {
            // Items use the batch's own credentials.
            continue;
        }
        if k.eq_ignore_ascii_case("content-type") && v.to_ascii_lowercase().contains("json") {
            content_type_json = true;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            builder = builder.header(name, value);
        }
    }
    if let Some(auth) = authorization {
        builder = builder.header(axum::http::header::AUTHORIZATION, auth.clone());
    }
    let body = match &item.body {
        None => Body::empty(),
        Some(Value::String(s)) if !content_type_json => Body::from(s.clone()),
        Some(v) => Body::from(v.to_string()),
    };
    let Ok(mut request) = builder.body(body) else {
        let e = bad("The request url or headers are not valid.");
        let ids = RequestIds::from_headers(&axum::http::HeaderMap::new());
        return (
            400,
            json!({"Content-Type": "application/json"}),
            Some(e.body(&ids)),
        );
    };
    let ids = RequestIds::from_headers(request.headers());
    request.extensions_mut().insert(ids);
    request.extensions_mut().insert(BatchItem);
    let response = match api.clone().oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        if name == axum::http::header::CONTENT_LENGTH {
            continue;
        }
        if let Ok(v) = value.to_str() {
            // Graph spells the standard headers in title case inside batch responses.
            let key = match name.as_str() {
                "content-type" => "Content-Type".to_owned(),
                "retry-after" => "Retry-After".to_owned(),
                "location" => "Location".to_owned(),
                "cache-control" => "Cache-Control".to_owned(),
                other => other.to_owned(),
            };
            headers.insert(key, json!(v));
        }
    }
    let is_json = headers
        .get("Content-Type")
        .and_then(Value::as_str)
        .is_some_and(|c| c.contains("json"));
    let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let body = if bytes.is_empty() {
        None
    } else if is_json {
        serde_json::from_slice(&bytes).ok()
    } else {
        Some(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, Value::Object(headers), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(body: Value) -> Result<Vec<String>, String> {
        parse(body.to_string().as_bytes())
            .map(|items| items.into_iter().map(|i| i.id).collect())
            .map_err(|e| e.message)
    }

    fn req(id: &str, dep: Option<&str>) -> Value {
        match dep {
            Some(d) => json!({"id": id, "method": "GET", "url": "/users", "dependsOn": [d]}),
            None => json!({"id": id, "method": "GET", "url": "/users"}),
        }
    }

    #[test]
    fn accepts_the_documented_dependency_patterns() {
        assert!(ids(json!({"requests": [req("1", None), req("2", None)]})).is_ok());
        assert!(
            ids(json!({"requests": [req("1", None), req("2", Some("1")), req("3", Some("2"))]}))
                .is_ok()
        );
        assert!(
            ids(json!({"requests": [req("1", None), req("2", Some("1")), req("3", Some("1"))]}))
                .is_ok()
        );
    }

    #[test]
    fn refuses_other_dependency_patterns_and_bad_envelopes() {
        assert!(
            ids(json!({"requests": [req("1", None), req("2", None), req("3", Some("2"))]}))
                .is_err()
        );
        assert!(ids(json!({"requests": [req("1", Some("2")), req("2", None)]})).is_err());
        assert!(ids(json!({"requests": [req("1", None), req("1", None)]})).is_err());
        let many: Vec<Value> = (0..21).map(|i| req(&i.to_string(), None)).collect();
        assert!(
            ids(json!({"requests": many}))
                .unwrap_err()
                .contains("limit of 20")
        );
        let no_type = json!({"requests": [{"id": "1", "method": "PATCH", "url": "/users/x", "body": {"mail": "a@b.com"}}]});
        assert!(ids(no_type).unwrap_err().contains("Content-Type"));
        assert!(ids(json!({"requests": [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"}]})).is_err());
    }
}
