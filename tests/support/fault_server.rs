//! A deliberately misbehaving HTTP/1.1 server for backend fault tests.
//!
//! It binds `127.0.0.1:0` and serves from one background thread (plus one thread per
//! connection), records every request it receives (method, path, decoded query string,
//! headers, body, decoded form fields), and answers according to a per-test [`Script`]:
//! a fixed reply, a global sequence, a per-query sequence, a delay, a hang (accept and
//! read the request but never answer), or an abrupt close.
//!
//! It understands keep-alive (several requests on one connection, framed with
//! `Content-Length` or `Transfer-Encoding: chunked`) and `Expect: 100-continue`.
//! Dropping the [`FaultServer`] stops it: the accept loop ends, hanging handlers give up,
//! and every thread is joined.
//!
//! Only std is used, so the module can be included from any test with
//! `#[path = "support/fault_server.rs"] mod fault_server;`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often blocked loops look at the shutdown flag.
const POLL: Duration = Duration::from_millis(10);
/// Upper bound on a request head or body, to keep a confused client from eating memory.
const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Request {
    /// Index of the connection it came on (0 = first connection accepted).
    pub connection: usize,
    pub method: String,
    /// Path without the query string, e.g. `/api/v1/query`.
    pub path: String,
    /// The raw request target, e.g. `/api/v1/query?query=up&time=1`.
    pub target: String,
    pub version: String,
    /// Decoded query-string pairs, in order.
    pub query: Vec<(String, String)>,
    /// Header pairs as sent (names keep their case).
    pub headers: Vec<(String, String)>,
    /// Body after de-chunking.
    pub body: Vec<u8>,
    /// Decoded `application/x-www-form-urlencoded` body pairs (empty for other bodies).
    pub form: Vec<(String, String)>,
}

impl Request {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header with this name (case-insensitive).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// All parameters: query string first, then form body (as Prometheus merges them).
    pub fn params(&self) -> Vec<(String, String)> {
        self.query.iter().chain(self.form.iter()).cloned().collect()
    }

    /// First value of a parameter from the query string or the form body.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query
            .iter()
            .chain(self.form.iter())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What to do with one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answer with a status, extra headers and a body (Content-Length is added).
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        /// Close the connection after this response.
        close: bool,
    },
    /// Read the request, then never answer (until the server is dropped).
    Hang,
    /// Close the connection without answering.
    Close,
    /// Wait, then do the inner reply.
    Delay(Duration, Box<Reply>),
}

impl Reply {
    /// A response with `Content-Type: application/json`.
    pub fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply::with_type(status, "application/json", body)
    }

    /// A response with `Content-Type: text/html`.
    pub fn html(status: u16, body: impl Into<String>) -> Reply {
        Reply::with_type(status, "text/html; charset=utf-8", body)
    }

    /// A response with `Content-Type: text/plain`.
    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply::with_type(status, "text/plain; charset=utf-8", body)
    }

    pub fn with_type(status: u16, content_type: &str, body: impl Into<String>) -> Reply {
        Reply::Respond {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into().into_bytes(),
            close: false,
        }
    }

    /// Add a response header (no-op for non-responses).
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Respond { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }

    /// Close the connection after answering (no-op for non-responses).
    pub fn then_close(mut self) -> Reply {
        if let Reply::Respond { close, .. } = &mut self {
            *close = true;
        }
        self
    }

    pub fn delayed(self, by: Duration) -> Reply {
        Reply::Delay(by, Box::new(self))
    }
}

/// Where a request falls in the server's history, for scripts.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    /// 0-based index of this request among all requests.
    pub overall: usize,
    /// 0-based index among requests with the same `query` parameter (absent = "").
    pub same_query: usize,
}

type ScriptFn = dyn Fn(&Request, Seen) -> Reply + Send + Sync;

/// How the server answers.
pub struct Script(Box<ScriptFn>);

