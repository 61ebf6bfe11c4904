//! S3's XML replies, deserialised with `quick-xml` + `serde`. Unknown elements
//! and the namespace attribute are ignored; a missing required element is an
//! error naming the reply.

use quick_xml::events::Event;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// `<Error>`: the body of every S3 error reply.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    /// `NoSuchKey`, `AccessDenied`, ...
    #[serde(default)]
    pub code: String,
    /// Human-readable text.
    #[serde(default)]
    pub message: String,
    /// The request id.
    #[serde(default)]
    pub request_id: String,
}

/// One object of a listing.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ListedObject {
    /// The key.
    pub key: String,
    /// ISO-8601 modification time.
    #[serde(default)]
    pub last_modified: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
}

/// One common prefix of a delimiter listing.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct CommonPrefix {
    /// The prefix, ending with the delimiter.
    pub prefix: String,
}

/// `<ListBucketResult>` of ListObjectsV2.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ListBucketResult {
    /// Objects on this page.
    #[serde(default)]
    pub contents: Vec<ListedObject>,
    /// Directories on this page (delimiter listings).
    #[serde(default)]
    pub common_prefixes: Vec<CommonPrefix>,
    /// More pages follow.
    #[serde(default)]
    pub is_truncated: bool,
    /// Token for the next page.
    #[serde(default)]
    pub next_continuation_token: Option<String>,
}

/// A key that DeleteObjects reports as failed.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteError {
    /// The key.
    #[serde(default)]
    pub key: String,
    /// The S3 code.
    #[serde(default)]
    pub code: String,
    /// The message.
    #[serde(default)]
    pub message: String,
}

/// `<DeleteResult>` of DeleteObjects.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteResult {
    /// Keys that could not be deleted.
    #[serde(default, rename = "Error")]
    pub errors: Vec<DeleteError>,
}

/// `<InitiateMultipartUploadResult>`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct InitiateMultipartUploadResult {
    /// The new upload's id.
    pub upload_id: String,
}

/// One upload of ListMultipartUploads.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Upload {
    /// The key being uploaded.
    pub key: String,
    /// Its upload id.
    pub upload_id: String,
    /// When it was started (ISO 8601), if the server says.
    #[serde(default)]
    pub initiated: Option<String>,
}

/// `<ListMultipartUploadsResult>`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ListMultipartUploadsResult {
    /// Uploads on this page.
    #[serde(default, rename = "Upload")]
    pub uploads: Vec<Upload>,
    /// More pages follow.
    #[serde(default)]
    pub is_truncated: bool,
    /// Key marker of the next page.
    #[serde(default)]
    pub next_key_marker: Option<String>,
    /// Upload-id marker of the next page.
    #[serde(default)]
    pub next_upload_id_marker: Option<String>,
}

/// One part of ListParts.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Part {
    /// 1-based number.
    pub part_number: u32,
    /// Its ETag.
    #[serde(rename = "ETag")]
    pub etag: String,
    /// Its size.
    pub size: u64,
    /// Its CRC32, when the upload has that checksum algorithm.
    #[serde(default, rename = "ChecksumCRC32")]
    pub checksum_crc32: Option<String>,
    /// Its CRC32C.
    #[serde(default, rename = "ChecksumCRC32C")]
    pub checksum_crc32c: Option<String>,
    /// Its SHA-256.
    #[serde(default, rename = "ChecksumSHA256")]
    pub checksum_sha256: Option<String>,
    /// Its CRC64/NVME.
    #[serde(default, rename = "ChecksumCRC64NVME")]
    pub checksum_crc64nvme: Option<String>,
}

/// `<ListPartsResult>`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ListPartsResult {
    /// Parts on this page.
    #[serde(default, rename = "Part")]
    pub parts: Vec<Part>,
    /// More pages follow.
    #[serde(default)]
    pub is_truncated: bool,
    /// Marker of the next page.
    #[serde(default)]
    pub next_part_number_marker: Option<u32>,
}

