//! Where the daemon's decisions go: Alertmanager (API v2) and webhooks. Each sink owns its
//! configuration and its delivery guarantees.

pub(crate) mod alertmanager;
pub(crate) mod webhook;

/// A sink HTTP client: always with timeouts (reqwest has none by default).
pub(crate) fn http_client(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
        .timeout(timeout)
        .user_agent(concat!("burnrate/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("static HTTP client configuration")
}

/// A transport error with its causes (`error sending request: ...: Connection refused`), for
/// logs and the web page; `e` is already without its URL, which may carry credentials.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A loopback HTTP receiver for the sinks' tests: answers each request with the next status
/// of a script (the last one repeated) and counts the requests.
#[cfg(test)]
pub(crate) mod test_receiver {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    pub(crate) struct Receiver {
        pub(crate) url: String,
        requests: Arc<AtomicUsize>,
    }

    impl Receiver {
        pub(crate) async fn start(statuses: &'static [u16]) -> Receiver {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let requests = Arc::new(AtomicUsize::new(0));
            let seen = requests.clone();
            tokio::spawn(async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    let n = seen.fetch_add(1, Ordering::SeqCst);
                    let status = statuses[n.min(statuses.len() - 1)];
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    // Headers, then as many body bytes as Content-Length says.
                    while let Ok(read) = socket.read(&mut buf).await {
                        if read == 0 {
                            break;
                        }
                        request.extend_from_slice(&buf[..read]);
                        let text = String::from_utf8_lossy(&request);
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text[..end]
                                .lines()
                                .find_map(|l| {
                                    let (k, v) = l.split_once(':')?;
                                    k.eq_ignore_ascii_case("content-length")
                                        .then(|| v.trim().parse::<usize>().ok())?
                                })
                                .unwrap_or(0);
                            if request.len() >= end + 4 + length {
                                break;
                            }
                        }
                    }
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                }
            });
            Receiver { url, requests }
        }

        pub(crate) fn requests(&self) -> usize {
            self.requests.load(Ordering::SeqCst)
        }
    }
}
