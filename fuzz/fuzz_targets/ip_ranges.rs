//! The AWS IP-ranges document and the client address headers: any bytes give
//! ranges (bad CIDRs skipped) or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3_storage_driver::cloudfront::{IpRanges, client_ip};

fuzz_target!(|data: &[u8]| {
    let regions = vec!["us-east-1".to_owned(), "eu-west-1".to_owned()];
    for filter in [None, Some(&regions[..])] {
        if let Ok((ranges, _skipped)) = IpRanges::parse(data, filter) {
            let _ = ranges.len();
            if let Some(ip) = client_ip("192.0.2.1:80", None, None) {
                let _ = ranges.contains(ip);
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    let mut fields = text.splitn(3, '\n');
    let (a, b, c) = (fields.next(), fields.next(), fields.next());
    let _ = client_ip(a.unwrap_or(""), b, c);
});
