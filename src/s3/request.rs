//! One function per S3 operation: each builds an unsigned [`Request`] (and its
//! body, where it has one). Nothing here sends or signs.

use base64::Engine;
use md5::{Digest, Md5};

use crate::config::ChecksumAlgorithm;
use crate::s3::checksum;

use super::endpoint::Endpoint;
use crate::config::Config;
use crate::transport::Request;

/// Every object this driver writes has this content type, as in the reference.
pub const CONTENT_TYPE: &str = "application/octet-stream";

/// S3's page size, and the most keys one DeleteObjects takes.
pub const LIST_MAX: u32 = 1000;

/// Parameters of a ListObjectsV2 call.
#[derive(Debug, Clone, Default)]
pub struct ListObjects<'a> {
    /// Key prefix.
    pub prefix: &'a str,
    /// `/` for a directory listing; none for a flat one.
    pub delimiter: Option<&'a str>,
    /// At most 1000.
    pub max_keys: u32,
    /// From the previous page.
    pub continuation_token: Option<&'a str>,
    /// List keys after this one.
    pub start_after: Option<&'a str>,
}

/// A part of a multipart upload, as CompleteMultipartUpload wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    /// 1-based part number.
    pub number: u32,
    /// The ETag UploadPart returned.
    pub etag: String,
    /// Its `x-amz-checksum-*` value, when the upload has a checksum algorithm.
    pub checksum: Option<String>,
}

/// Builds requests for one bucket with the configuration's write headers.
#[derive(Debug, Clone)]
pub struct Requests {
    endpoint: Endpoint,
    /// Headers every object write carries: ACL, SSE, storage class.
    write_headers: Vec<(String, String)>,
    user_agent: String,
    /// The integrity header of bodies (`checksumalgorithm`).
    checksum: ChecksumAlgorithm,
}