/// `<CopyPartResult>` / `<CopyObjectResult>`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct CopyResult {
    /// ETag of the copy.
    #[serde(rename = "ETag")]
    pub etag: String,
    /// Its CRC32, when the upload has that checksum algorithm.
    #[serde(default, rename = "ChecksumCRC32")]
    pub checksum_crc32: Option<String>,
    /// Its CRC32C.
    #[serde(default, rename = "ChecksumCRC32C")]
    pub checksum_crc32c: Option<String>,
    /// Its SHA-256.
    #[serde(default, rename = "ChecksumSHA256")]
    pub checksum_sha256: Option<String>,
    /// Its CRC64/NVME.
    #[serde(default, rename = "ChecksumCRC64NVME")]
    pub checksum_crc64nvme: Option<String>,
}

/// A part's `x-amz-checksum-*` values as ListParts or UploadPartCopy give
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartChecksums {
    /// CRC32.
    pub checksum_crc32: Option<String>,
    /// CRC32C.
    pub checksum_crc32c: Option<String>,
    /// SHA-256.
    pub checksum_sha256: Option<String>,
    /// CRC64/NVME.
    pub checksum_crc64nvme: Option<String>,
}

impl From<&Part> for PartChecksums {
    fn from(p: &Part) -> Self {
        Self {
            checksum_crc32: p.checksum_crc32.clone(),
            checksum_crc32c: p.checksum_crc32c.clone(),
            checksum_sha256: p.checksum_sha256.clone(),
            checksum_crc64nvme: p.checksum_crc64nvme.clone(),
        }
    }
}

impl From<&CopyResult> for PartChecksums {
    fn from(p: &CopyResult) -> Self {
        Self {
            checksum_crc32: p.checksum_crc32.clone(),
            checksum_crc32c: p.checksum_crc32c.clone(),
            checksum_sha256: p.checksum_sha256.clone(),
            checksum_crc64nvme: p.checksum_crc64nvme.clone(),
        }
    }
}

/// `<CompleteMultipartUploadResult>`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct CompleteMultipartUploadResult {
    /// The object's ETag (`"<md5 of part md5s>-<parts>"`).
    #[serde(default, rename = "ETag")]
    pub etag: String,
}

/// The name of the document's root element, if it has one.
pub fn root_name(body: &[u8]) -> Option<String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                return Some(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
            }
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => buf.clear(),
        }
    }
}

/// Parses a reply whose root must be `root`; `what` names it in errors.
pub fn parse<T: DeserializeOwned>(body: &[u8], root: &str, what: &str) -> Result<T> {
    let malformed = |detail: String| Error::MalformedResponse(format!("{what}: {detail}"));
    match root_name(body) {
        Some(name) if name == root => {}
        Some(name) => return Err(malformed(format!("expected <{root}>, got <{name}>"))),
        None => return Err(malformed(format!("expected <{root}>, got no XML document"))),
    }
    let text = std::str::from_utf8(body).map_err(|_| malformed("reply is not UTF-8".into()))?;
    quick_xml::de::from_str(text).map_err(|e| malformed(e.to_string()))
}

