//! A small OCI Distribution client and test images, for the registry's tests
//! and benchmark: push and pull over HTTP (following redirects to the
//! storage), generated layers of any size that never sit in memory whole,
//! OCI image layouts on disk for skopeo, and a round-robin proxy that sends
//! each request to the next registry process, and Debian's Go registry
//! started on the same bucket.

pub mod client;
pub mod go_registry;
pub mod image;
pub mod proxy;

pub use client::{OciClient, Reply};
pub use image::{Blob, Image, Layer, write_oci_layout};
