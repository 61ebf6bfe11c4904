//! Redirect URLs: an S3 URL presigned for 20 minutes, passed through the
//! storage middlewares in the reference's order (the last listed is the
//! outermost): `cloudfront` signs a CloudFront URL unless the AWS IP ranges
//! place the client inside AWS (then the layers inside it answer),
//! `redirect` answers with its base URL, `rewrite` edits what the layers
//! inside it gave. The ranges are fetched through the driver's transport at
//! open and again after `updatefrequency`.

use std::cell::RefCell;

use super::middleware::{RedirectBase, Rewrite};
use super::{PRESIGN_EXPIRY_SECS, S3Driver};
use crate::cloudfront::{CloudFrontOptions, IpFilter, IpRanges, client_ip};
use crate::config::Value;
use crate::error::{Error, Result};
use crate::path;
use crate::platform::{LogLevel, Platform};
use crate::transport::{Body as _, Request, Transport};
use crate::url::{query_pairs, split_url};

/// XML and JSON replies stay well below this.
const RANGES_BODY_LIMIT: usize = 16 << 20;

/// The parts of a client's request that decide a redirect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedirectRequest {
    /// HTTP method.
    pub method: String,
    /// Peer address (`ip` or `ip:port`).
    pub remote_addr: String,
    /// `X-Forwarded-For`.
    pub forwarded_for: Option<String>,
    /// `X-Real-Ip`.
    pub real_ip: Option<String>,
}

/// The CloudFront middleware's state: options and the last good IP ranges.
pub(super) struct CloudFront {
    options: CloudFrontOptions,
    ranges: RefCell<Option<IpRanges>>,
    last_attempt: RefCell<Option<i64>>,
}

impl CloudFront {
    /// Validates a `cloudfront` entry's options; a `privatekey` path is read
    /// through the platform.
    pub(super) fn from_options(
        options: &[(String, Value)],
        platform: &dyn Platform,
        warnings: &mut Vec<String>,
    ) -> Result<Self> {
        Ok(Self {
            options: CloudFrontOptions::from_options(
                options,
                |path| platform.read_file(path),
                warnings,
            )?,
            ranges: RefCell::new(None),
            last_attempt: RefCell::new(None),
        })
    }
}

/// One `middleware: storage:` entry.
pub(super) enum Layer {
    /// `cloudfront`.
    CloudFront(Box<CloudFront>),
    /// `redirect`.
    Redirect(RedirectBase),
    /// `rewrite`.
    Rewrite(Rewrite),
}

impl Layer {
    /// The entry `name` with its options, checked (a CloudFront `privatekey`
    /// path is read through the platform).
    pub(super) fn from_entry(
        name: &str,
        options: &[(String, Value)],
        platform: &dyn Platform,
        warnings: &mut Vec<String>,
    ) -> Result<Self> {
        Ok(match name {
            "redirect" => Layer::Redirect(RedirectBase::from_options(options)?),
            "rewrite" => Layer::Rewrite(Rewrite::from_options(options)?),
            _ => Layer::CloudFront(Box::new(CloudFront::from_options(
                options, platform, warnings,
            )?)),
        })
    }
}

impl<T: Transport> S3Driver<T> {
    /// With an IP filter, fetches the ranges once; a failure becomes a warning.
    pub(super) fn with_first_ip_ranges(mut self) -> Self {
        let mut failed = Vec::new();
        for layer in &self.middleware {
            if let Layer::CloudFront(cf) = layer
                && cf.options.filter != IpFilter::None
                && let Err(e) = self.refresh_ip_ranges(cf)
            {
                failed.push(format!(
                    "cloudfront: failed to update AWS IP ranges ({e}); every client gets CloudFront until a fetch succeeds"
                ));
            }
        }
        self.warnings.extend(failed);
        self
    }

