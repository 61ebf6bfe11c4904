//! `auth: htpasswd:` as the Go registry reads it: Basic credentials checked
//! against bcrypt entries. A verified credential is remembered by its
//! SHA-256 so a busy client does not pay bcrypt on every request.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// Credentials remembered at most; past that the set starts over.
const REMEMBERED: usize = 1024;

/// Users and their bcrypt hashes.
pub struct Htpasswd {
    realm: String,
    users: HashMap<String, String>,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl std::fmt::Debug for Htpasswd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hashes stay out of logs.
        f.debug_struct("Htpasswd")
            .field("realm", &self.realm)
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

impl Htpasswd {
    /// Reads an htpasswd file's text (`user:$2y$...` lines; blank lines and
    /// `#` comments skipped). Only bcrypt entries are accepted, as in the Go
    /// registry; the error names the line.
    pub fn parse(text: &str, realm: &str) -> Result<Self, String> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| format!("htpasswd line {}: no `user:hash`", i + 1))?;
            if !["$2y$", "$2a$", "$2b$"].iter().any(|p| hash.starts_with(p)) {
                return Err(format!(
                    "htpasswd line {}: user {user}: only bcrypt entries are supported",
                    i + 1
                ));
            }
            users.insert(user.to_owned(), hash.to_owned());
        }
        Ok(Self {
            realm: realm.to_owned(),
            users,
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// The realm in `WWW-Authenticate`.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// True when `authorization` holds Basic credentials of a known user.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        let Some(encoded) = authorization.and_then(|a| a.strip_prefix("Basic ")) else {
            return false;
        };
        let key: [u8; 32] = Sha256::digest(encoded.trim().as_bytes()).into();
        if self.verified.lock().expect("not poisoned").contains(&key) {
            return true;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return false;
        };
        let Some((user, password)) = text.split_once(':') else {
            return false;
        };
        let ok = self
            .users
            .get(user)
            .is_some_and(|hash| bcrypt::verify(password, hash).unwrap_or(false));
        if ok {
            let mut set = self.verified.lock().expect("not poisoned");
            if set.len() >= REMEMBERED {
                set.clear();
            }
            set.insert(key);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    #[test]
    fn bcrypt_users_only_with_their_password() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let h = Htpasswd::parse(&format!("# users\nalice:{hash}\n\n"), "r").unwrap();
        assert!(h.allows(Some(&basic("alice", "secret"))));
        assert!(h.allows(Some(&basic("alice", "secret"))), "remembered");
        assert!(!h.allows(Some(&basic("alice", "wrong"))));
        assert!(!h.allows(Some(&basic("bob", "secret"))));
        assert!(!h.allows(None));
        assert!(!h.allows(Some("Bearer x")));
        assert!(!format!("{h:?}").contains(&hash));
    }

    #[test]
    fn other_hash_kinds_are_refused_by_line() {
        let e = Htpasswd::parse("a:{SHA}x", "r").unwrap_err();
        assert!(e.contains("line 1") && e.contains("bcrypt"), "{e}");
        assert!(Htpasswd::parse("nocolon", "r").is_err());
    }
}
