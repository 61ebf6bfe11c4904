//! SigV4 with a chunked payload signature (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`,
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html>):
//! the body goes out `aws-chunked`, each chunk signed over its own hash and
//! the previous chunk's signature. Nothing needs the whole body's hash
//! before the first byte is sent, so the component hashes chunk k+1 while
//! the host sends chunk k; in wasm, where SHA-256 is the largest cost of a
//! signed upload, that takes the hash off the transfer's critical path.

use super::v4_primitives::{ALGORITHM, EMPTY_SHA256, hex32, hmac};
use crate::digest::BodyHasher;
use crate::transport::BodyPiece;

/// `x-amz-content-sha256` of a body sent in signed chunks.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// What each chunk carries (the last one less). Measured with
/// `s3-driver bench --rows PutGet` on radosgw and the embedded server: large
/// enough that the per-chunk signature and write cost nothing, small enough
/// that the host always holds the previous chunk while this one is hashed.
pub const CHUNK_SIZE: usize = 256 * 1024;
/// The smallest body worth sending in chunks: below it the hash takes less
/// than the chunk signatures and frames save.
pub const MIN_BODY: usize = 1024 * 1024;
/// Closes every chunk.
const CRLF: &[u8] = b"\r\n";

/// The `content-length` of `len` body bytes sent in chunks of `chunk`:
/// every chunk's header (`hex size;chunk-signature=<64 hex>\r\n`), its data
/// and `\r\n`, then the empty final chunk.
pub fn encoded_length(len: usize, chunk: usize) -> usize {
    let frame = |size: usize| format!("{size:x}").len() + ";chunk-signature=".len() + 64 + 4;
    let full = len / chunk;
    let rest = len % chunk;
    full * (frame(chunk) + chunk) + if rest > 0 { frame(rest) + rest } else { 0 } + frame(0)
}

/// Signs one body's chunks in order, starting from the request's own
/// (seed) signature.
#[derive(Clone)]
pub struct ChunkSigner {
    key: [u8; 32],
    amz_date: String,
    scope: String,
    previous: String,
    hash_chunk: BodyHasher,
}

impl std::fmt::Debug for ChunkSigner {
    // The key is derived from the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ChunkSigner {
    /// A signer after the seed signature `seed` of a request made at
    /// `amz_date` in `scope`, with the day's derived `key`.
    pub(super) fn new(
        key: [u8; 32],
        amz_date: String,
        scope: String,
        seed: String,
        hash_chunk: BodyHasher,
    ) -> Self {
        Self {
            key,
            amz_date,
            scope,
            previous: seed,
            hash_chunk,
        }
    }

    /// The signature of the next chunk, `data` (empty for the final one).
    pub fn sign(&mut self, data: &[u8]) -> String {
        let sts = format!(
            "{ALGORITHM}-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            self.amz_date,
            self.scope,
            self.previous,
            hex32(&(self.hash_chunk)(data))
        );
        self.previous = hex32(&hmac(&self.key, sts.as_bytes()));
        self.previous.clone()
    }
}

/// A body's `aws-chunked` encoding, one chunk at a time: each is hashed and
/// signed only when the transport asks for it, and its data is borrowed
/// from the body, never copied.
#[derive(Debug)]
pub struct ChunkedBody<'a> {
    data: &'a [u8],
    offset: usize,
    chunk: usize,
    signer: ChunkSigner,
    finished: bool,
}

impl<'a> ChunkedBody<'a> {
    /// The chunks of `data`, `chunk` bytes each, signed by `signer`.
    pub fn new(data: &'a [u8], chunk: usize, signer: ChunkSigner) -> Self {
        Self {
            data,
            offset: 0,
            chunk: chunk.max(1),
            signer,
            finished: false,
        }
    }
}

impl<'a> Iterator for ChunkedBody<'a> {
    type Item = BodyPiece<'a>;

