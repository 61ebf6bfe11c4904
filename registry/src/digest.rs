//! Content digests (`sha256:<hex>`, `sha512:<hex>`) and a SHA-256 whose state
//! survives between requests: an upload's chunks arrive in separate requests,
//! possibly at different registry processes, and the digest must not need the
//! whole blob read back. The state is saved in the Go registry's format
//! (`crypto/sha256`'s `MarshalBinary`), so either registry can resume it.

use std::fmt;

use sha2::digest::generic_array::GenericArray;
use sha2::{Digest as _, Sha256, Sha512};

/// A digest algorithm this registry computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// SHA-256, the canonical one.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name in a digest string.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// The algorithm of this name (`digest-algorithm=` takes the same names).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

/// Why a digest string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestError {
    /// Not `algorithm:encoded` by the OCI grammar, or an encoded part of
    /// the wrong form for its algorithm.
    Invalid(String),
    /// A well-formed digest of an algorithm this registry does not compute.
    Unsupported(String),
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DigestError::Invalid(d) => write!(f, "invalid digest {d:?}"),
            DigestError::Unsupported(d) => write!(f, "unsupported digest algorithm in {d:?}"),
        }
    }
}

impl std::error::Error for DigestError {}

/// A content digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

/// The OCI grammar's `algorithm` part: components of `[a-z0-9]+` joined by
/// one of `+._-`.
fn algorithm_grammar(s: &str) -> bool {
    let mut previous_separator = true;
    for c in s.chars() {
        match c {
            'a'..='z' | '0'..='9' => previous_separator = false,
            '+' | '.' | '_' | '-' if !previous_separator => previous_separator = true,
            _ => return false,
        }
    }
    !previous_separator
}

impl Digest {
    /// Parses `algorithm:encoded`.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let invalid = || DigestError::Invalid(s.to_owned());
        let (name, encoded) = s.split_once(':').ok_or_else(invalid)?;
        let encoded_ok = !encoded.is_empty()
            && encoded
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '=' | '_' | '-'));
        if !algorithm_grammar(name) || !encoded_ok {
            return Err(invalid());
        }
        let algorithm = Algorithm::parse(name).ok_or(DigestError::Unsupported(s.to_owned()))?;
        let lower_hex = encoded
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        if encoded.len() != algorithm.hex_len() || !lower_hex {
            return Err(invalid());
        }
        Ok(Self {
            algorithm,
            hex: encoded.to_owned(),
        })
    }

    /// The digest of `bytes` by `algorithm`.
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Self {
        let hex = match algorithm {
            Algorithm::Sha256 => hex::encode(Sha256::digest(bytes)),
            Algorithm::Sha512 => hex::encode(Sha512::digest(bytes)),
        };
        Self { algorithm, hex }
    }

    /// A SHA-256 digest from its 32 bytes.
    pub fn sha256(bytes: [u8; 32]) -> Self {
        Self {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(bytes),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The encoded part (lowercase hex).
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

/// Either hasher, for a body whose algorithm is known only from its request.
pub enum Hasher {
    /// SHA-256.
    Sha256(Box<Sha256>),
    /// SHA-512.
    Sha512(Box<Sha512>),
}

impl Hasher {
    /// A fresh hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Box::default()),
            Algorithm::Sha512 => Hasher::Sha512(Box::default()),
        }
    }

    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything added.
    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest {
                algorithm: Algorithm::Sha256,
                hex: hex::encode(h.finalize()),
            },
            Hasher::Sha512(h) => Digest {
                algorithm: Algorithm::Sha512,
                hex: hex::encode(h.finalize()),
            },
        }
    }
}

const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
/// Go's `crypto/sha256` marshalled-state magic for SHA-256.
const GO_MAGIC_SHA256: &[u8; 4] = b"sha\x03";
/// Magic, eight state words, one block, the length: Go's layout.
const GO_STATE_LEN: usize = 4 + 32 + 64 + 8;

/// A SHA-256 in progress whose state can be saved and restored.
#[derive(Clone, PartialEq, Eq)]
pub struct Sha256State {
    h: [u32; 8],
    block: [u8; 64],
    /// Bytes of `block` in use; always below 64 between calls.
    filled: usize,
    /// Bytes hashed so far.
    len: u64,
}

impl fmt::Debug for Sha256State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sha256State")
            .field("len", &self.len)
            .finish()
    }
}

impl Default for Sha256State {
    fn default() -> Self {
        Self {
            h: SHA256_IV,
            block: [0; 64],
            filled: 0,
            len: 0,
        }
    }
}

