//! What `styx serve`'s command line sets.

use std::net::IpAddr;
use std::path::PathBuf;

/// The server's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on (`127.0.0.1:8080`; port 0 takes a free port).
    pub listen: String,
    /// The path every API path is under (`/openscoring`; `/` puts them at the root).
    pub base_path: String,
    /// A folder whose `*.pmml` files are deployed at start.
    pub models_dir: Option<PathBuf>,
    /// The store the models live in.
    pub store_url: String,
    /// The admin token; without one, admin requests are those from the admin addresses.
    pub admin_token: Option<String>,
    /// The user token; without one, every request is a user's.
    pub user_token: Option<String>,
    /// Addresses whose requests are admin's when there is no admin token (loopback
    /// always is); `any` makes every address one.
    pub admin_addresses: AdminAddresses,
    /// The largest request body, in bytes.
    pub max_body: usize,
}

/// Where admin requests may come from when no admin token is set.
#[derive(Debug, Clone, Default)]
pub struct AdminAddresses {
    /// Every address (`*`).
    pub any: bool,
    /// These addresses, besides loopback.
    pub listed: Vec<IpAddr>,
}

impl AdminAddresses {
    /// Parses `A,B,...` (`*` for any address).
    pub fn parse(text: &str) -> Result<AdminAddresses, String> {
        let mut out = AdminAddresses::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "*" {
                out.any = true;
            } else if part == "localhost" {
                // Loopback is always admin's.
            } else {
                out.listed
                    .push(part.parse().map_err(|_| {
                        format!("--admin-addresses: {part:?} is not an IP address")
                    })?);
            }
        }
        Ok(out)
    }
}

/// Normalizes a base path: `/openscoring`, `/` for the root.
pub fn base_path(text: &str) -> String {
    let trimmed = text.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}
