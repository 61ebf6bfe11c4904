//! What opening a driver takes, as one value: the configuration, the
//! embedder's egress cap and what it offers, the per-instance limits.

use std::fmt;

use crate::config_file::DistributionConfig;
use crate::outgoing::{Allowlist, OutgoingPolicy};
use crate::runtime::{Grants, Limits};
use crate::{ConfigValue, Middleware};

/// How to open a driver ([`crate::Driver::open`]). The component says what
/// the configuration needs (the WIT `requirements` export) and gets exactly
/// that, inside what these options allow: `policy`'s allowlist caps the
/// origins (default: [`Allowlist::any`]), `grants` is what the embedder
/// offers (variables, read-only directories).
#[derive(Clone)]
pub struct OpenOptions {
    pub(crate) params: Vec<(String, ConfigValue)>,
    pub(crate) middleware: Vec<Middleware>,
    pub(crate) policy: Option<OutgoingPolicy>,
    pub(crate) grants: Grants,
    pub(crate) limits: Limits,
}

impl fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parameters and variables hold secrets: never print them.
        f.debug_struct("OpenOptions")
            .field("parameters", &self.params.len())
            .field("middleware", &self.middleware.len())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl OpenOptions {
    /// A `storage:` block's parameters, with no middleware, an allow-all
    /// cap, nothing offered and the default limits.
    pub fn new(params: &[(String, ConfigValue)]) -> Self {
        Self {
            params: params.to_vec(),
            middleware: Vec::new(),
            policy: None,
            grants: Grants::default(),
            limits: Limits::default(),
        }
    }

    /// A Distribution `config.yml`: its storage block and its
    /// `middleware: storage:` entries.
    pub fn from_config(config: &DistributionConfig) -> Self {
        Self::new(&config.storage).middleware(&config.middleware)
    }

    /// `middleware: storage:` entries.
    pub fn middleware(mut self, middleware: &[Middleware]) -> Self {
        self.middleware = middleware.to_vec();
        self
    }

    /// The driver's HTTP: its connection pool, TLS settings and egress cap.
    pub fn policy(mut self, policy: OutgoingPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// What the embedder offers the component (variables, directories).
    pub fn grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }

    /// The variables offered (the AWS credential variables, typically).
    pub fn env(mut self, env: &[(String, String)]) -> Self {
        self.grants.env = env.to_vec();
        self
    }

    /// Per-instance limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub(crate) fn take_policy(&mut self) -> OutgoingPolicy {
        self.policy
            .take()
            .unwrap_or_else(|| OutgoingPolicy::new(Allowlist::any()))
    }
}
