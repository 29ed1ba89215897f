//! A webhook receiver on a free loopback port: records every POST (its JSON body, when it
//! arrived, the status it was answered with) and answers from a script, e.g. "the first two
//! requests get 500, then 200". Stopped on drop.

use super::http_stub::{HttpStub, Response};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One POST as received.
#[derive(Debug, Clone)]
pub struct Post {
    /// 0-based arrival order.
    pub index: usize,
    /// The body as JSON (`Value::Null` plus `raw` when it is not JSON).
    pub body: Value,
    pub raw: String,
    pub at: Instant,
    /// The status it was answered with.
    pub status: u16,
    pub content_type: Option<String>,
}

impl Post {
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

pub struct WebhookReceiver {
    posts: Arc<Mutex<Vec<Post>>>,
    server: HttpStub,
}

impl WebhookReceiver {
    /// Answers every POST with 200.
    pub fn start() -> WebhookReceiver {
        WebhookReceiver::scripted(|_| 200)
    }

    /// Answers the first `n` POSTs with 500, the rest with 200.
    pub fn failing_first(n: usize) -> WebhookReceiver {
        WebhookReceiver::scripted(move |i| if i < n { 500 } else { 200 })
    }

    /// Answers POST number `i` (0-based) with `script(i)`.
    pub fn scripted(script: impl Fn(usize) -> u16 + Send + Sync + 'static) -> WebhookReceiver {
        let posts: Arc<Mutex<Vec<Post>>> = Arc::default();
        let server = {
            let posts = posts.clone();
            HttpStub::start(move |req| {
                if req.method != "POST" {
                    return Response::new(405, "text/plain", "POST only\n");
                }
                let mut posts = posts.lock().unwrap();
                let index = posts.len();
                let status = script(index);
                let raw = String::from_utf8_lossy(&req.body).into_owned();
                posts.push(Post {
                    index,
                    body: serde_json::from_str(&raw).unwrap_or(Value::Null),
                    raw,
                    at: Instant::now(),
                    status,
                    content_type: req.header("content-type").map(str::to_string),
                });
                Response::new(status, "text/plain", format!("{status}\n"))
            })
        };
        WebhookReceiver { posts, server }
    }

    /// The URL to give `--webhook`.
    pub fn url(&self) -> String {
        format!("{}/hook", self.server.url())
    }

    /// Every POST so far, in arrival order.
    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// Bodies of the POSTs answered with 2xx, in arrival order.
    pub fn delivered(&self) -> Vec<Value> {
        self.posts()
            .into_iter()
            .filter(Post::accepted)
            .map(|p| p.body)
            .collect()
    }

    /// Polls every 50 ms until `accept` takes the POSTs so far or `within` passes; returns
    /// them and whether they were accepted.
    pub fn wait_for(
        &self,
        within: Duration,
        mut accept: impl FnMut(&[Post]) -> bool,
    ) -> (Vec<Post>, bool) {
        let mut posts = Vec::new();
        let accepted = super::poll_until(within, Duration::from_millis(50), || {
            posts = self.posts();
            accept(&posts)
        });
        (posts, accepted)
    }
}
