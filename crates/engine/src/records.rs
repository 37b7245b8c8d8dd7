//! What the profile tables store, and how it is encoded (postcard; JSON bodies kept as bytes).

use rapport_types::ProfileId;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::identity::graph::Graph;
use crate::identity::IdentityKey;

/// The Profiles table's value: a live graph, or where a merged-away profile went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ProfileRecord {
    Live(Graph),
    Forward(ProfileId),
}

/// The same encoding as `ProfileRecord::Live`, from a borrowed graph (no copy to write it).
#[derive(Serialize)]
enum ProfileRecordRef<'a> {
    Live(&'a Graph),
}

/// Encodes a live profile record without cloning its graph.
pub fn encode_live(graph: &Graph) -> Result<Vec<u8>> {
    encode(&ProfileRecordRef::Live(graph))
}

/// One dataset's record for one primary identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredFragment {
    pub dataset: String,
    pub primary: IdentityKey,
    pub ingested_ms: i64,
    /// Strictly increasing in commit order: breaks ties between writes of the same millisecond.
    pub sequence: u64,
    /// `extSourceSystemAudit.lastUpdatedDate`, when the record carries it.
    pub source_updated_ms: Option<i64>,
    #[serde(with = "serde_bytes")]
    pub json: Vec<u8>,
}

impl StoredFragment {
    /// The time the timestamp-ordered merge sorts by.
    pub fn merge_time_ms(&self) -> i64 {
        self.source_updated_ms.unwrap_or(self.ingested_ms)
    }
}

/// One experience event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEvent {
    pub dataset: String,
    pub event_id: String,
    pub primary: IdentityKey,
    pub timestamp_ms: i64,
    pub ingested_ms: i64,
    #[serde(with = "serde_bytes")]
    pub json: Vec<u8>,
}

/// The EventIds table's value: enough to find the stored event again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventLocation {
    pub timestamp_ms: i64,
    pub primary: IdentityKey,
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    Ok(postcard::to_stdvec(value)?)
}

pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T> {
    Ok(postcard::from_bytes(bytes)?)
}

/// A prepared view: the merge policy stamp it was built with, then the JSON bytes.
pub fn encode_view(stamp: &str, json: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(2 + stamp.len() + json.len());
    bytes.extend_from_slice(&(stamp.len() as u16).to_be_bytes());
    bytes.extend_from_slice(stamp.as_bytes());
    bytes.extend_from_slice(json);
    bytes
}

/// Splits a prepared view into (stamp, json).
pub fn decode_view(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let length = u16::from_be_bytes(bytes.get(..2)?.try_into().ok()?) as usize;
    let stamp = std::str::from_utf8(bytes.get(2..2 + length)?).ok()?;
    Some((stamp, &bytes[2 + length..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `StoredFragment` looked like before its JSON was encoded as bytes: a plain `Vec<u8>`.
    #[derive(Serialize)]
    struct FragmentBefore {
        dataset: String,
        primary: IdentityKey,
        ingested_ms: i64,
        sequence: u64,
        source_updated_ms: Option<i64>,
        json: Vec<u8>,
    }

    #[test]
    fn fragments_stored_before_the_bytes_encoding_still_decode() {
        let before = FragmentBefore {
            dataset: "d".into(),
            primary: IdentityKey::new("Email".to_owned(), "a@example.com"),
            ingested_ms: 7,
            sequence: 9,
            source_updated_ms: Some(3),
            json: br#"{"person":{"name":{"firstName":"Ada"}}}"#.to_vec(),
        };
        let bytes = encode(&before).expect("encode");
        let fragment: StoredFragment = decode(&bytes).expect("decode");
        assert_eq!(fragment.json, before.json);
        assert_eq!(fragment.sequence, 9);
        assert_eq!(
            encode(&fragment).expect("encode"),
            bytes,
            "the same bytes either way"
        );
    }
}
