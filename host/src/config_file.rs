//! Reading a Docker Distribution `config.yml`: the `storage: s3:` block becomes
//! driver parameters with YAML's types kept (the driver applies the
//! reference's rules to them). The host reads no key: what a configuration
//! means is the component's to say.

use std::path::Path;

use anyhow::{Context as _, bail};
use serde_yaml::Value;

use crate::{ConfigValue, Middleware, Parameter};

/// A YAML mapping as driver parameters, YAML's types kept.
fn params_of(map: &serde_yaml::Mapping, what: &str) -> anyhow::Result<Vec<(String, ConfigValue)>> {
    let mut params = Vec::new();
    for (k, v) in map {
        let Some(key) = k.as_str() else {
            bail!("`{what}` has a non-string key");
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
                        _ => bail!("{what}: parameter {key}: list items must be scalars"),
                    })
                    .collect::<anyhow::Result<_>>()?,
            ),
            _ => bail!("{what}: parameter {key}: nested mappings are not supported"),
        };
        params.push((key.to_ascii_lowercase(), value));
    }
    Ok(params)
}

/// What a Distribution `config.yml` says about storage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DistributionConfig {
    /// The `storage: s3:` parameters.
    pub storage: Vec<(String, ConfigValue)>,
    /// The `middleware: storage:` entries.
    pub middleware: Vec<Middleware>,
}

/// The `storage: s3:` parameters and `middleware: storage:` entries of a
/// configuration file's text.
pub fn from_str(text: &str) -> anyhow::Result<DistributionConfig> {
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
    let params = params_of(map, "storage: s3:")?;
    let mut middleware = Vec::new();
    if let Some(list) = doc.get("middleware").and_then(|m| m.get("storage")) {
        let Value::Sequence(entries) = list else {
            bail!("`middleware: storage:` must be a list");
        };
        for entry in entries {
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .context("a `middleware: storage:` entry has no name")?;
            let options = match entry.get("options") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Mapping(m)) => params_of(m, "middleware options")?,
                Some(_) => bail!("middleware {name}: `options:` must be a mapping"),
            };
            middleware.push(Middleware {
                name: name.to_owned(),
                options: options
                    .into_iter()
                    .map(|(key, value)| Parameter { key, value })
                    .collect(),
            });
        }
    }
    Ok(DistributionConfig {
        storage: params,
        middleware,
    })
}

/// The `storage: s3:` parameters of a configuration file's text.
pub fn s3_params_from_str(text: &str) -> anyhow::Result<Vec<(String, ConfigValue)>> {
    Ok(from_str(text)?.storage)
}

/// The `storage: s3:` parameters and middleware of a configuration file.
pub fn from_file(path: &Path) -> anyhow::Result<DistributionConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    from_str(&text)
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
    fn reads_the_cloudfront_middleware() {
        let m = from_str(
            "storage:\n  s3:\n    bucket: b\nmiddleware:\n  storage:\n    - name: cloudfront\n      options:\n        baseurl: https://d.cloudfront.net/\n        duration: 30m\n        awsregion: [us-east-1, eu-west-1]\n",
        )
        .unwrap()
        .middleware;
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].name, "cloudfront");
        assert_eq!(m[0].options[1].value, ConfigValue::Text("30m".into()));
        assert_eq!(
            m[0].options[2].value,
            ConfigValue::TextList(vec!["us-east-1".into(), "eu-west-1".into()])
        );
    }

    #[test]
    fn missing_sections_are_clear_errors() {
        let e = s3_params_from_str("storage:\n  filesystem: {}\n").unwrap_err();
        assert!(e.to_string().contains("storage: s3:"));
        assert!(s3_params_from_str(": bad: yaml: [").is_err());
    }
}
