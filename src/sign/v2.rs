//! AWS Signature Version 2 for S3-compatible servers that still need it
//! (`v4auth: false`): the `Authorization: AWS key:signature` header and the
//! `AWSAccessKeyId`/`Expires`/`Signature` presigned query.
//!
//! Follows the S3 REST authentication guide: the string to sign is the method,
//! Content-MD5, Content-Type, the date (empty when `x-amz-date` is sent; the
//! expiry for presigned URLs), the sorted `x-amz-*` headers, and the resource:
//! the path exactly as sent (with `/bucket` in front for virtual-hosted
//! requests) plus the signed sub-resources, sorted.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::Credentials;
use crate::time::UtcDateTime;
use crate::transport::Request;

/// Query parameters that are part of the signed resource.
const SUBRESOURCES: &[&str] = &[
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// The canonical resource: `/bucket` for virtual-hosted requests, the path as
/// sent, and the sub-resources sorted, values unencoded.
pub fn canonical_resource(
    virtual_host_bucket: Option<&str>,
    path: &str,
    query: &[(String, String)],
) -> String {
    let mut out = String::new();
    if let Some(bucket) = virtual_host_bucket {
        out.push('/');
        out.push_str(bucket);
    }
    out.push_str(path);
    let mut subs: Vec<&(String, String)> = query
        .iter()
        .filter(|(k, _)| SUBRESOURCES.contains(&k.as_str()))
        .collect();
    subs.sort();
    for (i, (k, v)) in subs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        if !v.is_empty() {
            out.push('=');
            out.push_str(v);
        }
    }
    out
}

/// `x-amz-*` headers: lower-cased, sorted, values trimmed, repeats joined by `,`.
pub fn canonical_amz_headers(headers: &[(String, String)]) -> String {
    let mut amz: Vec<(String, &str)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim()))
        .filter(|(k, _)| k.starts_with("x-amz-"))
        .collect();
    amz.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    let mut i = 0;
    while i < amz.len() {
        let name = &amz[i].0;
        let mut values = vec![amz[i].1];
        let mut j = i + 1;
        while j < amz.len() && amz[j].0 == *name {
            values.push(amz[j].1);
            j += 1;
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
        i = j;
    }
    out
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v.as_str())
}

/// The string to sign; `date` is the Date header's value, or `Expires`.
pub fn string_to_sign(
    method: &str,
    headers: &[(String, String)],
    date: &str,
    resource: &str,
) -> String {
    let has_amz_date = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("x-amz-date"));
    format!(
        "{method}\n{}\n{}\n{}\n{}{resource}",
        header(headers, "content-md5"),
        header(headers, "content-type"),
        if has_amz_date { "" } else { date },
        canonical_amz_headers(headers),
    )
}

/// A SigV2 signer.
#[derive(Debug, Clone)]
pub struct Signer {
    credentials: Credentials,
}

