//! What `stat` and `walk` report about a path. Imports nothing of ours but time.

use crate::time::UtcDateTime;

/// A file or directory as `stat` and `walk` see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Storage path.
    pub path: String,
    /// Size in bytes, 0 for directories.
    pub size: u64,
    /// Server modification time; none for directories.
    pub mod_time: Option<UtcDateTime>,
    /// True for a directory.
    pub is_dir: bool,
}

impl FileInfo {
    /// A directory entry.
    pub fn dir(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            size: 0,
            mod_time: None,
            is_dir: true,
        }
    }
}
