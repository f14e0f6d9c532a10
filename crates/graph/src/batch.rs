//! JSON batching (`POST /$batch`, graph-facts §6) and lookups built on it.
//!
//! Inner 429s are retried by us (SDKs don't): only the throttled items (and
//! items that failed with 424 because they depended on one) are resent, after
//! the longest inner `Retry-After`. The envelope itself may come back as 200
//! or, per throttling.md, as 424; both are read the same way.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;

use crate::client::{Call, GraphClient};
use crate::error::{GraphError, parse_error_body};
use crate::model::{BatchRequest, BatchResponse, User};
use crate::retry::{Idempotency, parse_retry_after};
use crate::throttle::ThrottleScope;

/// Graph's limit on requests per batch.
pub const MAX_BATCH: usize = 20;

/// RFC 3986 unreserved characters stay; everything else in a path segment or
/// query value is encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(serde::Serialize)]
struct Envelope<'a> {
    requests: &'a [BatchRequest],
}

#[derive(serde::Deserialize)]
struct ResponseEnvelope {
    #[serde(default)]
    responses: Vec<BatchResponse>,
}

impl GraphClient {
    /// Send up to 20 requests in one `$batch`. Ids must be unique; more than
    /// 20 requests or duplicate ids fail before anything is sent. Responses
    /// come back in request order.
    pub async fn batch(
        &self,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, GraphError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        if requests.len() > MAX_BATCH {
            return Err(GraphError::InvalidRequest(format!(
                "a $batch holds at most {MAX_BATCH} requests, got {}",
                requests.len()
            )));
        }
        let mut ids = HashSet::new();
        for r in &requests {
            if r.id.is_empty() || !ids.insert(r.id.as_str()) {
                return Err(GraphError::InvalidRequest(format!(
                    "$batch request ids must be unique and non-empty: {:?}",
                    r.id
                )));
            }
        }
        let requests: Vec<BatchRequest> = requests.into_iter().map(with_content_type).collect();
        let order: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
        let by_id: HashMap<String, BatchRequest> =
            requests.into_iter().map(|r| (r.id.clone(), r)).collect();

        let policy = self.retry_policy().clone();
        let seed = self.call_seed();
        let mut done: HashMap<String, BatchResponse> = HashMap::new();
        let mut pending: Vec<BatchRequest> = order
            .iter()
            .filter_map(|id| by_id.get(id).cloned())
            .collect();
        let mut round: u32 = 0;
        let mut waited = Duration::ZERO;
        loop {
            round += 1;
            let responses = self.send_batch(&pending).await?;
            let mut throttled: HashSet<String> = HashSet::new();
            let mut faulted = 0;
            let mut longest: Option<Duration> = None;
            let mut received: HashMap<String, BatchResponse> = HashMap::new();
            for r in responses {
                // A read that met a passing server error is as safe to repeat as a
                // throttled one; a write is not (its outcome is the caller's to settle).
                let transient_read = crate::retry::is_transient_status(r.status)
                    && by_id
                        .get(&r.id)
                        .is_some_and(|q| q.method.eq_ignore_ascii_case("GET"));
                if transient_read {
                    throttled.insert(r.id.clone());
                    faulted += 1;
                }
                if r.status == 429 {
                    throttled.insert(r.id.clone());
                    let ra = r
                        .header("retry-after")
                        .and_then(|v| parse_retry_after(v, self.options().clock.now()));
                    longest = longest.max(ra);
                }
                received.insert(r.id.clone(), r);
            }
            // A 424 whose dependency was throttled gets another go as well.
            let dependents: Vec<String> = pending
                .iter()
                .filter(|req| {
                    received.get(&req.id).is_some_and(|r| r.status == 424)
                        && req.depends_on.iter().any(|d| throttled.contains(d))
                })
                .map(|req| req.id.clone())
                .collect();
            throttled.extend(dependents);

            let delay = if throttled.is_empty() || round >= policy.max_attempts {
                None
            } else {
                let d = policy.delay(round, longest, seed);
                (waited + d <= policy.max_total_delay).then_some(d)
            };
            match delay {
                Some(d) => {
                    for (id, r) in received {
                        if !throttled.contains(&id) {
                            done.insert(id, r);
                        }
                    }
                    pending.retain(|req| throttled.contains(&req.id));
                    self.count_retried(faulted);
                    tracing::info!(
                        round,
                        items = pending.len(),
                        faulted,
                        delay_ms = d.as_millis() as u64,
                        "retrying throttled or faulted $batch items"
                    );
                    self.gates().block_for(ThrottleScope::Directory, d);
                    waited += d;
                    tokio::time::sleep(d).await;
                }
                None => {
                    done.extend(received);
                    break;
                }
            }
        }
        order
            .into_iter()
            .map(|id| {
                done.remove(&id).ok_or_else(|| GraphError::Decode {
                    message: format!("$batch response has no item with id {id:?}"),
                    request_id: None,
                })
            })
            .collect()
    }