impl Signer {
    /// A signer for these credentials.
    pub fn new(credentials: Credentials) -> Self {
        Self { credentials }
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Base64 HMAC-SHA1 of `string_to_sign` with the secret key.
    pub fn signature(&self, string_to_sign: &str) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(self.credentials.secret_key().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(string_to_sign.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    /// Signs a request in place: `x-amz-date` (so proxies may rewrite `Date`),
    /// the session token if any, and `Authorization: AWS key:signature`.
    pub fn sign_request(
        &self,
        at: UtcDateTime,
        req: &mut Request,
        virtual_host_bucket: Option<&str>,
    ) {
        req.header("x-amz-date", at.http_date());
        if let Some(token) = self.credentials.session_token() {
            req.header("x-amz-security-token", token);
        }
        let resource = canonical_resource(virtual_host_bucket, &req.path, &req.query);
        let sts = string_to_sign(req.method, &req.headers, "", &resource);
        req.header(
            "authorization",
            format!(
                "AWS {}:{}",
                self.credentials.access_key(),
                self.signature(&sts)
            ),
        );
    }

    /// The query of a presigned URL expiring at `expires` (Unix seconds).
    pub fn presign(
        &self,
        expires: i64,
        method: &str,
        path: &str,
        query: &[(String, String)],
        virtual_host_bucket: Option<&str>,
    ) -> Vec<(String, String)> {
        let mut q = query.to_vec();
        let mut amz = Vec::new();
        if let Some(token) = self.credentials.session_token() {
            q.push(("x-amz-security-token".into(), token.to_owned()));
            amz.push(("x-amz-security-token".to_owned(), token.to_owned()));
        }
        let resource = canonical_resource(virtual_host_bucket, path, query);
        let sts = string_to_sign(method, &amz, &expires.to_string(), &resource);
        q.push((
            "AWSAccessKeyId".into(),
            self.credentials.access_key().to_owned(),
        ));
        q.push(("Expires".into(), expires.to_string()));
        q.push(("Signature".into(), self.signature(&sts)));
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::new(Credentials::new(
            "AKIAIOSFODNN7EXAMPLE".into(),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            None,
        ))
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// One example of the S3 REST authentication guide.
    struct Example {
        method: &'static str,
        headers: &'static [(&'static str, &'static str)],
        date: &'static str,
        bucket: &'static str,
        path: &'static str,
        query: &'static [(&'static str, &'static str)],
        signature: &'static str,
    }

    const UPLOAD_HEADERS: &[(&str, &str)] = &[
        ("x-amz-acl", "public-read"),
        ("content-type", "application/x-download"),
        ("Content-MD5", "4gJE4saaMU4BqNR0kLY+lw=="),
        ("X-Amz-Meta-ReviewedBy", "joe@johnsmith.net"),
        ("X-Amz-Meta-ReviewedBy", "jane@johnsmith.net"),
        ("X-Amz-Meta-FileChecksum", "0x02661779"),
        ("X-Amz-Meta-ChecksumAlgorithm", "crc32"),
    ];

    /// The guide's examples (virtual-hosted buckets `johnsmith` and
    /// `static.johnsmith.net`).
    const EXAMPLES: &[Example] = &[
        Example {
            method: "GET",
            headers: &[],
            date: "Tue, 27 Mar 2007 19:36:42 +0000",
            bucket: "johnsmith",
            path: "/photos/puppy.jpg",
            query: &[],
            signature: "bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
        },
        Example {
            method: "PUT",
            headers: &[("Content-Type", "image/jpeg")],
            date: "Tue, 27 Mar 2007 21:15:45 +0000",
            bucket: "johnsmith",
            path: "/photos/puppy.jpg",
            query: &[],
            signature: "MyyxeRY7whkBe+bq8fHCL/2kKUg=",
        },
        Example {
            method: "GET",
            headers: &[("User-Agent", "Mozilla/5.0")],
            date: "Tue, 27 Mar 2007 19:42:41 +0000",
            bucket: "johnsmith",
            path: "/",
            query: &[
                ("prefix", "photos"),
                ("max-keys", "50"),
                ("marker", "puppy"),
            ],
            signature: "htDYFYduRNen8P9ZfE/s9SuKy0U=",
        },
        Example {
            method: "GET",
            headers: &[],
            date: "Tue, 27 Mar 2007 19:44:46 +0000",
            bucket: "johnsmith",
            path: "/",
            query: &[("acl", "")],
            signature: "c2WLPFtWHVgbEmeEG93a4cG37dM=",
        },
        Example {
            method: "PUT",
            headers: UPLOAD_HEADERS,
            date: "Tue, 27 Mar 2007 21:06:08 +0000",
            bucket: "static.johnsmith.net",
            path: "/db-backup.dat.gz",
            query: &[],
            signature: "ilyl83RwaSoYIEdixDQcA4OnAnc=",
        },
    ];

    #[test]
    fn s3_rest_authentication_examples() {
        let s = signer();
        for e in EXAMPLES {
            let resource = canonical_resource(Some(e.bucket), e.path, &h(e.query));
            let sts = string_to_sign(e.method, &h(e.headers), e.date, &resource);
            assert_eq!(
                s.signature(&sts),
                e.signature,
                "{} {}: {sts:?}",
                e.method,
                e.path
            );
        }
    }

    #[test]
    fn upload_example_string_to_sign() {
        assert_eq!(
            string_to_sign(
                "PUT",
                &h(UPLOAD_HEADERS),
                "Tue, 27 Mar 2007 21:06:08 +0000",
                "/static.johnsmith.net/db-backup.dat.gz"
            ),
            "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\nx-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\nx-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n/static.johnsmith.net/db-backup.dat.gz"
        );
    }

    #[test]
    fn x_amz_date_empties_the_date_line() {
        let sts = string_to_sign(
            "DELETE",
            &h(&[("x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000")]),
            "ignored",
            "/johnsmith/photos/puppy.jpg",
        );
        assert_eq!(
            sts,
            "DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/puppy.jpg"
        );
    }

    /// The guide's query-string authentication example.
    #[test]
    fn presigned_example() {
        let q = signer().presign(
            1_175_139_620,
            "GET",
            "/photos/puppy.jpg",
            &[],
            Some("johnsmith"),
        );
        assert_eq!(
            q,
            h(&[
                ("AWSAccessKeyId", "AKIAIOSFODNN7EXAMPLE"),
                ("Expires", "1175139620"),
                ("Signature", "NpgCjnDzrM+WFzoENXmpNDUsSn8="),
            ])
        );
    }

    #[test]
    fn sub_resources_are_sorted_and_others_left_out() {
        let q = h(&[
            ("uploadId", "u1"),
            ("partNumber", "3"),
            ("list-type", "2"),
            ("prefix", "a/"),
        ]);
        assert_eq!(
            canonical_resource(None, "/bucket/key", &q),
            "/bucket/key?partNumber=3&uploadId=u1"
        );
        assert_eq!(
            canonical_resource(None, "/bucket", &h(&[("delete", "")])),
            "/bucket?delete"
        );
    }
}
