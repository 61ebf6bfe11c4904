//! Reading a Docker Distribution `config.yml`: the `storage: s3:` block becomes
//! driver parameters with YAML's types kept (the driver applies the
//! reference's rules to them).

use std::path::Path;

use anyhow::{Context as _, bail};
use serde_yaml::Value;

use crate::ConfigValue;

/// The `storage: s3:` parameters of a configuration file's text.
pub fn s3_params_from_str(text: &str) -> anyhow::Result<Vec<(String, ConfigValue)>> {
    let doc: Value = serde_yaml::from_str(text).context("config.yml is not valid YAML")?;
    let storage = doc
        .get("storage")
        .context("config.yml has no `storage:` section")?;
    let s3 = storage
        .get("s3")
        .or_else(|| storage.get("s3aws"))
        .context("config.yml has no `storage: s3:` section")?;
    let Value::Mapping(map) = s3 else {
        bail!("`storage: s3:` must be a mapping of parameters");
    };
    let mut params = Vec::new();
    for (k, v) in map {
        let Some(key) = k.as_str() else {
            bail!("`storage: s3:` has a non-string key");
        };
        let value = match v {
            Value::Null => continue,
            Value::Bool(b) => ConfigValue::Boolean(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => ConfigValue::Integer(i),
                None => ConfigValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => ConfigValue::Text(s.clone()),
            Value::Sequence(items) => ConfigValue::TextList(
                items
                    .iter()
                    .map(|i| match i {
                        Value::String(s) => Ok(s.clone()),
                        Value::Number(n) => Ok(n.to_string()),
                        Value::Bool(b) => Ok(b.to_string()),
                        _ => bail!("parameter {key}: list items must be scalars"),
                    })
                    .collect::<anyhow::Result<_>>()?,
            ),
            _ => bail!("parameter {key}: nested mappings are not supported"),
        };
        params.push((key.to_ascii_lowercase(), value));
    }
    Ok(params)
}

/// The `storage: s3:` parameters of a configuration file.
pub fn s3_params_from_file(path: &Path) -> anyhow::Result<Vec<(String, ConfigValue)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    s3_params_from_str(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_yaml_types() {
        let p = s3_params_from_str(
            "version: 0.1\nstorage:\n  s3:\n    region: us-east-1\n    bucket: b\n    encrypt: true\n    chunksize: 5242880\n    secure: \"false\"\n    empty:\n",
        )
        .unwrap();
        assert_eq!(
            p,
            vec![
                ("region".into(), ConfigValue::Text("us-east-1".into())),
                ("bucket".into(), ConfigValue::Text("b".into())),
                ("encrypt".into(), ConfigValue::Boolean(true)),
                ("chunksize".into(), ConfigValue::Integer(5_242_880)),
                ("secure".into(), ConfigValue::Text("false".into())),
            ]
        );
    }

    #[test]
    fn missing_sections_are_clear_errors() {
        let e = s3_params_from_str("storage:\n  filesystem: {}\n").unwrap_err();
        assert!(e.to_string().contains("storage: s3:"));
        assert!(s3_params_from_str(": bad: yaml: [").is_err());
    }
}
