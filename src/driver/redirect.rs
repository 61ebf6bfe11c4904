//! Redirect URLs: an S3 URL presigned for 20 minutes, or with the CloudFront
//! middleware a signed CloudFront URL unless the AWS IP ranges place the
//! client inside AWS. The ranges are fetched through the driver's transport
//! at open and again after `updatefrequency`.

use std::cell::RefCell;

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

impl<T: Transport> S3Driver<T> {
    /// With an IP filter, fetches the ranges once; a failure becomes a warning.
    pub(super) fn with_first_ip_ranges(mut self) -> Self {
        if let Some(cf) = &self.cloudfront
            && cf.options.filter != IpFilter::None
            && let Err(e) = self.refresh_ip_ranges(cf)
        {
            self.warnings.push(format!(
                "cloudfront: failed to update AWS IP ranges ({e}); every client gets CloudFront until a fetch succeeds"
            ));
        }
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

    /// The redirect for a client's request: CloudFront's signed URL when the
    /// middleware is on (any method), unless the IP filter places the client
    /// inside AWS; otherwise an S3 URL presigned for 20 minutes (GET and HEAD
    /// only; other methods are not redirected). `redirectendpoint` replaces
    /// the S3 URL's scheme and host before signing.
    pub fn redirect_url(&self, request: &RedirectRequest, path: &str) -> Result<Option<String>> {
        path::check(path)?;
        if let Some(cf) = &self.cloudfront
            && !self.inside_aws(cf, request)
        {
            return cf
                .options
                .signed_url(&self.keys.key(path), self.client.now())
                .map(Some);
        }
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
        let signer = self.client.signer()?;
        Ok(Some(signer.presigned_url(
            self.client.now(),
            PRESIGN_EXPIRY_SECS,
            &req,
        )))
    }
}
