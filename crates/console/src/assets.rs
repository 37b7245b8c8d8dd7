//! The console's static files, embedded in the binary: htmx 2.0.8 (vendored from the npm package
//! `htmx.org`, Zero-Clause BSD, its licence beside it), the stylesheet and the script.
//!
//! Pages link each asset as `/console/assets/{name}?v={hash}` ([`Asset::url`]); the hash changes
//! with the bytes, so the server may answer with `Cache-Control: public, max-age=31536000,
//! immutable`.

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// File name, the last segment of its URL.
    pub name: &'static str,
    /// `Content-Type` to send.
    pub content_type: &'static str,
    /// The file.
    pub bytes: &'static [u8],
    /// FNV-1a 64 of the bytes, for cache-busting URLs.
    pub hash: u64,
}

impl Asset {
    const fn new(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
        Asset {
            name,
            content_type,
            bytes,
            hash: fnv1a(bytes),
        }
    }

    /// Where pages link it: `/console/assets/{name}?v={hash}`.
    pub fn url(&self) -> String {
        format!(
            "{}/assets/{}?v={:016x}",
            crate::urls::BASE,
            self.name,
            self.hash
        )
    }
}

/// htmx, partial page updates.
pub static HTMX: Asset = Asset::new(
    "htmx.min.js",
    "text/javascript; charset=utf-8",
    include_bytes!("../assets/htmx.min.js"),
);
/// htmx's licence (Zero-Clause BSD).
pub static HTMX_LICENSE: Asset = Asset::new(
    "htmx-LICENSE.txt",
    "text/plain; charset=utf-8",
    include_bytes!("../assets/htmx-LICENSE"),
);
/// The console's stylesheet.
pub static CSS: Asset = Asset::new(
    "console.css",
    "text/css; charset=utf-8",
    include_bytes!("../assets/console.css"),
);
/// The console's script: keyboard, local times, live panels.
pub static JS: Asset = Asset::new(
    "console.js",
    "text/javascript; charset=utf-8",
    include_bytes!("../assets/console.js"),
);

/// Every asset.
pub static ALL: [&Asset; 4] = [&HTMX, &HTMX_LICENSE, &CSS, &JS];

/// The asset of a name, as in the URL.
pub fn get(name: &str) -> Option<&'static Asset> {
    ALL.iter().copied().find(|asset| asset.name == name)
}

const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_found_by_name_and_versioned_by_content() {
        assert_eq!(get("console.css").map(|a| a.name), Some("console.css"));
        assert!(get("../Cargo.toml").is_none());
        assert!(HTMX.url().starts_with("/console/assets/htmx.min.js?v="));
        assert_ne!(CSS.hash, JS.hash);
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert!(std::str::from_utf8(HTMX.bytes).unwrap().contains("htmx"));
    }
}
