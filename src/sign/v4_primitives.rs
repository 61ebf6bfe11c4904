//! What SigV4's request signer and its chunk signer share: the algorithm
//! name, the empty body's hash, HMAC-SHA256 and hex. Its own file, so the
//! two signers depend on it and never on each other.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The algorithm named in every SigV4 string to sign.
pub(super) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Lower-case hex of a 32-byte digest or signature, written through a
/// fixed buffer (`hex::encode` builds its string a character at a time,
/// and a request needs three of these).
pub(super) fn hex32(bytes: &[u8; 32]) -> String {
    let mut buf = [0u8; 64];
    hex::encode_to_slice(bytes, &mut buf).expect("64 hex digits for 32 bytes");
    std::str::from_utf8(&buf)
        .expect("hex digits are ASCII")
        .to_owned()
}

/// HMAC-SHA256 of `data` under `key`.
pub(super) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}