impl Sha256State {
    /// Bytes hashed so far: the upload offset this state belongs to.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True before any byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `data`.
    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if self.filled > 0 {
            let take = (64 - self.filled).min(data.len());
            self.block[self.filled..self.filled + take].copy_from_slice(&data[..take]);
            self.filled += take;
            data = &data[take..];
            if self.filled < 64 {
                return;
            }
            sha2::compress256(&mut self.h, &[*GenericArray::from_slice(&self.block)]);
            self.filled = 0;
        }
        let whole = data.len() / 64 * 64;
        if whole > 0 {
            let blocks: Vec<GenericArray<u8, _>> = data[..whole]
                .chunks_exact(64)
                .map(|c| *GenericArray::from_slice(c))
                .collect();
            sha2::compress256(&mut self.h, &blocks);
        }
        let rest = &data[whole..];
        self.block[..rest.len()].copy_from_slice(rest);
        self.filled = rest.len();
    }

    /// The digest of everything added (the state itself is kept).
    pub fn digest(&self) -> Digest {
        let mut s = self.clone();
        let bits = s.len.wrapping_mul(8);
        let mut pad = vec![0x80u8];
        let after = (s.filled + 1) % 64;
        let zeros = if after <= 56 { 56 - after } else { 120 - after };
        pad.resize(1 + zeros, 0);
        pad.extend_from_slice(&bits.to_be_bytes());
        s.update(&pad);
        debug_assert_eq!(s.filled, 0);
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(s.h) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        Digest::sha256(out)
    }

    /// The state in Go's `crypto/sha256` `MarshalBinary` layout: magic
    /// `sha\x03`, the eight words big-endian, the 64-byte block (unused
    /// bytes zero), the length big-endian.
    pub fn to_go_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(GO_STATE_LEN);
        b.extend_from_slice(GO_MAGIC_SHA256);
        for w in self.h {
            b.extend_from_slice(&w.to_be_bytes());
        }
        b.extend_from_slice(&self.block[..self.filled]);
        b.resize(4 + 32 + 64, 0);
        b.extend_from_slice(&self.len.to_be_bytes());
        b
    }

    /// A state saved by [`Sha256State::to_go_bytes`] or by the Go registry;
    /// `None` for anything else.
    pub fn from_go_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != GO_STATE_LEN || &b[..4] != GO_MAGIC_SHA256 {
            return None;
        }
        let mut h = [0u32; 8];
        for (i, w) in h.iter_mut().enumerate() {
            *w = u32::from_be_bytes(b[4 + 4 * i..8 + 4 * i].try_into().ok()?);
        }
        let mut block = [0u8; 64];
        block.copy_from_slice(&b[36..100]);
        let len = u64::from_be_bytes(b[100..108].try_into().ok()?);
        let filled = (len % 64) as usize;
        // Go zeroes the block past the filled bytes; anything else is not a
        // state it wrote, and would hash differently here.
        if block[filled..].iter().any(|&x| x != 0) {
            return None;
        }
        Some(Self {
            h,
            block,
            filled,
            len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn resumable_sha256_matches_sha2_for_every_split() {
        for n in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 4099] {
            let d = data(n);
            let whole = Digest::of(Algorithm::Sha256, &d);
            for cut in [0, 1.min(n), n / 3, n / 2, n.saturating_sub(1), n] {
                let mut s = Sha256State::default();
                s.update(&d[..cut]);
                let mut s = Sha256State::from_go_bytes(&s.to_go_bytes()).expect("round trip");
                s.update(&d[cut..]);
                assert_eq!(s.digest(), whole, "n={n} cut={cut}");
                assert_eq!(s.len(), n as u64);
            }
        }
    }

    // Go's layout for `Write([]byte("abc"))`: no block is compressed yet,
    // so the words are still the IV and the block holds the three bytes.
    #[test]
    fn state_layout_is_gos() {
        let mut s = Sha256State::default();
        s.update(b"abc");
        let b = s.to_go_bytes();
        assert_eq!(b.len(), 108);
        assert_eq!(&b[..4], b"sha\x03");
        assert_eq!(
            hex::encode(&b[4..36]),
            "6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19"
        );
        assert_eq!(&b[36..39], b"abc");
        assert!(b[39..100].iter().all(|&x| x == 0));
        assert_eq!(&b[100..], &3u64.to_be_bytes());
        assert_eq!(
            s.digest().to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    // Known answer from Go 1.19 (Debian's golang-go): `sha256.New()`, the
    // 200 bytes of `data(200)` written, `MarshalBinary()`; three blocks
    // compressed, eight bytes pending.
    const GO_STATE_200: &str = "73686103e3e373e3db0a3adf2e69c78a752a08008e3a701f1e90baed917032914f88d8de40474e555c636a71000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000c8";

    #[test]
    fn a_state_go_saved_resumes_here_and_ours_is_byte_identical() {
        let d = data(1000);
        let mut ours = Sha256State::default();
        ours.update(&d[..200]);
        assert_eq!(hex::encode(ours.to_go_bytes()), GO_STATE_200);
        let mut theirs = Sha256State::from_go_bytes(&hex::decode(GO_STATE_200).unwrap()).unwrap();
        theirs.update(&d[200..]);
        assert_eq!(theirs.digest(), Digest::of(Algorithm::Sha256, &d));
    }

    #[test]
    fn foreign_or_damaged_states_are_refused() {
        let mut b = Sha256State::default().to_go_bytes();
        assert!(Sha256State::from_go_bytes(&b[..107]).is_none());
        b[3] = 2; // SHA-224's magic
        assert!(Sha256State::from_go_bytes(&b).is_none());
        let mut b = Sha256State::default().to_go_bytes();
        b[50] = 1; // a byte past the filled part of the block
        assert!(Sha256State::from_go_bytes(&b).is_none());
    }

    #[test]
    fn digests_follow_the_oci_grammar() {
        let ok = format!("sha256:{}", "a".repeat(64));
        assert_eq!(Digest::parse(&ok).unwrap().to_string(), ok);
        let ok512 = format!("sha512:{}", "0".repeat(128));
        assert_eq!(
            Digest::parse(&ok512).unwrap().algorithm(),
            Algorithm::Sha512
        );
        for bad in [
            "sha256:baddigeststring",
            "sha256:",
            ":abc",
            "sha256",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha256:{}", "a".repeat(63)),
            &format!("sha256-:{}", "a".repeat(64)),
        ] {
            assert!(
                matches!(Digest::parse(bad), Err(DigestError::Invalid(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Digest::parse("md5:d41d8cd98f00b204e9800998ecf8427e"),
            Err(DigestError::Unsupported(_))
        ));
    }
}
