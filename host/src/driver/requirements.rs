//! What the running component says a configuration needs (the WIT
//! `requirements` export), asked of every version before it serves a
//! driver, and turned into that version's egress allowlist and WASI grants.
//! The host knows no driver's rules: it offers, the component names, the
//! embedder's cap ([`OutgoingPolicy`]'s allowlist) may refuse.

use std::path::{Path, PathBuf};

use super::error::{CallError, CallResult};
use crate::DriverError;
use crate::bindings::exports::registry::storage::requirements as wit;
use crate::bindings::registry::storage::types;
use crate::outgoing::{Allowlist, OutgoingPolicy};
use crate::runtime::Grants;
use crate::runtime::Instance;

/// Rounds the host asks in before it gives up on a component that keeps
/// naming new variables or files.
const MAX_ROUNDS: usize = 4;

/// A server a driver calls, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// Host name or IP address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Why the component calls it.
    pub reason: String,
}

impl Origin {
    /// `host:port`, as the allowlist matches it (IPv6 in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// What one version of the component needs for one driver's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// Servers it calls.
    pub origins: Vec<Origin>,
    /// Variables it reads (given when the embedder offers them).
    pub variables: Vec<String>,
    /// Files it reads, with why (their directories are granted read-only).
    pub files: Vec<(String, String)>,
    /// It accepts any TLS certificate.
    pub insecure_tls: bool,
}

impl Requirements {
    /// Asks `inst` (an instance with no grants) in rounds until its answer
    /// names nothing new. `offered` is what the embedder is willing to give.
    pub(crate) async fn resolve(
        inst: &mut Instance,
        params: &[types::Parameter],
        middleware: &[types::Middleware],
        offered: &Grants,
    ) -> CallResult<Requirements> {
        let mut known = wit::Known {
            variables: Vec::new(),
            files: Vec::new(),
        };
        for _ in 0..MAX_ROUNDS {
            let needs = inst
                .bindings
                .registry_storage_requirements()
                .call_resolve(&mut inst.store, params, middleware, &known)
                .await
                .map_err(CallError::host)?
                .map_err(CallError::Driver)?;
            let next = known_for(&needs, offered);
            if next.variables == known.variables && next.files == known.files {
                return Ok(Self::from_wit(needs, offered));
            }
            known = next;
        }
        Err(CallError::Driver(DriverError::InvalidConfig(format!(
            "the component kept naming new requirements after {MAX_ROUNDS} rounds"
        ))))
    }

    fn from_wit(n: wit::Needs, offered: &Grants) -> Self {
        Self {
            origins: n
                .origins
                .into_iter()
                .map(|o| Origin {
                    scheme: o.scheme,
                    host: o.host,
                    port: o.port,
                    reason: o.reason,
                })
                .collect(),
            variables: n
                .variables
                .into_iter()
                .map(|v| v.name)
                .filter(|name| offered.env.iter().any(|(n, _)| n == name))
                .collect(),
            files: n.files.into_iter().map(|f| (f.path, f.reason)).collect(),
            insecure_tls: n.insecure_tls,
        }
    }

    /// Refuses what `cap` does not allow, naming the first origin refused.
    pub(crate) fn check(&self, cap: &OutgoingPolicy) -> CallResult<()> {
        let cap = cap.cap();
        match self.origins.iter().find(|o| !cap.allows(&o.authority())) {
            Some(o) => Err(CallError::Driver(DriverError::InvalidConfig(format!(
                "the host's egress policy refuses {}://{} ({})",
                o.scheme,
                o.authority(),
                o.reason
            )))),
            None => Ok(()),
        }
    }

    /// Exactly the origins named.
    pub fn allowlist(&self) -> Allowlist {
        self.origins
            .iter()
            .fold(Allowlist::new(), |a, o| a.allow(&o.authority()))
    }

    /// The variables named (of those offered) and the directories of the
    /// files named (absolute ones that exist), besides the embedder's own
    /// directory grants.
    pub(crate) fn grants(&self, offered: &Grants) -> Grants {
        let mut grants = offered.clone();
        grants.env.retain(|(n, _)| self.variables.contains(n));
        for (file, _) in &self.files {
            let Some(dir) = Path::new(file).parent() else {
                continue;
            };
            if dir.is_absolute() && dir.is_dir() && !grants.read_only_dirs.iter().any(|d| d == dir)
            {
                grants.read_only_dirs.push(PathBuf::from(dir));
            }
        }
        grants
    }
}

/// What the host tells in the next round: the offered values of the
/// variables named, the contents of the files marked consulted.
fn known_for(needs: &wit::Needs, offered: &Grants) -> wit::Known {
    let variables = needs
        .variables
        .iter()
        .filter_map(|v| {
            offered
                .env
                .iter()
                .find(|(n, _)| *n == v.name)
                .map(|(n, value)| (n.clone(), value.clone()))
        })
        .collect();
    let files = needs
        .files
        .iter()
        .filter(|f| f.consulted)
        .map(|f| (f.path.clone(), std::fs::read_to_string(&f.path).ok()))
        .collect();
    wit::Known { variables, files }
}
