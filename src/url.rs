//! URL pieces every layer needs: splitting an `http(s)` URL, RFC 3986
//! percent-encoding as S3 signs it, and the canonical (sorted, encoded)
//! query string. Imports nothing of ours.

/// The parts of an `http(s)` URL the driver sends to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    /// HTTPS when true.
    pub secure: bool,
    /// `host[:port]`.
    pub authority: String,
    /// The path (with its query, if any), `/` when the URL has none.
    pub path: String,
}

/// `scheme`, `authority` and `path` of an `http(s)` URL; `None` for any
/// other scheme or an empty authority.
pub fn split_url(url: &str) -> Option<UrlParts> {
    let (scheme, rest) = url.split_once("://")?;
    let secure = match scheme {
        "https" => true,
        "http" => false,
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return None;
    }
    Some(UrlParts {
        secure,
        authority: authority.to_owned(),
        path: path.to_owned(),
    })
}

/// The pairs of a query string (`a=1&b`), not decoded.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (kv.to_owned(), String::new()),
        })
        .collect()
}

/// Percent-encodes per RFC 3986 as SigV4 requires: everything but
/// `A-Z a-z 0-9 - . _ ~` is encoded; `/` is kept when `keep_slash`.
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
    out
}

/// The canonical query string: encoded pairs sorted by key, then value.
/// Requests are sent in this form too, so a server sees what was signed.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encoding_keeps_only_unreserved_characters() {
        assert_eq!(uri_encode("a b/c~d", true), "a%20b/c~d");
        assert_eq!(uri_encode("a b/c", false), "a%20b%2Fc");
        assert_eq!(uri_encode("ሴ", true), "%E1%88%B4");
        assert_eq!(uri_encode("$&+", true), "%24%26%2B");
    }

    #[test]
    fn split_urls() {
        assert_eq!(
            split_url("https://ip-ranges.amazonaws.com/ip-ranges.json"),
            Some(UrlParts {
                secure: true,
                authority: "ip-ranges.amazonaws.com".into(),
                path: "/ip-ranges.json".into()
            })
        );
        assert_eq!(
            split_url("http://127.0.0.1:9"),
            Some(UrlParts {
                secure: false,
                authority: "127.0.0.1:9".into(),
                path: "/".into()
            })
        );
        assert_eq!(split_url("ftp://x/y"), None);
        assert_eq!(split_url("https:///y"), None);
    }

    #[test]
    fn query_strings_split_into_pairs() {
        assert_eq!(
            query_pairs("a=1&b&&c=x=y"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), String::new()),
                ("c".into(), "x=y".into())
            ]
        );
        assert!(query_pairs("").is_empty());
    }

    #[test]
    fn canonical_queries_sort_encoded_pairs() {
        let q = vec![
            ("b".to_owned(), "2 3".to_owned()),
            ("a".to_owned(), "1".to_owned()),
        ];
        assert_eq!(canonical_query(&q), "a=1&b=2%203");
    }
}