fn escape_xml(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

impl Requests {
    /// Builders for the configured bucket.
    pub fn new(endpoint: Endpoint, cfg: &Config) -> Self {
        let mut write_headers = vec![("x-amz-acl".to_owned(), cfg.object_acl.clone())];
        if cfg.encrypt {
            let sse = if cfg.key_id.is_some() {
                "aws:kms"
            } else {
                "AES256"
            };
            write_headers.push(("x-amz-server-side-encryption".into(), sse.into()));
        }
        // The reference sends the key id whenever it is set.
        if let Some(id) = &cfg.key_id {
            write_headers.push((
                "x-amz-server-side-encryption-aws-kms-key-id".into(),
                id.clone(),
            ));
        }
        if let Some(class) = &cfg.storage_class {
            write_headers.push(("x-amz-storage-class".into(), class.clone()));
        }
        let mut user_agent = format!("s3-storage-driver-wasm/{}", env!("CARGO_PKG_VERSION"));
        if let Some(extra) = &cfg.user_agent {
            user_agent.push(' ');
            user_agent.push_str(extra);
        }
        Self {
            endpoint,
            write_headers,
            user_agent,
            checksum: cfg.checksum,
        }
    }

    /// Adds `checksumalgorithm`'s header for `body`; returns the value a
    /// multipart upload's Complete lists for the part (none for MD5).
    fn protect(&self, r: &mut Request, body: &[u8]) -> Option<String> {
        let (name, value) = checksum::header(self.checksum, body)?;
        r.header(name, value.clone());
        checksum::amz_name(self.checksum).map(|_| value)
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn request(
        &self,
        method: &'static str,
        (authority, path): (String, String),
        query: Vec<(String, String)>,
    ) -> Request {
        Request {
            method,
            secure: self.endpoint.secure,
            authority,
            path,
            query,
            headers: vec![("user-agent".into(), self.user_agent.clone())],
        }
    }

    fn object(&self, method: &'static str, key: &str, query: Vec<(String, String)>) -> Request {
        self.request(method, self.endpoint.object(key), query)
    }

    fn bucket(&self, method: &'static str, query: Vec<(String, String)>) -> Request {
        self.request(method, self.endpoint.bucket(), query)
    }

    fn with_write_headers(&self, mut r: Request) -> Request {
        r.header("content-type", CONTENT_TYPE);
        r.headers.extend(self.write_headers.iter().cloned());
        r
    }

    /// PutObject of `body`, with its integrity header.
    pub fn put_object(&self, key: &str, body: &[u8]) -> Request {
        let mut r = self.with_write_headers(self.object("PUT", key, vec![]));
        r.header("content-length", body.len().to_string());
        self.protect(&mut r, body);
        r
    }

    /// GetObject from `offset` to the end (the reference always sends a Range).
    pub fn get_object(&self, key: &str, offset: u64) -> Request {
        let mut r = self.object("GET", key, vec![]);
        r.header("range", format!("bytes={offset}-"));
        r
    }

    /// DeleteObject.
    pub fn delete_object(&self, key: &str) -> Request {
        self.object("DELETE", key, vec![])
    }

    /// HeadObject.
    pub fn head_object(&self, key: &str) -> Request {
        self.object("HEAD", key, vec![])
    }

    /// ListObjectsV2. `start-after` is sent only when given (SeaweedFS breaks on an empty one).
    pub fn list_objects_v2(&self, p: &ListObjects<'_>) -> Request {
        let mut q = vec![
            ("list-type".to_owned(), "2".to_owned()),
            ("prefix".to_owned(), p.prefix.to_owned()),
            ("max-keys".to_owned(), p.max_keys.to_string()),
        ];
        if let Some(d) = p.delimiter {
            q.push(("delimiter".into(), d.into()));
        }
        if let Some(t) = p.continuation_token {
            q.push(("continuation-token".into(), t.into()));
        }
        if let Some(s) = p.start_after.filter(|s| !s.is_empty()) {
            q.push(("start-after".into(), s.into()));
        }
        self.bucket("GET", q)
    }

    /// DeleteObjects for up to 1000 keys, not quiet (errors are reported per key).
    pub fn delete_objects(&self, keys: &[String]) -> (Request, Vec<u8>) {
        let mut body = String::from("<Delete><Quiet>false</Quiet>");
        for k in keys {
            body.push_str("<Object><Key>");
            body.push_str(&escape_xml(k));
            body.push_str("</Key></Object>");
        }
        body.push_str("</Delete>");
        let mut r = self.bucket("POST", vec![("delete".into(), String::new())]);
        // S3 requires an integrity header on DeleteObjects.
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(body.as_bytes()));
        r.header("content-md5", md5);
        r.header("content-type", "application/xml");
        r.header("content-length", body.len().to_string());
        (r, body.into_bytes())
    }

    /// CreateMultipartUpload with every write setting (the KMS key id
    /// included) and, for a writer's upload, the checksum algorithm its
    /// parts carry (CRC64/NVME is a full-object checksum).
    pub fn create_multipart_upload(&self, key: &str, for_writer: bool) -> Request {
        let mut r = self.with_write_headers(self.object(
            "POST",
            key,
            vec![("uploads".into(), String::new())],
        ));
        r.header("content-length", "0");
        if for_writer && let Some(name) = checksum::amz_name(self.checksum) {
            r.header("x-amz-checksum-algorithm", name);
            if self.checksum == ChecksumAlgorithm::Crc64Nvme {
                r.header("x-amz-checksum-type", "FULL_OBJECT");
            }
        }
        r
    }

    /// UploadPart `number` (1-based) of `body`, with its integrity header;
    /// also the part's checksum value for Complete.
    pub fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        body: &[u8],
    ) -> (Request, Option<String>) {
        let mut r = self.object(
            "PUT",
            key,
            vec![
                ("partNumber".into(), number.to_string()),
                ("uploadId".into(), upload_id.into()),
            ],
        );
        r.header("content-length", body.len().to_string());
        let checksum = self.protect(&mut r, body);
        (r, checksum)
    }

    /// The checksum value of `checksumalgorithm` among a listed part's or a
    /// copied part's values.
    pub fn pick_checksum(&self, values: &crate::s3::xml::PartChecksums) -> Option<String> {
        match self.checksum {
            ChecksumAlgorithm::None | ChecksumAlgorithm::Md5 => None,
            ChecksumAlgorithm::Crc32 => values.checksum_crc32.clone(),
            ChecksumAlgorithm::Crc32c => values.checksum_crc32c.clone(),
            ChecksumAlgorithm::Sha256 => values.checksum_sha256.clone(),
            ChecksumAlgorithm::Crc64Nvme => values.checksum_crc64nvme.clone(),
        }
    }

    /// UploadPartCopy of `range` (inclusive byte range) of `source_key`, or the whole object.
    pub fn upload_part_copy(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        source_key: &str,
        range: Option<(u64, u64)>,
    ) -> Request {
        let mut r = self.object(
            "PUT",
            key,
            vec![
                ("partNumber".into(), number.to_string()),
                ("uploadId".into(), upload_id.into()),
            ],
        );
        r.header("x-amz-copy-source", self.copy_source(source_key));
        if let Some((first, last)) = range {
            r.header("x-amz-copy-source-range", format!("bytes={first}-{last}"));
        }
        r.header("content-length", "0");
        r
    }

    /// CompleteMultipartUpload with `parts` in part-number order.
    pub fn complete_multipart_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> (Request, Vec<u8>) {
        let mut sorted = parts.to_vec();
        sorted.sort_by_key(|p| p.number);
        let mut body = String::from("<CompleteMultipartUpload>");
        let element = checksum::xml_element(self.checksum);
        for p in &sorted {
            body.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag>",
                p.number,
                escape_xml(&p.etag)
            ));
            if let (Some(e), Some(v)) = (element, &p.checksum) {
                body.push_str(&format!("<{e}>{}</{e}>", escape_xml(v)));
            }
            body.push_str("</Part>");
        }
        body.push_str("</CompleteMultipartUpload>");
        let mut r = self.object("POST", key, vec![("uploadId".into(), upload_id.into())]);
        r.header("content-type", "application/xml");
        r.header("content-length", body.len().to_string());
        (r, body.into_bytes())
    }

    /// AbortMultipartUpload.
    pub fn abort_multipart_upload(&self, key: &str, upload_id: &str) -> Request {
        self.object("DELETE", key, vec![("uploadId".into(), upload_id.into())])
    }

    /// ListMultipartUploads under `prefix`, paginated by both markers.
    pub fn list_multipart_uploads(
        &self,
        prefix: &str,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
    ) -> Request {
        let mut q = vec![
            ("uploads".to_owned(), String::new()),
            ("prefix".to_owned(), prefix.to_owned()),
        ];
        if let Some(k) = key_marker {
            q.push(("key-marker".into(), k.into()));
        }
        if let Some(u) = upload_id_marker {
            q.push(("upload-id-marker".into(), u.into()));
        }
        self.bucket("GET", q)
    }

    /// ListParts of an upload from `part_number_marker`.
    pub fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
        part_number_marker: Option<u32>,
    ) -> Request {
        let mut q = vec![("uploadId".to_owned(), upload_id.to_owned())];
        if let Some(m) = part_number_marker {
            q.push(("part-number-marker".into(), m.to_string()));
        }
        self.object("GET", key, q)
    }

    /// CopyObject from `source_key` with every write setting.
    pub fn copy_object(&self, source_key: &str, key: &str) -> Request {
        let mut r = self.with_write_headers(self.object("PUT", key, vec![]));
        r.header("x-amz-copy-source", self.copy_source(source_key));
        r.header("content-length", "0");
        r
    }

    fn copy_source(&self, key: &str) -> String {
        format!(
            "/{}/{}",
            self.endpoint.bucket,
            crate::url::uri_encode(key, true)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Value;

    fn requests(extra: &[(&str, &str)]) -> Requests {
        let mut p: Vec<(String, Value)> = vec![
            ("accesskey".into(), Value::Text("AK".into())),
            ("secretkey".into(), Value::Text("SK".into())),
            ("bucket".into(), Value::Text("registry".into())),
            (
                "regionendpoint".into(),
                Value::Text("http://127.0.0.1:9000".into()),
            ),
        ];
        for (k, v) in extra {
            p.push(((*k).into(), Value::Text((*v).into())));
        }
        let cfg = Config::from_params(&p).unwrap();
        Requests::new(Endpoint::from_config(&cfg).unwrap(), &cfg)
    }

    fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn writes_carry_acl_encryption_and_storage_class() {
        let r = requests(&[
            ("encrypt", "true"),
            ("keyid", "k-1"),
            ("storageclass", "REDUCED_REDUNDANCY"),
        ])
        .put_object("a/b", b"abc");
        assert_eq!(r.method, "PUT");
        assert_eq!(r.url(), "http://127.0.0.1:9000/registry/a/b");
        assert_eq!(header(&r, "x-amz-server-side-encryption"), Some("aws:kms"));
        assert_eq!(
            header(&r, "x-amz-server-side-encryption-aws-kms-key-id"),
            Some("k-1")
        );
        assert_eq!(
            header(&r, "x-amz-storage-class"),
            Some("REDUCED_REDUNDANCY")
        );
        assert_eq!(header(&r, "x-amz-acl"), Some("private"));
        assert_eq!(header(&r, "content-type"), Some(CONTENT_TYPE));
        assert_eq!(header(&r, "content-length"), Some("3"));
    }

    #[test]
    fn storage_class_none_and_no_encryption_send_no_headers() {
        let r = requests(&[("storageclass", "NONE")]).put_object("a", b"");
        assert_eq!(header(&r, "x-amz-storage-class"), None);
        assert_eq!(header(&r, "x-amz-server-side-encryption"), None);
    }

    #[test]
    fn multipart_creation_keeps_the_kms_key_id() {
        let r =
            requests(&[("encrypt", "true"), ("keyid", "k-1")]).create_multipart_upload("a", true);
        assert_eq!(r.url(), "http://127.0.0.1:9000/registry/a?uploads=");
        assert_eq!(
            header(&r, "x-amz-server-side-encryption-aws-kms-key-id"),
            Some("k-1")
        );
    }

    #[test]
    fn listings_send_start_after_only_when_given() {
        let rq = requests(&[]);
        let r = rq.list_objects_v2(&ListObjects {
            prefix: "a/",
            delimiter: Some("/"),
            max_keys: 1000,
            ..Default::default()
        });
        assert_eq!(
            r.url(),
            "http://127.0.0.1:9000/registry?delimiter=%2F&list-type=2&max-keys=1000&prefix=a%2F"
        );
        let r = rq.list_objects_v2(&ListObjects {
            prefix: "a/",
            max_keys: 1000,
            start_after: Some(""),
            ..Default::default()
        });
        assert!(!r.url().contains("start-after"));
    }

    #[test]
    fn batch_delete_body_is_escaped_and_checksummed() {
        let (r, body) = requests(&[]).delete_objects(&["a&b".into(), "c".into()]);
        let body = String::from_utf8(body).unwrap();
        assert_eq!(
            body,
            "<Delete><Quiet>false</Quiet><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key></Object></Delete>"
        );
        assert!(header(&r, "content-md5").is_some());
        assert_eq!(r.url(), "http://127.0.0.1:9000/registry?delete=");
    }

    #[test]
    fn complete_sorts_parts() {
        let (_, body) = requests(&[]).complete_multipart_upload(
            "k",
            "u",
            &[
                CompletedPart {
                    number: 2,
                    etag: "\"b\"".into(),
                    checksum: None,
                },
                CompletedPart {
                    number: 1,
                    etag: "\"a\"".into(),
                    checksum: None,
                },
            ],
        );
        let body = String::from_utf8(body).unwrap();
        assert!(body.find("<PartNumber>1").unwrap() < body.find("<PartNumber>2").unwrap());
    }
}
