//! The component's module layers, bottom first, and the test that keeps them:
//! a module may use modules of its own layer or lower ones, never a higher
//! one, and modules of one layer never form a circle. Only the edge touches
//! WASI. (Compiled for tests only: it reads `src/` from disk.)

/// Each layer's top-level modules.
pub const LAYERS: &[&[&str]] = &[
    // Base: errors and their classification, time, URLs, durations, hashes.
    &[
        "classify",
        "digest",
        "duration",
        "error",
        "file_info",
        "time",
        "url",
    ],
    // Seams: HTTP, the platform (clock, environment, files, log), retry policy.
    &["platform", "retry", "transport"],
    // Protocol pieces.
    &["sign", "config", "path", "s3", "cloudfront", "reader"],
    // One bucket: credentials, then the signing and retrying client.
    &["credentials", "client"],
    // Multipart calls, walks, then the writer built on them.
    &["multipart", "walk", "writer"],
    // The storage-driver semantics, and what a configuration needs of its
    // host (it checks middleware names as `driver` does).
    &["driver", "requirements"],
    // The edge: wit-bindgen glue and the platform (`lib`), wasi:http (`http`).
    &["lib", "http", "layers", "import_cycles"],
];

/// Modules that may name `wasip2`, `std::fs`, `std::env` or the clock.
const EDGE: &[&str] = &["lib", "http", "layers", "import_cycles"];

mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use super::{EDGE, LAYERS};

    fn layer_of(module: &str) -> usize {
        LAYERS
            .iter()
            .position(|l| l.contains(&module))
            .unwrap_or_else(|| panic!("module {module} is in no layer of src/layers.rs"))
    }

    /// Source files by top-level module, without comments and test modules.
    fn sources() -> BTreeMap<String, String> {
        fn walk(dir: &Path, top: Option<&str>, out: &mut BTreeMap<String, String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                let module = top.unwrap_or(&name).to_owned();
                if path.is_dir() {
                    walk(&path, Some(&module), out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    // Unit-test modules may reach wherever they test.
                    let code: String = text
                        .split("#[cfg(test)]\nmod tests")
                        .next()
                        .unwrap()
                        .lines()
                        .filter(|l| !l.trim_start().starts_with("//"))
                        .collect::<Vec<_>>()
                        .join("\n");
                    out.entry(module).or_default().push_str(&code);
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            None,
            &mut out,
        );
        out
    }

    /// `crate::x` references of each module, `x` another module (this
    /// file's own strings aside).
    fn edges() -> BTreeMap<String, BTreeSet<String>> {
        sources()
            .into_iter()
            .filter(|(module, _)| module != "layers")
            .map(|(module, code)| {
                // Grouped paths would hide their modules from this scan.
                assert!(
                    !code.contains(concat!("crate", "::{")),
                    "{module}: name each module in its own `use` path"
                );
                let used = code
                    .split("crate::")
                    .skip(1)
                    .map(|rest| {
                        rest.chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect::<String>()
                    })
                    .filter(|m| !m.is_empty() && *m != module)
                    .collect();
                (module, used)
            })
            .collect()
    }

    #[test]
    fn no_module_uses_a_higher_layer() {
        for (module, used) in edges() {
            for target in &used {
                assert!(
                    layer_of(target) <= layer_of(&module),
                    "{module} (layer {}) uses {target} (layer {})",
                    layer_of(&module) + 1,
                    layer_of(target) + 1
                );
            }
        }
    }

    #[test]
    fn modules_of_one_layer_form_no_circle() {
        let edges = edges();
        for layer in LAYERS {
            // Repeatedly take out modules that use no remaining module of the layer.
            let mut left: BTreeSet<&str> = layer.iter().copied().collect();
            while !left.is_empty() {
                let free: Vec<&str> = left
                    .iter()
                    .copied()
                    .filter(|m| {
                        edges
                            .get(*m)
                            .is_none_or(|u| u.iter().all(|t| !left.contains(t.as_str())))
                    })
                    .collect();
                assert!(!free.is_empty(), "a circle among {left:?}");
                for m in free {
                    left.remove(m);
                }
            }
        }
    }

    #[test]
    fn only_the_edge_touches_wasi_files_environment_or_clock() {
        for (module, code) in sources() {
            if EDGE.contains(&module.as_str()) {
                continue;
            }
            for forbidden in [
                "wasip2",
                "std::fs",
                "std::env",
                "SystemTime::now",
                "Instant::now",
                "eprintln!",
                "println!",
            ] {
                assert!(
                    !code.contains(forbidden),
                    "{module} uses {forbidden}: only the edge (lib, http) may"
                );
            }
        }
    }

    #[test]
    fn every_module_is_in_a_layer() {
        for module in sources().keys() {
            layer_of(module);
        }
    }
}