impl Script {
    /// The same reply to every request.
    pub fn always(reply: Reply) -> Script {
        Script(Box::new(move |_, _| reply.clone()))
    }

    /// Accept, read, never answer.
    pub fn hang() -> Script {
        Script::always(Reply::Hang)
    }

    /// The n-th request overall gets `replies[n]`; the last reply repeats.
    pub fn sequence(replies: Vec<Reply>) -> Script {
        assert!(!replies.is_empty(), "empty sequence");
        Script(Box::new(move |_, seen| {
            replies[seen.overall.min(replies.len() - 1)].clone()
        }))
    }

    /// The n-th request for a given `query` parameter gets `replies[n]`; the last repeats.
    /// ("first 500 then 200" for every query independently.)
    pub fn per_query(replies: Vec<Reply>) -> Script {
        assert!(!replies.is_empty(), "empty sequence");
        Script(Box::new(move |_, seen| {
            replies[seen.same_query.min(replies.len() - 1)].clone()
        }))
    }

    /// Anything else.
    pub fn from_fn(f: impl Fn(&Request, Seen) -> Reply + Send + Sync + 'static) -> Script {
        Script(Box::new(f))
    }
}

struct Shared {
    script: Script,
    stop: AtomicBool,
    requests: Mutex<Vec<Request>>,
    arrived: Condvar,
    per_query: Mutex<HashMap<String, usize>>,
    connections: AtomicUsize,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// The server. Drop it to stop it.
pub struct FaultServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// Every `burnrate_key` tag a daemon query asks for, e.g. `["bad/5m", "total/5m", ...]`.
pub fn requested_keys(query: &str) -> Vec<String> {
    const TAG: &str = "\"burnrate_key\", \"";
    let mut keys = Vec::new();
    let mut rest = query;
    while let Some(i) = rest.find(TAG) {
        rest = &rest[i + TAG.len()..];
        let end = rest.find('"').expect("closing quote of a burnrate_key tag");
        keys.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    keys
}

impl FaultServer {
    pub fn start(script: Script) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            script,
            stop: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            per_query: Mutex::new(HashMap::new()),
            connections: AtomicUsize::new(0),
            workers: Mutex::new(Vec::new()),
        });
        let s = Arc::clone(&shared);
        let acceptor = thread::Builder::new()
            .name(format!("fault-server-{}", addr.port()))
            .spawn(move || accept_loop(listener, s))
            .expect("spawn acceptor");
        FaultServer {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.requests.lock().unwrap().len()
    }

    /// How many TCP connections were accepted.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Number of requests per distinct `query` parameter (absent = "").
    pub fn counts_by_query(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for r in self.requests() {
            *m.entry(r.param("query").unwrap_or_default()).or_insert(0) += 1;
        }
        m
    }

    /// Wait until at least `n` requests arrived or `timeout` passed; returns the count.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut reqs = self.shared.requests.lock().unwrap();
        while reqs.len() < n {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            reqs = self
                .shared
                .arrived
                .wait_timeout(reqs, deadline - now)
                .unwrap()
                .0;
        }
        reqs.len()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        let workers: Vec<_> = std::mem::take(&mut *self.shared.workers.lock().unwrap());
        for w in workers {
            let _ = w.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let conn = shared.connections.fetch_add(1, Ordering::SeqCst);
                let s = Arc::clone(&shared);
                let h = thread::spawn(move || {
                    let _ = serve_connection(stream, conn, &s);
                });
                shared.workers.lock().unwrap().push(h);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(POLL),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => thread::sleep(POLL),
        }
    }
    // The listener is dropped here: new connections are refused from now on.
}

/// Reads more bytes into `buf`. Ok(false) on EOF or shutdown.
fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, shared: &Shared) -> io::Result<bool> {
    let mut tmp = [0u8; 8192];
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(false);
        }
        match stream.read(&mut tmp) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&tmp[..n]);
                if buf.len() > MAX_REQUEST_BYTES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "request too large",
                    ));
                }
                return Ok(true);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Make sure `buf` holds at least `n` bytes. Ok(false) if the peer went away first.
