//! The parts of a Docker Distribution `config.yml` the registry itself reads
//! (the `storage: s3:` block and `middleware: storage:` entries are the
//! embedding library's: [`s3_driver_host::config_file`]).

use anyhow::{Context as _, bail};
use serde_yaml::Value;

use crate::http::Options;
use crate::http::auth::Htpasswd;

/// `http.addr` when the file has none, as in the Go registry.
pub const DEFAULT_ADDR: &str = ":5000";

/// The registry's settings from a `config.yml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfig {
    /// `http: addr:` (`:5000`, `127.0.0.1:5000`).
    pub addr: String,
    /// `storage: delete: enabled:` (default false).
    pub delete_enabled: bool,
    /// Not `storage: redirect: disable: true` (redirects are on by default).
    pub redirect: bool,
    /// `auth: htpasswd: realm:` and `path:`.
    pub htpasswd: Option<(String, String)>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            addr: DEFAULT_ADDR.to_owned(),
            delete_enabled: false,
            redirect: true,
            htpasswd: None,
        }
    }
}

/// `doc[a][b][c]`, if there.
fn at<'a>(doc: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(doc, |v, k| v.get(*k))
}

fn boolean(doc: &Value, keys: &[&str]) -> anyhow::Result<Option<bool>> {
    match at(doc, keys) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => bail!("{} must be true or false", keys.join(".")),
    }
}

fn text(doc: &Value, keys: &[&str]) -> anyhow::Result<Option<String>> {
    match at(doc, keys) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => bail!("{} must be a string", keys.join(".")),
    }
}

/// Reads the registry's settings from a configuration's text.
pub fn from_str(yaml: &str) -> anyhow::Result<RegistryConfig> {
    let doc: Value = serde_yaml::from_str(yaml).context("config.yml is not valid YAML")?;
    let mut c = RegistryConfig::default();
    if let Some(addr) = text(&doc, &["http", "addr"])? {
        c.addr = addr;
    }
    c.delete_enabled = boolean(&doc, &["storage", "delete", "enabled"])?.unwrap_or(false);
    c.redirect = !boolean(&doc, &["storage", "redirect", "disable"])?.unwrap_or(false);
    if let Some(auth) = doc.get("auth").and_then(Value::as_mapping) {
        for (k, _) in auth {
            if k.as_str() != Some("htpasswd") {
                bail!(
                    "auth: only htpasswd is supported, not {:?}",
                    k.as_str().unwrap_or("?")
                );
            }
        }
        let realm =
            text(&doc, &["auth", "htpasswd", "realm"])?.unwrap_or_else(|| "registry".to_owned());
        let path =
            text(&doc, &["auth", "htpasswd", "path"])?.context("auth.htpasswd.path is required")?;
        c.htpasswd = Some((realm, path));
    }
    Ok(c)
}

impl RegistryConfig {
    /// `addr` as a socket address to bind (`:5000` is every interface).
    pub fn listen_addr(&self) -> String {
        match self.addr.strip_prefix(':') {
            Some(port) => format!("0.0.0.0:{port}"),
            None => self.addr.clone(),
        }
    }

    /// The registry options, reading the htpasswd file if one is named.
    pub fn options(&self) -> anyhow::Result<Options> {
        let htpasswd = match &self.htpasswd {
            Some((realm, path)) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("auth.htpasswd.path: reading {path}"))?;
                Some(
                    Htpasswd::parse(&text, realm)
                        .map_err(|e| anyhow::anyhow!("auth.htpasswd: {e}"))?,
                )
            }
            None => None,
        };
        Ok(Options {
            delete_enabled: self.delete_enabled,
            redirect: self.redirect,
            htpasswd,
            limits: crate::HttpLimits::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_keys_the_go_registry_reads() {
        let c = from_str(
            "version: 0.1\nhttp:\n  addr: 127.0.0.1:5001\nstorage:\n  delete:\n    enabled: true\n  redirect:\n    disable: true\n  s3:\n    bucket: b\nauth:\n  htpasswd:\n    realm: r\n    path: /x\n",
        )
        .unwrap();
        assert_eq!(c.listen_addr(), "127.0.0.1:5001");
        assert!(c.delete_enabled && !c.redirect);
        assert_eq!(c.htpasswd, Some(("r".into(), "/x".into())));
        let d = from_str("storage:\n  s3:\n    bucket: b\n").unwrap();
        assert_eq!(d, RegistryConfig::default());
        assert_eq!(d.listen_addr(), "0.0.0.0:5000");
    }

    #[test]
    fn bad_values_are_named() {
        let e = from_str("storage:\n  delete:\n    enabled: yes please\n").unwrap_err();
        assert!(e.to_string().contains("storage.delete.enabled"), "{e}");
        let e = from_str("auth:\n  token:\n    realm: x\n").unwrap_err();
        assert!(e.to_string().contains("htpasswd"), "{e}");
        let e = from_str("auth:\n  htpasswd:\n    realm: x\n").unwrap_err();
        assert!(e.to_string().contains("auth.htpasswd.path"), "{e}");
    }
}