/// Parses an `<Error>` body; `None` when the body is something else.
pub fn parse_error(body: &[u8]) -> Option<ErrorBody> {
    if root_name(body).as_deref() != Some("Error") {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    quick_xml::de::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The S3 API reference's ListObjectsV2 example, with a namespace.
    const LIST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
    <Name>bucket</Name>
    <Prefix/>
    <KeyCount>205</KeyCount>
    <MaxKeys>1000</MaxKeys>
    <IsTruncated>true</IsTruncated>
    <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
    <Contents>
        <Key>my-image.jpg</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>"fba9dede5f27731c9771645a39863328"</ETag>
        <Size>434234</Size>
        <StorageClass>STANDARD</StorageClass>
    </Contents>
    <Contents>
        <Key>my-zipped-file.gz</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <Size>0</Size>
    </Contents>
    <CommonPrefixes><Prefix>photos/</Prefix></CommonPrefixes>
</ListBucketResult>"#;

    #[test]
    fn list_objects_v2_reply() {
        let r: ListBucketResult = parse(LIST.as_bytes(), "ListBucketResult", "list").unwrap();
        assert_eq!(r.contents.len(), 2);
        assert_eq!(r.contents[0].key, "my-image.jpg");
        assert_eq!(r.contents[0].size, 434_234);
        assert!(r.is_truncated);
        assert_eq!(
            r.next_continuation_token.as_deref(),
            Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        );
        assert_eq!(r.common_prefixes[0].prefix, "photos/");
    }

    #[test]
    fn empty_listing() {
        let r: ListBucketResult = parse(
            b"<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>",
            "ListBucketResult",
            "list",
        )
        .unwrap();
        assert!(r.contents.is_empty() && !r.is_truncated);
    }

    /// The S3 documentation's error example.
    #[test]
    fn error_reply() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The resource you requested does not exist</Message>
  <Resource>/mybucket/myfoto.jpg</Resource>
  <RequestId>4442587FB7D0A2F9</RequestId>
</Error>"#;
        let e = parse_error(body).unwrap();
        assert_eq!(e.code, "NoSuchKey");
        assert_eq!(e.request_id, "4442587FB7D0A2F9");
    }

    #[test]
    fn unrelated_documents_are_not_errors() {
        assert_eq!(parse_error(LIST.as_bytes()), None);
        assert_eq!(parse_error(b"not xml at all"), None);
        assert_eq!(parse_error(b""), None);
    }

    #[test]
    fn wrong_or_broken_replies_are_malformed() {
        let e = parse::<ListBucketResult>(b"<Foo/>", "ListBucketResult", "list").unwrap_err();
        assert_eq!(
            e,
            Error::MalformedResponse("list: expected <ListBucketResult>, got <Foo>".into())
        );
        assert!(matches!(
            parse::<ListBucketResult>(b"", "ListBucketResult", "list"),
            Err(Error::MalformedResponse(_))
        ));
        assert!(matches!(
            parse::<ListBucketResult>(
                b"<ListBucketResult><Contents><Size>x</Size></Contents></ListBucketResult>",
                "ListBucketResult",
                "list"
            ),
            Err(Error::MalformedResponse(_))
        ));
    }

    #[test]
    fn delete_result_with_errors() {
        let body = br#"<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Deleted><Key>sample1.txt</Key></Deleted>
  <Error><Key>sample2.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
</DeleteResult>"#;
        let r: DeleteResult = parse(body, "DeleteResult", "delete").unwrap();
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].code, "AccessDenied");
    }

    #[test]
    fn multipart_replies() {
        let r: InitiateMultipartUploadResult = parse(
            b"<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2Fk</UploadId></InitiateMultipartUploadResult>",
            "InitiateMultipartUploadResult",
            "create",
        )
        .unwrap();
        assert_eq!(r.upload_id, "VXBsb2Fk");
        let r: ListPartsResult = parse(
            br#"<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker>
<Part><PartNumber>1</PartNumber><ETag>"a"</ETag><Size>5242880</Size></Part>
<Part><PartNumber>2</PartNumber><ETag>"b"</ETag><Size>10</Size><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></ListPartsResult>"#,
            "ListPartsResult",
            "parts",
        )
        .unwrap();
        assert_eq!(r.parts.len(), 2);
        assert_eq!(r.next_part_number_marker, Some(2));
        // A part's checksum sits beside its numbers (serde's flatten cannot
        // read it with quick-xml, hence the fields in each reply type).
        assert_eq!(r.parts[0].checksum_crc32, None);
        assert_eq!(r.parts[1].checksum_crc32.as_deref(), Some("AAAAAA=="));
        assert_eq!(
            PartChecksums::from(&r.parts[1]).checksum_crc32.as_deref(),
            Some("AAAAAA==")
        );
        let r: ListMultipartUploadsResult = parse(
            b"<ListMultipartUploadsResult><Upload><Key>k</Key><UploadId>u</UploadId></Upload><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>",
            "ListMultipartUploadsResult",
            "uploads",
        )
        .unwrap();
        assert_eq!(r.uploads[0].upload_id, "u");
    }
}
