//! A `styx serve` started by a test, and plain HTTP/1.1 requests to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::STYX;

/// A running `styx serve`, stopped when dropped.
pub struct Server {
    pub child: Child,
    /// `http://HOST:PORT/BASE`.
    pub url: String,
    /// The store's URL.
    pub store: String,
    _store_dir: tempfile::TempDir,
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        let store_dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite:{}", store_dir.path().join("styx.db").display());
        Server::on_store(store, store_dir, args)
    }

    /// A server on the store at `store` (kept in `store_dir`).
    pub fn on_store(store: String, store_dir: tempfile::TempDir, args: &[&str]) -> Server {
        Server::on_store_in(store, store_dir, args, Path::new("."))
    }

    /// A server on the store at `store`, working in folder `dir` (where the relative
    /// paths of submitted job files start).
    pub fn on_store_in(
        store: String,
        store_dir: tempfile::TempDir,
        args: &[&str],
        dir: &Path,
    ) -> Server {
        let mut child = Command::new(STYX)
            .args(["serve", "--listen", "127.0.0.1:0", "--store", &store])
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the server says where it listens: {line:?}"))
            .to_string();
        Server {
            child,
            url,
            store,
            _store_dir: store_dir,
        }
    }

    /// `HOST:PORT`.
    pub fn address(&self) -> &str {
        let rest = self.url.strip_prefix("http://").unwrap();
        rest.split('/').next().unwrap()
    }

    /// Sends one HTTP/1.1 request; the status, the headers (lower-case names) and the body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut stream = TcpStream::connect(self.address()).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.address(),
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Reply {
            status,
            headers,
            body: body.to_string(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An error answer: the status, a JSON body with only `message`.
    pub fn assert_error(&self, status: u16, message: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_str(&self.body).unwrap();
        let object = body.as_object().unwrap();
        assert_eq!(object.len(), 1, "{}", self.body);
        let text = object["message"].as_str().unwrap();
        assert!(
            text.starts_with(message),
            "{text:?} starts with {message:?}"
        );
    }
}