fn fill_to(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    n: usize,
    shared: &Shared,
) -> io::Result<bool> {
    while buf.len() < n {
        if !fill(stream, buf, shared)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Reads one CRLF-terminated line starting at `pos`; returns (line, next_pos).
fn read_line(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    pos: usize,
    shared: &Shared,
) -> io::Result<Option<(String, usize)>> {
    loop {
        if let Some(i) = find(&buf[pos..], b"\r\n") {
            let line = String::from_utf8_lossy(&buf[pos..pos + i]).into_owned();
            return Ok(Some((line, pos + i + 2)));
        }
        if !fill(stream, buf, shared)? {
            return Ok(None);
        }
    }
}

fn serve_connection(mut stream: TcpStream, conn: usize, shared: &Shared) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(POLL * 5))?;
    stream.set_nodelay(true)?;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // --- head ---
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if !fill(&mut stream, &mut buf, shared)? {
                return Ok(());
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end - 4]).into_owned();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let version = parts.next().unwrap_or("HTTP/1.0").to_string();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .collect();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };

        if get("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }

        // --- body ---
        let chunked =
            get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let (body, consumed) = if chunked {
            let mut body = Vec::new();
            let mut pos = head_end;
            loop {
                let Some((size_line, next)) = read_line(&mut stream, &mut buf, pos, shared)? else {
                    return Ok(());
                };
                let size_hex = size_line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size_hex, 16)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
                pos = next;
                if size == 0 {
                    // trailers until an empty line
                    loop {
                        let Some((t, next)) = read_line(&mut stream, &mut buf, pos, shared)? else {
                            return Ok(());
                        };
                        pos = next;
                        if t.is_empty() {
                            break;
                        }
                    }
                    break;
                }
                if !fill_to(&mut stream, &mut buf, pos + size + 2, shared)? {
                    return Ok(());
                }
                body.extend_from_slice(&buf[pos..pos + size]);
                pos += size + 2;
            }
            (body, pos)
        } else {
            let len: usize = get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if !fill_to(&mut stream, &mut buf, head_end + len, shared)? {
                return Ok(());
            }
            (buf[head_end..head_end + len].to_vec(), head_end + len)
        };
        buf.drain(..consumed);

        let (path, raw_query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (target.clone(), String::new()),
        };
        let is_form = get("content-type").is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
        let form = if is_form {
            parse_urlencoded(&String::from_utf8_lossy(&body))
        } else {
            Vec::new()
        };
        let request = Request {
            connection: conn,
            method,
            path,
            target: target.clone(),
            version: version.clone(),
            query: parse_urlencoded(&raw_query),
            headers: headers.clone(),
            body,
            form,
        };

        // --- record, then ask the script ---
        let seen = {
            let mut reqs = shared.requests.lock().unwrap();
            let overall = reqs.len();
            let key = request.param("query").unwrap_or_default();
            let mut pq = shared.per_query.lock().unwrap();
            let n = pq.entry(key).or_insert(0);
            let same_query = *n;
            *n += 1;
            reqs.push(request.clone());
            shared.arrived.notify_all();
            Seen {
                overall,
                same_query,
            }
        };
        let reply = (shared.script.0)(&request, seen);

        let client_wants_close = match get("connection") {
            Some(v) => v.to_ascii_lowercase().contains("close"),
            None => version == "HTTP/1.0",
        } && !(version == "HTTP/1.0"
            && get("connection").is_some_and(|v| v.eq_ignore_ascii_case("keep-alive")));

        if !answer(&mut stream, reply, client_wants_close, shared)? {
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
}

