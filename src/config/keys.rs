//! Every `storage: s3:` parameter in one typed table: its name, default,
//! parse rule and one-line doc. The component's parser, the host's egress and
//! TLS policy, the CLI and the benchmark all name parameters through [`Key`];
//! the README's configuration table is checked against [`KEYS`]. Adding a
//! parameter means a row here, its use, and its README row.

use std::time::Duration;

/// S3's smallest non-final multipart part.
pub const MIN_CHUNK_SIZE: u64 = 5 << 20;
/// S3's largest part.
pub const MAX_CHUNK_SIZE: u64 = 5 << 30;
/// The longest network timeout accepted (one hour).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// The storage classes the reference accepts; `NONE` omits the header.
pub const STORAGE_CLASSES: &[&str] = &[
    "NONE",
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "OUTPOSTS",
    "GLACIER_IR",
    "EXPRESS_ONEZONE",
];

/// The canned ACLs the reference accepts for `objectacl`.
pub const OBJECT_ACLS: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];

/// The log levels of `loglevel`; anything else means `off`, as in the reference.
pub const LOG_LEVELS: &[&str] = &[
    "off",
    "debug",
    "debugwithsigning",
    "debugwithhttpbody",
    "debugwithrequestretries",
    "debugwithrequesterrors",
    "debugwitheventstreambody",
];

/// The `payloadsigning` modes.
pub const PAYLOAD_SIGNING_MODES: &[&str] = &["auto", "signed", "unsigned"];

/// The `checksumalgorithm` words.
pub const CHECKSUM_ALGORITHMS: &[&str] = &["none", "md5", "crc32", "crc32c", "sha256", "crc64nvme"];

/// How a parameter's value is read, with its default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// Any string; absent means empty.
    Text,
    /// A string never echoed in a message, log or `Debug` output.
    Secret,
    /// Go's `strconv.ParseBool` on strings, YAML booleans as they are.
    Bool(bool),
    /// An integer in `[min, max]`, typed or as a decimal string.
    Int {
        /// When absent.
        default: u64,
        /// Smallest accepted.
        min: u64,
        /// Largest accepted.
        max: u64,
    },
    /// A Go duration string (or an integer of seconds) up to `max`.
    Duration {
        /// When absent or empty.
        default: Duration,
        /// Longest accepted.
        max: Duration,
    },
    /// One of a fixed set of words.
    Choice {
        /// When absent or empty.
        default: &'static str,
        /// The accepted words (compared as each key's parser says).
        choices: &'static [&'static str],
    },
}

/// Which parameters name the server and its credentials: the embedded
/// server replaces exactly these when the CLI runs without a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Where and as whom to connect.
    Connection,
    /// How to behave once connected.
    Behaviour,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeySpec {
    /// The key.
    pub key: Key,
    /// Its name in `config.yml` (lower case; matched case-insensitively).
    pub name: &'static str,
    /// How it is read, and its default.
    pub rule: Rule,
    /// The default as the README writes it.
    pub default_doc: &'static str,
    /// Connection or behaviour.
    pub scope: Scope,
    /// What it does, in one line.
    pub doc: &'static str,
}

macro_rules! keys {
    ($($variant:ident $name:literal $scope:ident $rule:expr, $default_doc:literal, $doc:literal;)*) => {
        /// A `storage: s3:` parameter.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Key {
            $(
                #[doc = $doc]
                $variant,
            )*
        }

        /// Every parameter, in the README's order.
        pub const KEYS: &[KeySpec] = &[
            $(KeySpec {
                key: Key::$variant,
                name: $name,
                rule: $rule,
                default_doc: $default_doc,
                scope: Scope::$scope,
                doc: $doc,
            },)*
        ];
    };
}

const MIB: u64 = 1 << 20;

