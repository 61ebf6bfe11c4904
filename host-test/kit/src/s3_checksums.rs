//! The embedded server's own check of request checksums, with crates of its
//! own (`crc-fast` for the CRCs, `md-5` and `sha2` for the digests): an
//! oracle that shares no code with the driver, so a checksum the driver gets
//! wrong is refused (`BadDigest`) instead of agreeing with itself.

use base64::Engine as _;
use crc_fast::CrcAlgorithm;
use sha2::Digest as _;

/// An integrity header a request may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// `Content-MD5`.
    Md5,
    /// `x-amz-checksum-crc32` (CRC-32/ISO-HDLC).
    Crc32,
    /// `x-amz-checksum-crc32c` (CRC-32/ISCSI).
    Crc32c,
    /// `x-amz-checksum-sha256`.
    Sha256,
    /// `x-amz-checksum-crc64nvme` (CRC-64/NVME).
    Crc64Nvme,
}

/// The base64 value `claim` must have for `body`.
pub fn expected(claim: Claim, body: &[u8]) -> String {
    let bytes: Vec<u8> = match claim {
        Claim::Md5 => md5::Md5::digest(body).to_vec(),
        Claim::Sha256 => sha2::Sha256::digest(body).to_vec(),
        Claim::Crc32 => (crc_fast::checksum(CrcAlgorithm::Crc32IsoHdlc, body) as u32)
            .to_be_bytes()
            .to_vec(),
        Claim::Crc32c => (crc_fast::checksum(CrcAlgorithm::Crc32Iscsi, body) as u32)
            .to_be_bytes()
            .to_vec(),
        Claim::Crc64Nvme => crc_fast::checksum(CrcAlgorithm::Crc64Nvme, body)
            .to_be_bytes()
            .to_vec(),
    };
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalogue's check values ("123456789") and AWS's documented
    /// examples, so the oracle itself is known good.
    #[test]
    fn check_values() {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let nine = b"123456789";
        assert_eq!(
            expected(Claim::Crc32, nine),
            b64(&0xCBF4_3926u32.to_be_bytes())
        );
        assert_eq!(
            expected(Claim::Crc32c, nine),
            b64(&0xE306_9283u32.to_be_bytes())
        );
        assert_eq!(
            expected(Claim::Crc64Nvme, nine),
            b64(&0xAE8B_1486_0A79_9888u64.to_be_bytes())
        );
        assert_eq!(expected(Claim::Md5, b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
        assert_eq!(
            expected(Claim::Sha256, b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }
}
