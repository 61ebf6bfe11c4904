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
    /// bcrypt runs on the calling thread: async callers use
    /// [`Htpasswd::allows_async`].
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        match self.check(authorization) {
            Check::Known => true,
            Check::Refused => false,
            Check::Verify(v) => {
                let ok = v.run();
                self.settle(&v, ok)
            }
        }
    }

    /// [`Htpasswd::allows`] with bcrypt on tokio's blocking pool, at most
    /// [`BCRYPT_AT_ONCE`] at a time, so a flood of wrong passwords slows
    /// only itself, not the async workers that serve everyone else. Without
    /// `may_verify` only a credential verified before is let through.
    pub async fn allows_async(&self, authorization: Option<&str>, may_verify: bool) -> bool {
        static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(BCRYPT_AT_ONCE);
        match self.check(authorization) {
            Check::Known => true,
            Check::Refused => false,
            Check::Verify(_) if !may_verify => false,
            Check::Verify(v) => {
                let Ok(_slot) = SLOTS.acquire().await else {
                    return false;
                };
                let job = v.clone();
                let ok = tokio::task::spawn_blocking(move || job.run())
                    .await
                    .unwrap_or(false);
                self.settle(&v, ok)
            }
        }
    }

    /// What it takes to decide on `authorization`.
    fn check(&self, authorization: Option<&str>) -> Check {
        let Some(encoded) = authorization.and_then(|a| a.strip_prefix("Basic ")) else {
            return Check::Refused;
        };
        let key: [u8; 32] = Sha256::digest(encoded.trim().as_bytes()).into();
        if self.verified.lock().expect("not poisoned").contains(&key) {
            return Check::Known;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return Check::Refused;
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return Check::Refused;
        };
        let Some((user, password)) = text.split_once(':') else {
            return Check::Refused;
        };
        match self.users.get(user) {
            Some(hash) => Check::Verify(Verify {
                key,
                hash: hash.clone(),
                password: password.to_owned(),
            }),
            None => Check::Refused,
        }
    }

    /// Remembers a verified credential; returns `ok`.
    fn settle(&self, v: &Verify, ok: bool) -> bool {
        if ok {
            let mut set = self.verified.lock().expect("not poisoned");
            if set.len() >= REMEMBERED {
                set.clear();
            }
            set.insert(v.key);
        }
        ok
    }
}

/// bcrypt verifications running at once, at most.
pub const BCRYPT_AT_ONCE: usize = 2;

enum Check {
    /// Verified before.
    Known,
    /// Malformed, or no such user.
    Refused,
    /// A bcrypt verification decides.
    Verify(Verify),
}

/// One bcrypt verification, owned so it can move to the blocking pool.
#[derive(Clone)]
struct Verify {
    key: [u8; 32],
    hash: String,
    password: String,
}

impl Verify {
    fn run(&self) -> bool {
        bcrypt::verify(&self.password, &self.hash).unwrap_or(false)
    }
}

/// Failed logins counted per client address: past [`Self::LIMIT`] in one
/// [`Self::WINDOW`], a client is refused without a bcrypt run until the
/// window ends, so guessing costs the guesser, not the registry.
#[derive(Debug, Default)]
pub struct Failures {
    by_client: Mutex<HashMap<std::net::IpAddr, (std::time::Instant, u32)>>,
}

impl Failures {
    /// Failed attempts allowed per client and window.
    pub const LIMIT: u32 = 10;
    /// The window.
    pub const WINDOW: std::time::Duration = std::time::Duration::from_secs(60);
    /// Clients tracked at most; past that the table starts over.
    const TRACKED: usize = 10_000;

    /// True when `client` has used up its failures.
    pub fn blocked(&self, client: std::net::IpAddr) -> bool {
        let map = self.by_client.lock().expect("not poisoned");
        map.get(&client)
            .is_some_and(|(since, n)| since.elapsed() < Self::WINDOW && *n >= Self::LIMIT)
    }

    /// Counts a failed attempt of `client`.
    pub fn failed(&self, client: std::net::IpAddr) {
        let mut map = self.by_client.lock().expect("not poisoned");
        if map.len() >= Self::TRACKED {
            map.clear();
        }
        let entry = map.entry(client).or_insert((std::time::Instant::now(), 0));
        if entry.0.elapsed() >= Self::WINDOW {
            *entry = (std::time::Instant::now(), 0);
        }
        entry.1 += 1;
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
