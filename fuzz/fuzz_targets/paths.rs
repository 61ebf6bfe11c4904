//! Distribution's path rules and the path/key mapping: a valid path maps to a
//! key and back unchanged, under any root directory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3_storage_driver::path::{self, KeyMapper};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (root, p) = text.split_once('\n').unwrap_or(("", text));
    let _ = path::check_or_root(p);
    let _ = path::is_subpath(p, root);
    let keys = KeyMapper::new(root);
    if path::is_valid(p) {
        let key = keys.key(p);
        assert_eq!(keys.path(&key), p, "root {root:?}");
        let _ = keys.dir_prefix(p);
    }
});