    /// Fetches the AWS IP ranges; keeps the last good list on failure.
    fn refresh_ip_ranges(&self, cf: &CloudFront) -> Result<()> {
        *cf.last_attempt.borrow_mut() = Some(self.client.now().seconds);
        let url = split_url(&cf.options.ip_ranges_url).expect("checked at open");
        let (path, query) = match url.path.split_once('?') {
            Some((p, q)) => (p.to_owned(), query_pairs(q)),
            None => (url.path, Vec::new()),
        };
        let req = Request {
            method: "GET",
            secure: url.secure,
            authority: url.authority,
            path,
            query,
            headers: vec![("accept".into(), "application/json".into())],
        };
        let mut resp = self.client.transport().send(&req, &[])?;
        let body = resp.body.read_to_end(RANGES_BODY_LIMIT)?;
        if resp.status != 200 {
            return Err(Error::MalformedResponse(format!(
                "failed to fetch network data: HTTP {}",
                resp.status
            )));
        }
        let regions = match &cf.options.filter {
            IpFilter::AwsRegion(r) => Some(r.as_slice()),
            _ => None,
        };
        let (ranges, skipped) = IpRanges::parse(&body, regions)?;
        if skipped > 0 {
            self.client.platform().log(
                LogLevel::Warn,
                &format!("cloudfront: skipped {skipped} unparsable AWS IP prefix(es)"),
            );
        }
        *cf.ranges.borrow_mut() = Some(ranges);
        Ok(())
    }

    /// True when the IP filter says this client is inside AWS.
    fn inside_aws(&self, cf: &CloudFront, req: &RedirectRequest) -> bool {
        if cf.options.filter == IpFilter::None {
            return false;
        }
        let now = self.client.now();
        let due = cf
            .last_attempt
            .borrow()
            .is_none_or(|t| now.seconds - t >= cf.options.update_frequency_secs as i64);
        if due && let Err(e) = self.refresh_ip_ranges(cf) {
            self.client.platform().log(
                LogLevel::Warn,
                &format!("cloudfront: failed to update AWS IP ranges: {e}"),
            );
        }
        let Some(ip) = client_ip(
            &req.remote_addr,
            req.forwarded_for.as_deref(),
            req.real_ip.as_deref(),
        ) else {
            return false;
        };
        cf.ranges.borrow().as_ref().is_some_and(|r| r.contains(ip))
    }

    /// The redirect for a client's request, through the middlewares.
    pub fn redirect_url(&self, request: &RedirectRequest, path: &str) -> Result<Option<String>> {
        path::check(path)?;
        self.through(&self.middleware, request, path)
    }

    /// What the outermost of `layers` answers; the driver's own URL under
    /// all of them. A `rewrite` over no URL gives none (the reference would
    /// rewrite an empty URL into a bare host).
    fn through(
        &self,
        layers: &[Layer],
        request: &RedirectRequest,
        path: &str,
    ) -> Result<Option<String>> {
        match layers.split_last() {
            None => self.s3_redirect(request, path),
            Some((Layer::CloudFront(cf), inner)) => {
                if self.inside_aws(cf, request) {
                    self.through(inner, request, path)
                } else {
                    cf.options
                        .signed_url(&self.keys.key(path), self.client.now())
                        .map(Some)
                }
            }
            Some((Layer::Redirect(r), _)) => Ok(Some(r.url(path))),
            Some((Layer::Rewrite(rw), inner)) => match self.through(inner, request, path)? {
                Some(url) => rw.apply(&url).map(Some),
                None => Ok(None),
            },
        }
    }

    /// An S3 URL presigned for 20 minutes (GET and HEAD only; other methods
    /// are not redirected). `redirectendpoint` replaces its scheme and host
    /// before signing.
    fn s3_redirect(&self, request: &RedirectRequest, path: &str) -> Result<Option<String>> {
        // Methods are case-sensitive (RFC 9110), as in the reference.
        let method = match request.method.as_str() {
            "GET" => "GET",
            "HEAD" => "HEAD",
            _ => return Ok(None),
        };
        let mut req = self.client.requests().head_object(&self.keys.key(path));
        req.method = method;
        if let Some(endpoint) = &self.config().redirect_endpoint {
            let (scheme, host) = endpoint.split_once("://").unwrap_or(("https", endpoint));
            req.secure = scheme.eq_ignore_ascii_case("https");
            req.authority = host.trim_end_matches('/').to_owned();
        }
        let (signer, lifetime) = self.client.presign_signer(PRESIGN_EXPIRY_SECS)?;
        Ok(Some(signer.presigned_url(
            self.client.now(),
            lifetime,
            &req,
        )))
    }
}
