//! Integrity checksums of request bodies (`checksumalgorithm`): `Content-MD5`,
//! which every S3 server understands, or one of the `x-amz-checksum-*`
//! headers (CRC32, CRC32C, SHA-256, CRC64/NVME), which AWS and newer servers
//! check. A server that verifies them refuses a body corrupted on the way
//! instead of storing it. The CRCs are table-driven and reflected, as S3
//! defines them; values are base64 of the big-endian checksum.

use base64::Engine as _;
use md5::{Digest as _, Md5};

use crate::config::ChecksumAlgorithm;

/// CRC tables of a reflected polynomial, built at compile time. A 32-bit
/// polynomial's table is the 64-bit computation's low half: shifting right
/// never brings a high bit in.
const fn table32(poly: u32) -> [u32; 256] {
    let wide = table64(poly as u64);
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = wide[i] as u32;
        i += 1;
    }
    t
}

const fn table64(poly: u64) -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

/// CRC-32 (ISO-HDLC, zlib's), reflected polynomial.
static CRC32: [u32; 256] = table32(0xEDB8_8320);
/// CRC-32C (Castagnoli).
static CRC32C: [u32; 256] = table32(0x82F6_3B78);
/// CRC-64/NVME, reflected polynomial of 0xAD93D23594C93659.
static CRC64NVME: [u64; 256] = table64(0x9A6C_9329_AC4B_C9B5);

fn crc32_with(table: &[u32; 256], data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

fn crc64nvme(data: &[u8]) -> u64 {
    !data.iter().fold(!0u64, |c, &b| {
        CRC64NVME[((c ^ u64::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// S3's name in `x-amz-checksum-algorithm` (`CRC32`...); none for MD5.
pub fn amz_name(a: ChecksumAlgorithm) -> Option<&'static str> {
    match a {
        ChecksumAlgorithm::None | ChecksumAlgorithm::Md5 => None,
        ChecksumAlgorithm::Crc32 => Some("CRC32"),
        ChecksumAlgorithm::Crc32c => Some("CRC32C"),
        ChecksumAlgorithm::Sha256 => Some("SHA256"),
        ChecksumAlgorithm::Crc64Nvme => Some("CRC64NVME"),
    }
}

/// The element of a part's checksum in CompleteMultipartUpload
/// (`ChecksumCRC32`...).
pub fn xml_element(a: ChecksumAlgorithm) -> Option<&'static str> {
    amz_name(a).map(|n| match n {
        "CRC32" => "ChecksumCRC32",
        "CRC32C" => "ChecksumCRC32C",
        "SHA256" => "ChecksumSHA256",
        _ => "ChecksumCRC64NVME",
    })
}

/// The header and value that protect `body`, if any.
pub fn header(a: ChecksumAlgorithm, body: &[u8]) -> Option<(&'static str, String)> {
    Some(match a {
        ChecksumAlgorithm::None => return None,
        ChecksumAlgorithm::Md5 => ("content-md5", b64(&Md5::digest(body))),
        ChecksumAlgorithm::Crc32 => (
            "x-amz-checksum-crc32",
            b64(&crc32_with(&CRC32, body).to_be_bytes()),
        ),
        ChecksumAlgorithm::Crc32c => (
            "x-amz-checksum-crc32c",
            b64(&crc32_with(&CRC32C, body).to_be_bytes()),
        ),
        ChecksumAlgorithm::Sha256 => {
            use sha2_simd::Digest as _;
            (
                "x-amz-checksum-sha256",
                b64(&sha2_simd::Sha256::digest(body)),
            )
        }
        ChecksumAlgorithm::Crc64Nvme => (
            "x-amz-checksum-crc64nvme",
            b64(&crc64nvme(body).to_be_bytes()),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be32(v: &str) -> u32 {
        let b = base64::engine::general_purpose::STANDARD.decode(v).unwrap();
        u32::from_be_bytes(b.try_into().unwrap())
    }

    // The catalogue's check values (CRC RevEng): the CRC of "123456789".
    #[test]
    fn crcs_give_the_catalogue_check_values() {
        let check = b"123456789";
        assert_eq!(crc32_with(&CRC32, check), 0xCBF4_3926);
        assert_eq!(crc32_with(&CRC32C, check), 0xE306_9283);
        assert_eq!(crc64nvme(check), 0xAE8B_1486_0A79_9888);
        let (name, v) = header(ChecksumAlgorithm::Crc32, check).unwrap();
        assert_eq!((name, be32(&v)), ("x-amz-checksum-crc32", 0xCBF4_3926));
    }

    // The empty body: MD5 and SHA-256 of nothing, and a zero CRC.
    #[test]
    fn headers_carry_base64_of_the_big_endian_value() {
        assert_eq!(
            header(ChecksumAlgorithm::Md5, b"").unwrap(),
            ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==".to_owned())
        );
        assert_eq!(
            header(ChecksumAlgorithm::Sha256, b"").unwrap().1,
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(header(ChecksumAlgorithm::Crc32, b"").unwrap().1, "AAAAAA==");
        assert_eq!(header(ChecksumAlgorithm::None, b"x"), None);
    }

    #[test]
    fn multipart_names() {
        assert_eq!(amz_name(ChecksumAlgorithm::Md5), None);
        assert_eq!(
            xml_element(ChecksumAlgorithm::Crc64Nvme),
            Some("ChecksumCRC64NVME")
        );
    }
}