    async fn send_batch(
        &self,
        requests: &[BatchRequest],
    ) -> Result<Vec<BatchResponse>, GraphError> {
        let body = serde_json::to_vec(&Envelope { requests })
            .map_err(|e| GraphError::InvalidRequest(format!("serializing $batch: {e}")))?;
        // The envelope is only as repeatable as its least repeatable item.
        let idempotency = if requests
            .iter()
            .all(|r| !r.method.eq_ignore_ascii_case("POST"))
        {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        };
        let invites = requests
            .iter()
            .filter(|r| {
                let path = r.url.trim_start_matches('/');
                path == "invitations"
                    || path.starts_with("invitations?")
                    || path.starts_with("invitations/")
            })
            .count();
        self.pace(invites).await;
        // The envelope costs nothing; each item is charged as if sent alone.
        let mut cost = crate::client::Cost::default();
        for r in requests.iter().filter(|r| {
            let path = r.url.trim_start_matches('/');
            !(path == "invitations"
                || path.starts_with("invitations?")
                || path.starts_with("invitations/"))
        }) {
            let (path, query) = r
                .url
                .split_once('?')
                .map_or((r.url.as_str(), None), |(p, q)| (p, Some(q)));
            cost.units += crate::pacing::resource_units(&r.method, path, query);
            cost.writes += u64::from(!r.method.eq_ignore_ascii_case("GET"));
        }
        let resp = self
            .execute(Call {
                method: Method::POST,
                body: Some(body),
                idempotency,
                accept: &[424],
                cost: Some(cost),
                ..Call::get(self.url(&["$batch"]))
            })
            .await?;
        let env: ResponseEnvelope = resp.json()?;
        if resp.status == 424 && env.responses.is_empty() {
            let parsed = parse_error_body(424, &resp.body);
            return Err(GraphError::Api {
                status: 424,
                code: parsed.code,
                message: parsed.message,
                request_id: resp.request_id.or(parsed.request_id),
                client_request_id: String::new(),
                retry_after: None,
                method: "POST".into(),
                path: self.url(&["$batch"]).path().to_string(),
            });
        }
        Ok(env.responses)
    }

    /// Reads many collections (`GET` URLs relative to the version root, e.g.
    /// `/users?$filter=…`) through `$batch`, 20 per call, each item's pages all read
    /// (a `@odata.nextLink` is followed outside the batch). `eventual` items carry
    /// `ConsistencyLevel: eventual`, as advanced queries need. One result per URL, in
    /// order; a failed item is that item's `Err`.
    pub async fn get_collections<T: serde::de::DeserializeOwned + Send>(
        &self,
        urls: &[(String, bool)],
    ) -> Result<Vec<Result<Vec<T>, GraphError>>, GraphError> {
        let mut out = Vec::with_capacity(urls.len());
        for chunk in urls.chunks(MAX_BATCH) {
            let requests = chunk
                .iter()
                .enumerate()
                .map(|(i, (url, eventual))| {
                    let request = BatchRequest::get(i.to_string(), url.clone());
                    if *eventual {
                        request.header("ConsistencyLevel", "eventual")
                    } else {
                        request
                    }
                })
                .collect();
            let responses = self.batch(requests).await?;
            let now = self.options().clock.now();
            for ((url, eventual), response) in chunk.iter().zip(responses) {
                out.push(
                    self.collection_from_batch(url, *eventual, response, now)
                        .await,
                );
            }
        }
        Ok(out)
    }

