//! What the fake ARM's tests share: a server per test and a plain
//! HTTP/1.1 client that returns status, headers and JSON body.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The subscription the tests use (any id works).
pub const SUB: &str = "00000000-0000-0000-0000-000000000001";

/// One answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }
}

/// A fake ARM for one test.
pub struct Fake {
    pub server: dafnck_arm_fake::Running,
}

impl Fake {
    pub fn start() -> Fake {
        Fake {
            server: dafnck_arm_fake::spawn().expect("the fake ARM starts"),
        }
    }

    /// `/subscriptions/{SUB}/resourceGroups/{rg}`.
    pub fn rg_path(rg: &str) -> String {
        format!("/subscriptions/{SUB}/resourceGroups/{rg}")
    }

    /// Sends `method path` (a path with query, or a full URL of this
    /// server) with a JSON `body`.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let path = path.strip_prefix(&self.server.url()).unwrap_or(path);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut s = TcpStream::connect(self.server.addr()).expect("the server accepts");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.server.addr(),
            body.len()
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("an answer");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, rest) = text.split_once("\r\n\r\n").expect("an answer head");
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .expect("a status line");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let body = if rest.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(rest).unwrap_or(Value::String(rest.to_string()))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub fn put(&self, path: &str, body: &Value) -> Answer {
        self.call("PUT", path, Some(body))
    }

    pub fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None)
    }

    /// Polls the `Azure-AsyncOperation` URL of `started` until the
    /// operation is over; its final status document.
    pub fn wait(&self, started: &Answer) -> Value {
        let url = started
            .header("azure-asyncoperation")
            .expect("an Azure-AsyncOperation header")
            .to_string();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let a = self.get(&url);
            assert_eq!(a.status, 200, "{url}: {:?}", a.body);
            if a.body["status"] != "InProgress" {
                return a.body;
            }
            assert!(Instant::now() < deadline, "{url} still in progress");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// PUT and wait for its operation (if any); the final GET.
    pub fn create(&self, path: &str, body: &Value) -> Value {
        let a = self.put(path, body);
        assert!(
            a.status == 200 || a.status == 201,
            "PUT {path}: {} {}",
            a.status,
            a.body
        );
        if a.header("azure-asyncoperation").is_some() {
            let done = self.wait(&a);
            assert_eq!(done["status"], "Succeeded", "{path}: {done}");
        }
        let got = self.get(path);
        assert_eq!(got.status, 200, "GET {path}: {}", got.body);
        got.body
    }

    /// A resource group in westus.
    pub fn group(&self, rg: &str) -> Value {
        self.create(
            &format!("{}?api-version=2021-04-01", Self::rg_path(rg)),
            &serde_json::json!({"location": "westus"}),
        )
    }

    /// Sets faults through the control endpoint.
    pub fn faults(&self, control: &Value) {
        let a = self.call("POST", "/_fake/faults", Some(control));
        assert_eq!(a.status, 200, "{}", a.body);
    }
}

/// Whether `actual` has every field of `expected` with the same value
/// (recursively; arrays element by element), except the fields named in
/// `skip` (server-made values: GUIDs, etags, times): the first mismatch.
pub fn shape_mismatch(expected: &Value, actual: &Value, skip: &[&str], at: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().find_map(|(k, ev)| {
            if skip.contains(&k.as_str()) {
                return None;
            }
            let here = format!("{at}.{k}");
            match a.get(k) {
                None => Some(format!("{here} is missing (expected {ev})")),
                Some(av) => shape_mismatch(ev, av, skip, &here),
            }
        }),
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Some(format!(
                    "{at} has {} entries, expected {}",
                    a.len(),
                    e.len()
                ));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .find_map(|(i, (ev, av))| shape_mismatch(ev, av, skip, &format!("{at}[{i}]")))
        }
        (e, a) if e == a => None,
        (Value::String(e), Value::String(a)) if e.eq_ignore_ascii_case(a) => None,
        (e, a) => Some(format!("{at} is {a}, expected {e}")),
    }
}