/// Carries out a reply. Ok(true) to keep the connection for another request.
fn answer(
    stream: &mut TcpStream,
    reply: Reply,
    client_close: bool,
    shared: &Shared,
) -> io::Result<bool> {
    match reply {
        Reply::Hang => {
            while !shared.stop.load(Ordering::SeqCst) {
                thread::sleep(POLL);
            }
            Ok(false)
        }
        Reply::Close => Ok(false),
        Reply::Delay(d, inner) => {
            let until = Instant::now() + d;
            while Instant::now() < until {
                if shared.stop.load(Ordering::SeqCst) {
                    return Ok(false);
                }
                thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
            }
            answer(stream, *inner, client_close, shared)
        }
        Reply::Respond {
            status,
            headers,
            body,
            close,
        } => {
            let close = close || client_close;
            let mut out = format!("HTTP/1.1 {} {}\r\n", status, reason(status));
            for (k, v) in &headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str(&format!("Content-Length: {}\r\n", body.len()));
            out.push_str(if close {
                "Connection: close\r\n"
            } else {
                "Connection: keep-alive\r\n"
            });
            out.push_str("\r\n");
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(&body);
            stream.write_all(&bytes)?;
            stream.flush()?;
            Ok(!close)
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Decodes `a=1&b=x+y%20z` into pairs (`+` is a space, `%XX` a byte, UTF-8 lossy).
pub fn parse_urlencoded(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(server: &FaultServer, bytes: &[u8]) -> TcpStream {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(bytes).unwrap();
        s
    }

    /// Reads one response (head + Content-Length body) from a stream.
    fn read_response(s: &mut TcpStream, pending: &mut Vec<u8>) -> (u16, String, String) {
        let mut tmp = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = find(pending, b"\r\n\r\n") {
                break i + 4;
            }
            let n = s.read(&mut tmp).unwrap();
            assert!(n > 0, "eof before response head");
            pending.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&pending[..head_end]).into_owned();
        let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .unwrap();
        while pending.len() < head_end + len {
            let n = s.read(&mut tmp).unwrap();
            assert!(n > 0, "eof before response body");
            pending.extend_from_slice(&tmp[..n]);
        }
        let body = String::from_utf8_lossy(&pending[head_end..head_end + len]).into_owned();
        pending.drain(..head_end + len);
        (status, head, body)
    }

    #[test]
    fn decodes_urlencoded() {
        assert_eq!(
            parse_urlencoded("query=sum%28rate%28x%5B5m%5D%29%29+%2F+2&time=1.5&empty=&flag"),
            vec![
                ("query".to_string(), "sum(rate(x[5m])) / 2".to_string()),
                ("time".to_string(), "1.5".to_string()),
                ("empty".to_string(), String::new()),
                ("flag".to_string(), String::new()),
            ]
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%E2%9C%93"), "\u{2713}");
    }

    #[test]
    fn get_with_query_string_via_ureq() {
        let server = FaultServer::start(Script::always(Reply::json(200, r#"{"ok":1}"#)));
        let resp = ureq::get(&format!("{}/api/v1/query", server.url()))
            .query("query", "rate(x{a=\"b\"}[5m])")
            .query("time", "1700000000")
            .set("X-Scope-OrgID", "tenant-a")
            .call()
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.into_string().unwrap(), r#"{"ok":1}"#);
        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].method, "GET");
        assert_eq!(reqs[0].path, "/api/v1/query");
        assert_eq!(reqs[0].param("query").unwrap(), "rate(x{a=\"b\"}[5m])");
        assert_eq!(reqs[0].param("time").unwrap(), "1700000000");
        assert_eq!(reqs[0].header("x-scope-orgid"), Some("tenant-a"));
    }

    #[test]
    fn post_form_body_via_ureq() {
        let server = FaultServer::start(Script::always(Reply::json(200, "{}")));
        let resp = ureq::post(&format!("{}/api/v1/query", server.url()))
            .send_form(&[("query", "a + b & c"), ("time", "2026-11-17T10:00:00Z")])
            .unwrap();
        assert_eq!(resp.status(), 200);
        let r = &server.requests()[0];
        assert_eq!(r.method, "POST");
        assert_eq!(r.param("query").unwrap(), "a + b & c");
        assert_eq!(r.param("time").unwrap(), "2026-11-17T10:00:00Z");
        assert!(r.query.is_empty());
    }

    #[test]
    fn keep_alive_several_requests_on_one_connection() {
        let server = FaultServer::start(Script::sequence(vec![
            Reply::json(500, "first"),
            Reply::json(200, "second"),
            Reply::json(200, "third"),
        ]));
        // Two requests pipelined in one write, the second with a body; then a chunked one.
        let mut s = raw(
            &server,
            b"GET /a?x=1 HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n\
              POST /b HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 18\r\n\r\nquery=up&time=1.25",
        );
        let mut pending = Vec::new();
        let (st1, h1, b1) = read_response(&mut s, &mut pending);
        assert_eq!((st1, b1.as_str()), (500, "first"));
        assert!(h1.contains("Connection: keep-alive"));
        let (st2, _, b2) = read_response(&mut s, &mut pending);
        assert_eq!((st2, b2.as_str()), (200, "second"));
        s.write_all(
            b"POST /c HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
              6\r\nquery=\r\n4;ext=1\r\nup+1\r\n0\r\n\r\n",
        )
        .unwrap();
        let (st3, h3, b3) = read_response(&mut s, &mut pending);
        assert_eq!((st3, b3.as_str()), (200, "third"));
        assert!(h3.contains("Connection: close"));
        // server closes after Connection: close
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());

        let reqs = server.requests();
        assert_eq!(reqs.len(), 3);
        assert_eq!(server.connection_count(), 1);
        assert!(reqs.iter().all(|r| r.connection == 0));
        assert_eq!(reqs[0].param("x").unwrap(), "1");
        assert_eq!(reqs[1].param("query").unwrap(), "up");
        assert_eq!(reqs[1].param("time").unwrap(), "1.25");
        assert_eq!(reqs[2].param("query").unwrap(), "up 1");
    }

    #[test]
    fn per_query_sequence_counts_each_query_separately() {
        let server = FaultServer::start(Script::per_query(vec![
            Reply::json(500, "no"),
            Reply::json(200, "yes"),
        ]));
        let agent = ureq::AgentBuilder::new().build();
        let get = |q: &str| match agent
            .get(&format!("{}/api/v1/query", server.url()))
            .query("query", q)
            .call()
        {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(get("a"), 500);
        assert_eq!(get("b"), 500);
        assert_eq!(get("a"), 200);
        assert_eq!(get("a"), 200);
        assert_eq!(get("b"), 200);
        let counts = server.counts_by_query();
        assert_eq!(counts["a"], 3);
        assert_eq!(counts["b"], 2);
    }

    #[test]
    fn hang_never_answers_and_drop_is_prompt() {
        let server = FaultServer::start(Script::hang());
        let mut s = raw(
            &server,
            b"GET /api/v1/query?query=up HTTP/1.1\r\nHost: t\r\n\r\n",
        );
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut tmp = [0u8; 16];
        let err = s.read(&mut tmp).unwrap_err();
        assert!(matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ));
        assert_eq!(server.wait_for_requests(1, Duration::from_secs(2)), 1);
        let addr = server.addr();
        let t = Instant::now();
        drop(server);
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "drop took {:?}",
            t.elapsed()
        );
        // the hung connection was closed and the port no longer accepts
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        assert!(matches!(s.read(&mut tmp), Ok(0) | Err(_)));
        assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn close_and_delay() {
        let server = FaultServer::start(Script::sequence(vec![
            Reply::Close,
            Reply::text(200, "late").delayed(Duration::from_millis(200)),
        ]));
        let mut s = raw(&server, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(rest.is_empty());
        let t = Instant::now();
        let resp = ureq::get(&server.url()).call().unwrap();
        assert!(t.elapsed() >= Duration::from_millis(200));
        assert_eq!(resp.into_string().unwrap(), "late");
    }
}
