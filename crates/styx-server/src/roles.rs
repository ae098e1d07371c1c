//! Who may do what: `user` lists, queries and evaluates; `admin` also deploys, undeploys
//! and downloads. A token comes as `Authorization: Bearer T` or the cookie `token=T` (the
//! cookie wins). Without an admin token, admin requests are those from loopback or the
//! admin addresses; without a user token, every request is a user's. Tokens are compared
//! in constant time and never logged.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};

use crate::config::{AdminAddresses, Config};
use crate::error::ApiError;

/// The configured tokens and addresses.
pub(crate) struct Roles {
    admin_token: Option<String>,
    user_token: Option<String>,
    admin_addresses: AdminAddresses,
}

/// A role a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    User,
    Admin,
}

impl Roles {
    pub fn new(config: &Config) -> Roles {
        Roles {
            admin_token: config.admin_token.clone().filter(|t| !t.is_empty()),
            user_token: config.user_token.clone().filter(|t| !t.is_empty()),
            admin_addresses: config.admin_addresses.clone(),
        }
    }

    /// Checks that the request of `parts` has `role`; the error is the 403 to answer.
    pub fn check(&self, parts: &Parts, role: Role) -> Result<(), ApiError> {
        let token = presented_token(parts);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let admin = match &self.admin_token {
            Some(t) => token.as_deref().is_some_and(|p| equal(p, t)),
            None => peer.is_some_and(|ip| self.admin_address(ip)),
        };
        let allowed = match role {
            Role::Admin => admin,
            Role::User => {
                admin
                    || match &self.user_token {
                        Some(t) => token.as_deref().is_some_and(|p| equal(p, t)),
                        None => true,
                    }
            }
        };
        if allowed {
            return Ok(());
        }
        let how = match (role, &self.admin_token) {
            (Role::Admin, Some(_)) => "present the admin token (Authorization: Bearer TOKEN)",
            (Role::Admin, None) => "send the request from an admin address",
            (Role::User, _) => "present the user token (Authorization: Bearer TOKEN)",
        };
        let name = match role {
            Role::Admin => "admin",
            Role::User => "user",
        };
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("User not authorized. This needs the {name} role: {how}"),
        ))
    }

    fn admin_address(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        ip.is_loopback() || self.admin_addresses.any || self.admin_addresses.listed.contains(&ip)
    }
}

/// The token a request presents: the cookie `token`, else the bearer token.
fn presented_token(parts: &Parts) -> Option<String> {
    let cookie = parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("token=").map(str::to_string));
    cookie.or_else(|| {
        parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string())
    })
}

/// Compares two tokens in time that depends on their lengths only.
fn equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
