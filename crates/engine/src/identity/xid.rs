//! XIDs: the opaque, reversible string form of an identity used by the Identity Service API.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::IdentityKey;

pub fn encode(identity: &IdentityKey) -> String {
    let mut raw = Vec::with_capacity(identity.namespace.len() + identity.value.len() + 1);
    raw.extend_from_slice(identity.namespace.as_bytes());
    raw.push(0);
    raw.extend_from_slice(identity.value.as_bytes());
    URL_SAFE_NO_PAD.encode(raw)
}

pub fn decode(xid: &str) -> Option<IdentityKey> {
    let raw = URL_SAFE_NO_PAD.decode(xid).ok()?;
    let split = raw.iter().position(|b| *b == 0)?;
    let namespace = String::from_utf8(raw[..split].to_vec()).ok()?;
    let value = String::from_utf8(raw[split + 1..].to_vec()).ok()?;
    Some(IdentityKey { namespace, value })
}
