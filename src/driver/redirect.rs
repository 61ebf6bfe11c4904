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
use crate::platform::{Claim, FetchDuty, LogLevel, Platform};
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
    /// Where the driver's instances share the ranges.
    key: String,
    ranges: RefCell<Option<IpRanges>>,
    /// When the ranges are due again: the last attempt, by any instance,
    /// plus `updatefrequency`.
    refresh_at: RefCell<Option<i64>>,
}

/// What a driver's instances share about one CloudFront entry's ranges:
/// the last good list, or why there is none yet. The format version is in
/// the key, so two component versions never misread each other.
enum SharedRanges {
    Good(IpRanges),
    NoneYet(String),
}

impl SharedRanges {
    fn encode(ranges: Option<&IpRanges>, failure: Option<&str>) -> Vec<u8> {
        match ranges {
            Some(r) => format!("ok\n{}", r.to_lines()),
            None => format!("none\n{}", failure.unwrap_or_default()),
        }
        .into_bytes()
    }

    fn decode(data: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(data).ok()?;
        match text.split_once('\n')? {
            ("ok", lines) => IpRanges::from_lines(lines).map(SharedRanges::Good),
            ("none", why) => Some(SharedRanges::NoneYet(why.to_owned())),
            _ => None,
        }
    }
}

impl CloudFront {
    /// Validates a `cloudfront` entry's options; a `privatekey` path is read
    /// through the platform.
    pub(super) fn from_options(
        index: usize,
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
            key: format!("cloudfront-ip-ranges/v1/{index}"),
            ranges: RefCell::new(None),
            refresh_at: RefCell::new(None),
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
    /// The entry `name`, at `index` in the list, with its options, checked
    /// (a CloudFront `privatekey` path is read through the platform).
    pub(super) fn from_entry(
        index: usize,
        name: &str,
        options: &[(String, Value)],
        platform: &dyn Platform,
        warnings: &mut Vec<String>,
    ) -> Result<Self> {
        Ok(match name {
            "redirect" => Layer::Redirect(RedirectBase::from_options(options)?),
            "rewrite" => Layer::Rewrite(Rewrite::from_options(options)?),
            _ => Layer::CloudFront(Box::new(CloudFront::from_options(
                index, options, platform, warnings,
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
                && let Err((e, _)) = self.refresh_ip_ranges(cf)
            {
                failed.push(format!(
                    "cloudfront: failed to update AWS IP ranges ({e}); every client gets CloudFront until a fetch succeeds"
                ));
            }
        }
        self.warnings.extend(failed);
        self
    }

    /// Brings the AWS IP ranges up to date: from what another instance of
    /// the driver fetched, or fetched here for all of them. A failed fetch
    /// keeps the last good list until the next refresh; the error says why
    /// there is no fresh list, and whether this instance's fetch failed
    /// (only that one logs it).
    fn refresh_ip_ranges(&self, cf: &CloudFront) -> std::result::Result<(), (String, bool)> {
        let platform = self.client.platform();
        let now = self.client.now().seconds;
        if let Claim::Ready(data, expires) = platform.claim_shared(&cf.key, now)
            && let Some(shared) = SharedRanges::decode(&data)
        {
            *cf.refresh_at.borrow_mut() = Some(expires);
            return match shared {
                SharedRanges::Good(ranges) => {
                    *cf.ranges.borrow_mut() = Some(ranges);
                    Ok(())
                }
                SharedRanges::NoneYet(why) => Err((why, false)),
            };
        }
        let duty = FetchDuty::new(platform, &cf.key);
        let expires = now.saturating_add(cf.options.update_frequency_secs as i64);
        *cf.refresh_at.borrow_mut() = Some(expires);
        let failure = match self.fetch_ip_ranges(cf) {
            Ok(ranges) => {
                *cf.ranges.borrow_mut() = Some(ranges);
                None
            }
            Err(e) => Some(e.to_string()),
        };
        duty.publish(
            &SharedRanges::encode(cf.ranges.borrow().as_ref(), failure.as_deref()),
            expires,
        );
        failure.map_or(Ok(()), |why| Err((why, true)))
    }

    /// Fetches and parses the AWS IP ranges.
    fn fetch_ip_ranges(&self, cf: &CloudFront) -> Result<IpRanges> {
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
        Ok(ranges)
    }

    /// True when the IP filter says this client is inside AWS.
    fn inside_aws(&self, cf: &CloudFront, req: &RedirectRequest) -> bool {
        if cf.options.filter == IpFilter::None {
            return false;
        }
        let now = self.client.now();
        let due = cf.refresh_at.borrow().is_none_or(|t| now.seconds >= t);
        if due && let Err((e, true)) = self.refresh_ip_ranges(cf) {
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