    fn next(&mut self) -> Option<BodyPiece<'a>> {
        if self.finished {
            return None;
        }
        let end = self.data.len().min(self.offset + self.chunk);
        let data = &self.data[self.offset..end];
        self.offset = end;
        self.finished = data.is_empty();
        let signature = self.signer.sign(data);
        let head = format!("{:x};chunk-signature={signature}\r\n", data.len());
        Some(BodyPiece {
            head: head.into_bytes(),
            data,
            tail: CRLF,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::v4::CanonicalInput;
    use crate::time::UtcDateTime;

    /// The S3 documentation's chunked upload: 66560 bytes of `a` in 64 KiB
    /// chunks, with the documentation's signer (AKIAIOSFODNN7EXAMPLE,
    /// us-east-1).
    use crate::sign::v4::tests::s3_doc_signer as doc_signer;

    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

    #[test]
    fn aws_doc_seed_signature() {
        let headers: Vec<(String, String)> = [
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", STREAMING_PAYLOAD),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("content-length", "66824"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let auth = doc_signer().authorize(
            UtcDateTime::parse_amz_date("20130524T000000Z").unwrap(),
            &CanonicalInput {
                method: "PUT",
                path: "/examplebucket/chunkObject.txt",
                query: &[],
                headers: &headers,
                payload_hash: STREAMING_PAYLOAD,
            },
        );
        assert!(auth.authorization.ends_with(&format!("Signature={SEED}")));
        assert_eq!(encoded_length(66560, 64 * 1024), 66824);
    }

    #[test]
    fn aws_doc_chunk_signatures_and_encoding() {
        let signer = doc_signer().chunk_signer(
            UtcDateTime::parse_amz_date("20130524T000000Z").unwrap(),
            SEED.into(),
        );
        let data = vec![b'a'; 66560];
        let mut encoded = Vec::new();
        for piece in ChunkedBody::new(&data, 64 * 1024, signer) {
            encoded.extend_from_slice(&piece.head);
            encoded.extend_from_slice(piece.data);
            encoded.extend_from_slice(piece.tail);
        }
        let mut want = Vec::new();
        want.extend_from_slice(b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n");
        want.extend_from_slice(&data[..65536]);
        want.extend_from_slice(b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n");
        want.extend_from_slice(&data[65536..]);
        want.extend_from_slice(b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n");
        // Not assert_eq: a mismatch would print 130 KiB of bytes.
        assert!(
            encoded == want,
            "the encoding differs from the documented one"
        );
        assert_eq!(encoded.len(), encoded_length(66560, 64 * 1024));
    }

    #[test]
    fn the_request_carries_the_lengths_and_declares_the_encoding_only_when_asked() {
        let at = UtcDateTime::parse_amz_date("20130524T000000Z").unwrap();
        for declare in [false, true] {
            let mut req = crate::transport::Request {
                method: "PUT",
                secure: false,
                authority: "127.0.0.1:7480".into(),
                path: "/bucket/key".into(),
                query: Vec::new(),
                headers: vec![("content-length".into(), "66560".into())],
            };
            doc_signer().sign_streaming(at, &mut req, (66560, 64 * 1024), declare);
            let get = |k: &str| {
                req.headers
                    .iter()
                    .filter(|(n, _)| n == k)
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
            };
            assert_eq!(get("content-length"), ["66824"]);
            assert_eq!(get("x-amz-decoded-content-length"), ["66560"]);
            assert_eq!(get("x-amz-content-sha256"), [STREAMING_PAYLOAD]);
            let encoding: &[&str] = if declare { &["aws-chunked"] } else { &[] };
            assert_eq!(get("content-encoding"), encoding);
            let auth = get("authorization")[0];
            assert_eq!(auth.contains("content-encoding;"), declare, "{auth}");
        }
    }

    #[test]
    fn encoded_lengths_count_every_frame() {
        for (len, chunk) in [
            (0, 8192),
            (1, 8192),
            (8192, 8192),
            (8193, 8192),
            (1 << 20, 256 << 10),
        ] {
            let signer = doc_signer().chunk_signer(UtcDateTime::default(), SEED.into());
            let data = vec![0u8; len];
            let total: usize = ChunkedBody::new(&data, chunk, signer)
                .map(|p| p.head.len() + p.data.len() + p.tail.len())
                .sum();
            assert_eq!(total, encoded_length(len, chunk), "{len} in {chunk}");
        }
    }
}
