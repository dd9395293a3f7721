//! The `postgres://` URL: libpq's connection URL, plus dafnck's own
//! `schema` parameter, which is taken out before the rest is handed to
//! tokio-postgres.

use std::str::FromStr;
use std::time::Duration;

use dafnck_core::state::{redact_url, StateError};
use tokio_postgres::config::Host;

use super::BACKEND;

/// The schema the tables live in when the URL names none.
pub const DEFAULT_SCHEMA: &str = "dafnck";

/// How long connecting may take when the URL sets no `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed store URL.
pub(super) struct StoreUrl {
    pub(super) config: tokio_postgres::Config,
    pub(super) schema: String,
    /// `host:port` (or `socket-dir:port`) of each host, for messages.
    pub(super) endpoints: String,
    pub(super) connect_timeout: Duration,
}

impl StoreUrl {
    pub(super) fn parse(url: &str) -> Result<StoreUrl, StateError> {
        let bad = |message: String| StateError::Backend {
            backend: BACKEND.into(),
            message: format!("the URL {:?}: {message}", redact_url(url)),
        };
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url, None),
        };
        let mut schema = DEFAULT_SCHEMA.to_owned();
        let mut kept = Vec::new();
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            match pair.split_once('=') {
                Some(("schema", value)) => schema = value.to_owned(),
                _ if pair.is_empty() => {}
                _ => kept.push(pair),
            }
        }
        check_schema(&schema).map_err(bad)?;
        let libpq = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config = tokio_postgres::Config::from_str(&libpq)
            .map_err(|e| bad(format!("not a PostgreSQL connection URL: {e}")))?;
        if config.get_hosts().is_empty() {
            return Err(bad(
                "it names no host (postgres://USER@HOST:PORT/DATABASE)".into()
            ));
        }
        let connect_timeout = *config
            .get_connect_timeout()
            .unwrap_or(&DEFAULT_CONNECT_TIMEOUT);
        config.connect_timeout(connect_timeout);
        if config.get_application_name().is_none() {
            config.application_name("dafnck");
        }
        let ports = config.get_ports();
        let endpoints = config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
                match host {
                    Host::Tcp(name) => format!("{name}:{port}"),
                    #[cfg(unix)]
                    Host::Unix(dir) => format!("{}:{port}", dir.display()),
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        Ok(StoreUrl {
            config,
            schema,
            endpoints,
            connect_timeout,
        })
    }

    /// `postgres HOST:PORT/DATABASE (schema S)`: no user, no password.
    pub(super) fn describe(&self) -> String {
        format!(
            "postgres {}/{} (schema {})",
            self.endpoints,
            self.config
                .get_dbname()
                .or(self.config.get_user())
                .unwrap_or("postgres"),
            self.schema
        )
    }
}

/// A schema name is a plain lower-case SQL identifier, so it is used in
/// statements as it is, and quoting cannot change what it names.
fn check_schema(schema: &str) -> Result<(), String> {
    let mut chars = schema.chars();
    let ok = matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && schema.len() <= 63;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "schema={schema:?} is not a plain lower-case identifier (a-z, 0-9, _; at most 63 characters, not starting with a digit)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_schema_out_and_describes_without_secrets() {
        let u = StoreUrl::parse(
            "postgres://bob:hunter2@db.internal:6543/infra?schema=team_a&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(u.schema, "team_a");
        assert_eq!(u.connect_timeout, Duration::from_secs(3));
        assert_eq!(
            u.describe(),
            "postgres db.internal:6543/infra (schema team_a)"
        );
        assert!(!u.describe().contains("hunter2"));

        let u = StoreUrl::parse("postgresql://127.0.0.1/infra").unwrap();
        assert_eq!(u.schema, DEFAULT_SCHEMA);
        assert_eq!(u.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(u.endpoints, "127.0.0.1:5432");
    }

    #[test]
    fn refuses_bad_urls_naming_them_without_the_password() {
        for (url, why) in [
            (
                "postgres://u:pw@h/db?schema=Bad-Name",
                "not a plain lower-case identifier",
            ),
            (
                "postgres://u:pw@h/db?schema=x;drop",
                "not a plain lower-case identifier",
            ),
            (
                "postgres://u:pw@h/db?bogus=1",
                "not a PostgreSQL connection URL",
            ),
        ] {
            let e = StoreUrl::parse(url).err().expect(url).to_string();
            assert!(e.contains(why) && !e.contains("pw@"), "{url}: {e}");
            assert!(e.contains("u:***@h"), "{e}");
        }
    }
}
