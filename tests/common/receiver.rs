//! A webhook receiver for alert tests: tiny_http on 127.0.0.1:0 that records every
//! request and answers as the test scripts it (or never answers at all).

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver as Channel, unbounded};

/// A request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// Path and query, e.g. `/ding?timestamp=…&sign=…`.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` in the query string, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.url.split_once('?')?.1;
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// How the receiver answers its n-th request (from 0).
#[derive(Debug, Clone)]
pub enum Answer {
    Reply(u16, String),
    /// Read the request, never answer (the connection stays open until the end).
    Hang,
}

/// A running receiver; stopped on drop.
pub struct Receiver {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    requests: Channel<Received>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// A receiver that answers request n with `answer(n, &request)`.
    pub fn start(answer: impl Fn(usize, &Received) -> Answer + Send + 'static) -> Receiver {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("receiver binds"));
        let port = server.server_addr().to_ip().expect("TCP").port();
        let (sender, requests) = unbounded();
        let serving = Arc::clone(&server);
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for (n, mut request) in serving.incoming_requests().enumerate() {
                let mut body = Vec::new();
                let _ = request.as_reader().read_to_end(&mut body);
                let received = Received {
                    url: request.url().to_string(),
                    headers: request
                        .headers()
                        .iter()
                        .map(|h| (h.field.to_string(), h.value.to_string()))
                        .collect(),
                    body,
                };
                let answer = answer(n, &received);
                let _ = sender.send(received);
                match answer {
                    Answer::Reply(status, text) => {
                        let _ = request.respond(
                            tiny_http::Response::from_string(text).with_status_code(status),
                        );
                    }
                    Answer::Hang => held.push(request),
                }
            }
        });
        Receiver {
            base: format!("http://127.0.0.1:{port}"),
            requests,
            server,
            thread: Some(thread),
        }
    }

    /// A receiver that answers every request `status` with `text`.
    pub fn replying(status: u16, text: &str) -> Receiver {
        let text = text.to_string();
        Receiver::start(move |_, _| Answer::Reply(status, text.clone()))
    }

    /// The next request, waiting up to 60 s (generous: the machine may be loaded).
    pub fn next(&self) -> Received {
        self.requests
            .recv_timeout(Duration::from_secs(60))
            .expect("the receiver got a request within 60 s")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