    async fn collection_from_batch<T: serde::de::DeserializeOwned + Send>(
        &self,
        url: &str,
        eventual: bool,
        response: BatchResponse,
        now: jiff::Timestamp,
    ) -> Result<Vec<T>, GraphError> {
        let request_id = response.header("request-id").map(str::to_string);
        if !response.is_success() {
            let path = url.split('?').next().unwrap_or(url).to_owned();
            return batch_item_error(&response, request_id, path, now);
        }
        let page: crate::client::Page<T> = serde_json::from_value(
            response.body.unwrap_or(serde_json::Value::Null),
        )
        .map_err(|e| GraphError::Decode {
            message: e.to_string(),
            request_id: request_id.clone(),
        })?;
        let mut items = page.value;
        if let Some(link) = page.next_link {
            let next = self.check_next_link(&link, request_id.as_deref())?;
            items.extend(self.get_all::<T>(next, eventual).await?);
        }
        Ok(items)
    }

    /// Read many users by id via `$batch`, 20 per call. Results keep the
    /// input order; a missing user is `Ok(None)`, another failure for one
    /// user is that user's `Err`.
    pub async fn get_users_by_ids(
        &self,
        ids: &[String],
        select: &[&str],
    ) -> Result<Vec<(String, Result<Option<User>, GraphError>)>, GraphError> {
        let query = if select.is_empty() {
            String::new()
        } else {
            format!(
                "?$select={}",
                utf8_percent_encode(&select.join(","), COMPONENT)
            )
        };
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_BATCH) {
            let paths: Vec<String> = chunk
                .iter()
                .map(|id| format!("/users/{}", utf8_percent_encode(id, COMPONENT)))
                .collect();
            let requests = paths
                .iter()
                .enumerate()
                .map(|(i, p)| BatchRequest::get(i.to_string(), format!("{p}{query}")))
                .collect();
            let responses = self.batch(requests).await?;
            let now = self.options().clock.now();
            for ((id, path), resp) in chunk.iter().zip(paths).zip(responses) {
                out.push((id.clone(), object_from_batch(resp, path, now)));
            }
        }
        Ok(out)
    }
}

fn with_content_type(mut r: BatchRequest) -> BatchRequest {
    if r.body.is_some()
        && !r
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"))
    {
        r.headers
            .insert("Content-Type".to_string(), "application/json".to_string());
    }
    r
}

/// One `$batch` item read as a single object: `Ok(None)` for a 404, the item's own
/// error otherwise (`path` is its URL without query).
pub(crate) fn object_from_batch<T: serde::de::DeserializeOwned>(
    r: BatchResponse,
    path: String,
    now: jiff::Timestamp,
) -> Result<Option<T>, GraphError> {
    let request_id = r.header("request-id").map(str::to_string);
    if r.is_success() {
        let body = r.body.unwrap_or(serde_json::Value::Null);
        return serde_json::from_value(body)
            .map(Some)
            .map_err(|e| GraphError::Decode {
                message: e.to_string(),
                request_id,
            });
    }
    if r.status == 404 {
        return Ok(None);
    }
    batch_item_error(&r, request_id, path, now)
}

/// Map a failed batch item to [`GraphError::Api`] (`path` is the item's URL
/// without query, relative to the version root).
fn batch_item_error<T>(
    r: &BatchResponse,
    request_id: Option<String>,
    path: String,
    now: jiff::Timestamp,
) -> Result<T, GraphError> {
    let raw = r
        .body
        .as_ref()
        .and_then(|b| serde_json::to_vec(b).ok())
        .unwrap_or_default();
    let parsed = parse_error_body(r.status, &raw);
    Err(GraphError::Api {
        status: r.status,
        code: parsed.code,
        message: parsed.message,
        request_id: request_id.or(parsed.request_id),
        client_request_id: r
            .header("client-request-id")
            .unwrap_or_default()
            .to_string(),
        retry_after: r
            .header("retry-after")
            .and_then(|v| parse_retry_after(v, now)),
        method: "GET".into(),
        path,
    })
}