keys! {
    AccessKey "accesskey" Connection Rule::Text, "`\"\"`",
        "Access key id of static credentials; empty continues the credential chain.";
    SecretKey "secretkey" Connection Rule::Secret, "`\"\"`",
        "Secret key of static credentials.";
    SessionToken "sessiontoken" Connection Rule::Secret, "none",
        "Session token of temporary static credentials.";
    Region "region" Connection Rule::Text, "none",
        "AWS region; required without regionendpoint; the SigV4 signing region.";
    RegionEndpoint "regionendpoint" Connection Rule::Text, "none",
        "An S3-compatible endpoint; its scheme overrides secure.";
    ForcePathStyle "forcepathstyle" Connection Rule::Bool(false), "`false`",
        "endpoint/bucket/key addressing.";
    Bucket "bucket" Connection Rule::Text, "none",
        "The bucket; required.";
    Encrypt "encrypt" Behaviour Rule::Bool(false), "`false`",
        "Server-side encryption (AES256, or aws:kms with keyid).";
    KeyId "keyid" Behaviour Rule::Text, "none",
        "KMS key id.";
    Secure "secure" Connection Rule::Bool(true), "`true`",
        "HTTPS.";
    SkipVerify "skipverify" Behaviour Rule::Bool(false), "`false`",
        "The host accepts any server certificate for this driver's requests.";
    V4Auth "v4auth" Behaviour Rule::Bool(true), "`true`",
        "SigV4; false signs with SigV2.";
    ChunkSize "chunksize" Behaviour Rule::Int { default: 10 * MIB, min: MIN_CHUNK_SIZE, max: MAX_CHUNK_SIZE }, "10 MiB",
        "Multipart part size.";
    MultipartCopyChunkSize "multipartcopychunksize" Behaviour Rule::Int { default: 32 * MIB, min: MIN_CHUNK_SIZE, max: MAX_CHUNK_SIZE }, "32 MiB",
        "Multipart-copy part size.";
    MultipartCopyMaxConcurrency "multipartcopymaxconcurrency" Behaviour Rule::Int { default: 100, min: 1, max: i64::MAX as u64 }, "100",
        "Multipart-copy parallelism.";
    MultipartCopyThresholdSize "multipartcopythresholdsize" Behaviour Rule::Int { default: 32 * MIB, min: 0, max: MAX_CHUNK_SIZE }, "32 MiB",
        "Above this size a move copies in parts.";
    MultipartUploadMaxConcurrency "multipartuploadmaxconcurrency" Behaviour Rule::Int { default: 2, min: 1, max: 64 }, "2",
        "UploadPart requests a writer keeps in flight.";
    PayloadSigning "payloadsigning" Behaviour Rule::Choice { default: "auto", choices: PAYLOAD_SIGNING_MODES }, "`auto`",
        "When SigV4 hashes request bodies.";
    StreamingSignature "streamingsignature" Behaviour Rule::Bool(true), "`true`",
        "Signed bodies of 1 MiB or more go out aws-chunked, each chunk hashed while the previous one is sent.";
    ChecksumAlgorithm "checksumalgorithm" Behaviour Rule::Choice { default: "none", choices: CHECKSUM_ALGORITHMS }, "`none`",
        "Integrity header on every body: Content-MD5 or an x-amz-checksum-* value.";
    RootDirectory "rootdirectory" Behaviour Rule::Text, "`\"\"`",
        "Key prefix of every path.";
    StorageClass "storageclass" Behaviour Rule::Choice { default: "STANDARD", choices: STORAGE_CLASSES }, "`STANDARD`",
        "Storage class of every object.";
    ObjectAcl "objectacl" Behaviour Rule::Choice { default: "private", choices: OBJECT_ACLS }, "`private`",
        "Canned ACL of every write.";
    UserAgent "useragent" Behaviour Rule::Text, "none",
        "Appended to the User-Agent.";
    UseDualStack "usedualstack" Behaviour Rule::Bool(false), "`false`",
        "Amazon dual-stack host names.";
    Accelerate "accelerate" Behaviour Rule::Bool(false), "`false`",
        "Amazon transfer-acceleration host names.";
    UseFipsEndpoint "usefipsendpoint" Behaviour Rule::Bool(false), "`false`",
        "Amazon FIPS host names.";
    RedirectEndpoint "redirectendpoint" Behaviour Rule::Text, "none",
        "Replaces scheme and host of presigned URLs.";
    LogLevel "loglevel" Behaviour Rule::Choice { default: "off", choices: LOG_LEVELS }, "`off`",
        "Logging of requests.";
    MaxAttempts "maxattempts" Behaviour Rule::Int { default: 3, min: 1, max: 10 }, "3",
        "Attempts per request, the first included.";
    RetryBaseDelay "retrybasedelay" Behaviour Rule::Duration { default: Duration::from_millis(100), max: Duration::from_secs(60) }, "`100ms`",
        "Ceiling of the first backoff; it doubles per attempt.";
    ConnectTimeout "connecttimeout" Behaviour Rule::Duration { default: Duration::from_secs(10), max: MAX_TIMEOUT }, "`10s`",
        "Establishing a connection.";
    FirstByteTimeout "firstbytetimeout" Behaviour Rule::Duration { default: Duration::from_secs(60), max: MAX_TIMEOUT }, "`60s`",
        "From the request's end to the response head.";
    BetweenBytesTimeout "betweenbytestimeout" Behaviour Rule::Duration { default: Duration::from_secs(60), max: MAX_TIMEOUT }, "`60s`",
        "Between two pieces of a response body.";
}

impl Key {
    /// This key's row.
    pub fn spec(self) -> &'static KeySpec {
        KEYS.iter()
            .find(|s| s.key == self)
            .expect("every key has a row")
    }

    /// Its name in `config.yml`.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The key named `name` (any case), if it is one of ours.
    pub fn from_name(name: &str) -> Option<Key> {
        KEYS.iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .map(|s| s.key)
    }

    /// Its default, for integer keys.
    pub fn default_int(self) -> u64 {
        match self.spec().rule {
            Rule::Int { default, .. } => default,
            other => panic!("{} is not an integer key ({other:?})", self.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lower_case_and_round_trip() {
        for (i, s) in KEYS.iter().enumerate() {
            assert_eq!(s.name, s.name.to_ascii_lowercase());
            assert_eq!(Key::from_name(&s.name.to_ascii_uppercase()), Some(s.key));
            assert!(
                KEYS[i + 1..]
                    .iter()
                    .all(|o| o.name != s.name && o.key != s.key)
            );
        }
        assert_eq!(Key::from_name("chunksise"), None);
    }

    /// The README's `storage: s3:` table has one row per key, with the
    /// default the table here gives.
    #[test]
    fn the_readme_documents_every_key_with_its_default() {
        let readme = include_str!("../../README.md");
        let table: Vec<&str> = readme
            .split("## Configuration (`storage: s3:`)")
            .nth(1)
            .expect("the README has a configuration section")
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .collect();
        for s in KEYS {
            let row = table
                .iter()
                .find(|l| {
                    l.split('|')
                        .nth(1)
                        .is_some_and(|c| c.contains(&format!("`{}`", s.name)))
                })
                .unwrap_or_else(|| panic!("no README row for {}", s.name));
            let default = row.split('|').nth(2).unwrap_or_default().trim();
            assert_eq!(default, s.default_doc, "README default of {}", s.name);
        }
    }
}
