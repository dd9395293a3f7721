//! Prometheus as a [`MetricSource`]: an instant query through its HTTP API
//! (`GET /api/v1/query`), answered with one number.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::analysis::MetricSource;
use crate::http::get;

/// A Prometheus server, asked instant queries.
///
/// A query must come down to one number: a scalar, or a vector of exactly
/// one series. No series is "no data" (`Ok(None)`), which a
/// [`MetricGate`](crate::MetricGate) turns into the verdict its user chose;
/// several series are an error asking for an aggregation. `NaN` (a ratio of
/// no requests) and `±Inf` come back as those floats.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use dafnck_strategies::{MetricGate, Prometheus, Threshold};
/// let prom = Prometheus::new("http://127.0.0.1:9090").timeout(Duration::from_secs(3));
/// let gate = MetricGate::new(
///     "error rate",
///     prom,
///     r#"sum(rate(demo_requests_total{version="v2",code=~"5.."}[1m])) / sum(rate(demo_requests_total{version="v2"}[1m]))"#,
///     Threshold::AtMost(0.01),
/// );
/// # drop(gate);
/// ```
#[derive(Clone, Debug)]
pub struct Prometheus {
    url: String,
    timeout: Duration,
}

impl Prometheus {
    /// The Prometheus at `url` (`http://host:port`, with any path prefix
    /// it is served under), with queries timing out after 10 s.
    pub fn new(url: impl Into<String>) -> Self {
        Prometheus {
            url: url.into().trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(10),
        }
    }

    /// How long one query may take, connecting included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The query URL for `query`.
    fn query_url(&self, query: &str) -> String {
        format!("{}/api/v1/query?query={}", self.url, percent_encode(query))
    }
}

#[async_trait]
impl MetricSource for Prometheus {
    async fn query(&self, query: &str) -> Result<Option<f64>, String> {
        let url = self.query_url(query);
        let answer = get(&url, self.timeout)
            .await
            .map_err(|e| format!("Prometheus at {}: {e}", self.url))?;
        parse_answer(answer.status, &answer.body)
            .map_err(|e| format!("Prometheus at {}, query `{query}`: {e}", self.url))
    }
}

/// One number from the body of `/api/v1/query`.
fn parse_answer(status: u16, body: &[u8]) -> Result<Option<f64>, String> {
    let json: Value = match serde_json::from_slice(body) {
        Ok(json) => json,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().take(200).collect();
            return Err(format!("answered {status} with no JSON: {text:?}"));
        }
    };
    if json["status"] != "success" {
        let kind = json["errorType"].as_str().unwrap_or("error");
        let message = json["error"].as_str().unwrap_or("(no message)");
        return Err(format!("answered {status}: {kind}: {message}"));
    }
    if !(200..300).contains(&status) {
        return Err(format!("answered {status}"));
    }
    let data = &json["data"];
    let result = &data["result"];
    match data["resultType"].as_str() {
        Some("scalar") => sample_value(result).map(Some),
        Some("vector") => {
            let series = result
                .as_array()
                .ok_or("the vector result is not a list")?;
            match series.as_slice() {
                [] => Ok(None),
                [one] => sample_value(&one["value"]).map(Some),
                many => {
                    let shown: Vec<String> =
                        many.iter().take(3).map(|s| s["metric"].to_string()).collect();
                    Err(format!(
                        "returned {} series ({}{}); a gate needs one number: aggregate them, e.g. sum(...) or max(...)",
                        many.len(),
                        shown.join(", "),
                        if many.len() > 3 { ", ..." } else { "" }
                    ))
                }
            }
        }
        Some("matrix") => Err(
            "returned a range vector; a gate needs an instant value, e.g. rate(x[1m]) rather than x[1m]"
                .into(),
        ),
        Some(other) => Err(format!("returned a {other}, not a number")),
        None => Err("answered without a result type".into()),
    }
}

/// The number of a sample `[timestamp, "value"]`.
fn sample_value(sample: &Value) -> Result<f64, String> {
    let text = sample
        .get(1)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("a sample is not [time, \"value\"]: {sample}"))?;
    parse_float(text)
}

/// Prometheus' float text: decimals, `NaN`, `+Inf`, `-Inf`.
fn parse_float(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => text
            .parse()
            .map_err(|_| format!("the value {text:?} is not a number")),
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_encoded() {
        let p = Prometheus::new("http://127.0.0.1:9090/");
        assert_eq!(
            p.query_url("sum(x{a=\"b c\"})"),
            "http://127.0.0.1:9090/api/v1/query?query=sum%28x%7Ba%3D%22b%20c%22%7D%29"
        );
    }

    #[test]
    fn answers_come_down_to_one_number_or_say_why_not() {
        let one = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"0.25"]}]}}"#;
        assert_eq!(parse_answer(200, one), Ok(Some(0.25)));
        let scalar =
            br#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"+Inf"]}}"#;
        assert_eq!(parse_answer(200, scalar), Ok(Some(f64::INFINITY)));
        let nan = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"NaN"]}]}}"#;
        assert!(parse_answer(200, nan).unwrap().unwrap().is_nan());
        let none = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(parse_answer(200, none), Ok(None));
        let bad = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#;
        let err = parse_answer(400, bad).unwrap_err();
        assert!(
            err.contains("400") && err.contains("parse error at char 5"),
            "{err}"
        );
        let err = parse_answer(502, b"<html>Bad Gateway</html>").unwrap_err();
        assert!(err.contains("502") && err.contains("Bad Gateway"), "{err}");
        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(parse_answer(200, matrix)
            .unwrap_err()
            .contains("range vector"));
    }
}
