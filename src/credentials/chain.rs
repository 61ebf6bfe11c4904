//! The chain's cache: temporary credentials kept until shortly before they
//! expire, and shared with every instance of the driver through the
//! platform, so one instance fetches them for all (and refreshes them once).

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use super::{REFRESH_MARGIN_SECS, Source, fetch};
use crate::error::Result;
use crate::platform::{Claim, FetchDuty, Platform};
use crate::sign::Credentials;
use crate::transport::Transport;

/// The shared value's key prefix; the format version changes with
/// [`SharedCredentials`], so instances of two versions never misread each
/// other's values during a hot swap.
const KEY_PREFIX: &str = "credentials/v1/";

/// Credentials with their expiry, as every instance of the driver shares
/// them (opaque to the host, and never logged by it).
#[derive(Serialize, Deserialize)]
struct SharedCredentials {
    access_key: String,
    secret_key: String,
    session_token: Option<String>,
    expires: Option<i64>,
}

impl SharedCredentials {
    fn encode(c: &Credentials, expires: Option<i64>) -> Vec<u8> {
        let shared = SharedCredentials {
            access_key: c.access_key().to_owned(),
            secret_key: c.secret_key().to_owned(),
            session_token: c.session_token().map(str::to_owned),
            expires,
        };
        serde_json::to_vec(&shared).expect("strings and numbers serialize")
    }

    /// `None` for data this version cannot read (it fetches instead).
    fn decode(data: &[u8]) -> Option<(Credentials, Option<i64>)> {
        let s: SharedCredentials = serde_json::from_slice(data).ok()?;
        Some((
            Credentials::new(s.access_key, s.secret_key, s.session_token),
            s.expires,
        ))
    }
}

/// The credential chain with its cache.
#[derive(Debug)]
pub struct CredentialChain {
    source: Source,
    cache: RefCell<Option<(Credentials, Option<i64>)>>,
    /// Where the instances share what this chain fetches.
    key: String,
    /// For an assumed role: the chain of the keys that sign its STS request.
    inner: Option<Box<CredentialChain>>,
}

impl CredentialChain {
    /// A chain that will use `source`.
    pub fn new(source: Source) -> Self {
        Self::at_depth(source, 0)
    }

    /// A chain `depth` assumed roles below the driver's own.
    fn at_depth(source: Source, depth: usize) -> Self {
        let inner = match &source {
            Source::AssumeRole(r) => Some(Box::new(Self::at_depth(r.source.clone(), depth + 1))),
            _ => None,
        };
        Self {
            source,
            cache: RefCell::new(None),
            key: format!("{KEY_PREFIX}{depth}"),
            inner,
        }
    }

    /// The source in use.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Current credentials, fetched or refreshed when they expire within
    /// five minutes.
    pub fn get<T: Transport>(&self, transport: &T, platform: &dyn Platform) -> Result<Credentials> {
        self.get_valid_for(transport, platform, REFRESH_MARGIN_SECS)
            .map(|(c, _)| c)
    }

    /// Credentials that stay valid at least `secs` more (refreshed when the
    /// cached ones would not), with their expiry (`None`: they never
    /// expire). A presigned URL asks for its own lifetime. This instance's
    /// cache first, then the one every instance shares; only when neither
    /// holds them long enough does this instance fetch (others wait for it).
    pub fn get_valid_for<T: Transport>(
        &self,
        transport: &T,
        platform: &dyn Platform,
        secs: i64,
    ) -> Result<(Credentials, Option<i64>)> {
        if let Source::Fixed(c) = &self.source {
            return Ok((c.clone(), None));
        }
        let usable_until = platform.now().seconds + secs.max(REFRESH_MARGIN_SECS);
        let usable = |expires: Option<i64>| expires.is_none_or(|e| e > usable_until);
        if let Some((c, expires)) = &*self.cache.borrow()
            && usable(*expires)
        {
            return Ok((c.clone(), *expires));
        }
        if let Claim::Ready(data, _) = platform.claim_shared(&self.key, usable_until)
            && let Some(shared) = SharedCredentials::decode(&data)
            && usable(shared.1)
        {
            *self.cache.borrow_mut() = Some(shared.clone());
            return Ok(shared);
        }
        let duty = FetchDuty::new(platform, &self.key);
        let fresh = self.fetch(transport, platform)?;
        duty.publish(
            &SharedCredentials::encode(&fresh.0, fresh.1),
            fresh.1.unwrap_or(i64::MAX),
        );
        *self.cache.borrow_mut() = Some(fresh.clone());
        Ok(fresh)
    }

    /// Asks the source (never a static one).
    fn fetch<T: Transport>(
        &self,
        transport: &T,
        platform: &dyn Platform,
    ) -> Result<(Credentials, Option<i64>)> {
        match &self.source {
            Source::Fixed(c) => Ok((c.clone(), None)),
            Source::WebIdentity {
                token_file,
                role_arn,
                session_name,
                endpoint,
            } => fetch::web_identity(
                transport,
                platform,
                token_file,
                role_arn,
                session_name,
                endpoint,
            ),
            Source::InstanceMetadata { endpoint } => fetch::instance_metadata(transport, endpoint),
            Source::Container { url, token } => {
                fetch::container(transport, platform, url, token.as_ref())
            }
            Source::AssumeRole(r) => {
                let inner = self.inner.as_ref().expect("set for an assumed role");
                let signing = inner.get(transport, platform)?;
                fetch::assume_role(transport, platform, r, signing)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::NetworkFailure;
    use crate::error::Error;
    use crate::platform::FixedPlatform;
    use crate::transport::{Body, Request, Response};

    /// A network that refuses every request: any fetch fails.
    struct NoTransport;

    impl Body for () {
        fn read(&mut self, _max: usize) -> Result<Vec<u8>> {
            Ok(Vec::new())
        }
    }

    impl Transport for NoTransport {
        type Body = ();
        type Pending = ();
        fn send(&self, _: &Request, _: &[u8]) -> Result<Response<()>> {
            Err(Error::network(NetworkFailure::Refused, "refused"))
        }
        fn begin(&self, _: &Request, _: std::rc::Rc<Vec<u8>>) -> Result<()> {
            Err(Error::network(NetworkFailure::Refused, "refused"))
        }
        fn drive(&self, _: &mut [&mut ()], _: bool) -> Vec<usize> {
            Vec::new()
        }
        fn complete(&self, _: ()) -> Result<Response<()>> {
            Err(Error::network(NetworkFailure::Refused, "refused"))
        }
    }

    #[test]
    fn credentials_another_instance_shared_are_used_without_a_fetch() {
        let platform = FixedPlatform::default();
        let now = platform.now.seconds;
        let shared = Credentials::new("AK".into(), "SK".into(), Some("T".into()));
        platform.publish_shared(
            "credentials/v1/0",
            &SharedCredentials::encode(&shared, Some(now + 3600)),
            now + 3600,
        );
        let chain = CredentialChain::new(Source::InstanceMetadata {
            endpoint: "http://127.0.0.1:1".into(),
        });
        // The transport refuses everything: a fetch would fail.
        let (c, expires) = chain
            .get_valid_for(&NoTransport, &platform, REFRESH_MARGIN_SECS)
            .unwrap();
        assert_eq!((c, expires), (shared, Some(now + 3600)));
        // Shared credentials that do not last long enough are fetched again.
        assert!(chain.get_valid_for(&NoTransport, &platform, 7200).is_err());
    }
}
