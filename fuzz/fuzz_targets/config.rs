//! The `storage: s3:` parameters and the CloudFront options: lines of
//! `key=value` (a value of `#n` is an integer, `?b` a boolean), each parsed
//! into a configuration or a typed `invalid-config`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3_storage_driver::cloudfront::CloudFrontOptions;
use s3_storage_driver::duration::parse_go_duration;
use s3_storage_driver::config::{Config, Value};

fn params(text: &str) -> Vec<(String, Value)> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let value = if let Some(n) = v.strip_prefix('#') {
                n.parse().map(Value::Int).unwrap_or(Value::Text(v.into()))
            } else if let Some(b) = v.strip_prefix('?') {
                Value::Bool(b == "t")
            } else if v.contains(',') {
                Value::List(v.split(',').map(str::to_owned).collect())
            } else {
                Value::Text(v.into())
            };
            (k.to_owned(), value)
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let p = params(text);
    if let Ok(c) = Config::from_params(&p) {
        let _ = s3_storage_driver::s3::endpoint::Endpoint::from_config(&c);
    }
    let mut warnings = Vec::new();
    let _ = CloudFrontOptions::from_options(&p, |_| Ok(text.to_owned()), &mut warnings);
    for line in text.lines() {
        let _ = parse_go_duration(line);
    }
});
