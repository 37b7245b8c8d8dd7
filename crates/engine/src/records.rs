//! What the profile tables store, and how it is encoded (postcard; JSON bodies kept as bytes,
//! records' and views' JSON Snappy-compressed).

use std::borrow::Cow;
use std::cell::RefCell;

use rapport_types::ProfileId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::identity::graph::Graph;
use crate::identity::IdentityKey;

/// The Profiles table's value: a live graph, or where a merged-away profile went.
///
/// Its layouts are told apart by postcard's variant index, the first byte: `0` a live graph of
/// layout 1 (before guardrail hits were kept; read, never written), `1` a forward, `2` a live
/// graph ([`LIVE_VARIANT`]). Graphs stored before are read as they are and written in the new
/// layout the next time they change.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "StoredProfileRecord")]
pub enum ProfileRecord {
    Live(Graph),
    Forward(ProfileId),
}

/// The variant index a live graph is written with.
const LIVE_VARIANT: u32 = 2;

impl Serialize for ProfileRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ProfileRecord::Live(graph) => ProfileRecordRef(graph).serialize(serializer),
            ProfileRecord::Forward(id) => {
                serializer.serialize_newtype_variant("ProfileRecord", 1, "Forward", id)
            }
        }
    }
}

/// Every layout a Profiles value may be stored in.
#[derive(Deserialize)]
enum StoredProfileRecord {
    LiveV1(GraphV1),
    Forward(ProfileId),
    Live(Graph),
}

/// A live graph as layout 1 stored it: [`Graph`] without its guardrail hits.
#[derive(Deserialize)]
struct GraphV1 {
    nodes: Vec<crate::identity::graph::Node>,
    edges: Vec<crate::identity::graph::Edge>,
    removed: Vec<crate::identity::graph::RemovedLink>,
    refused: Vec<crate::identity::graph::RefusedIdentity>,
    changed_ms: i64,
    merged_profiles: Vec<u64>,
}

impl From<StoredProfileRecord> for ProfileRecord {
    fn from(stored: StoredProfileRecord) -> ProfileRecord {
        match stored {
            StoredProfileRecord::LiveV1(old) => ProfileRecord::Live(Graph {
                nodes: old.nodes,
                edges: old.edges,
                removed: old.removed,
                refused: old.refused,
                changed_ms: old.changed_ms,
                merged_profiles: old.merged_profiles,
                guardrails: Vec::new(),
            }),
            StoredProfileRecord::Forward(id) => ProfileRecord::Forward(id),
            StoredProfileRecord::Live(graph) => ProfileRecord::Live(graph),
        }
    }
}

/// The encoding of `ProfileRecord::Live`, from a borrowed graph (no copy to write it).
struct ProfileRecordRef<'a>(&'a Graph);

impl Serialize for ProfileRecordRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_variant("ProfileRecord", LIVE_VARIANT, "Live", self.0)
    }
}

/// Encodes a live profile record without cloning its graph.
pub fn encode_live(graph: &Graph) -> Result<Vec<u8>> {
    encode(&ProfileRecordRef(graph))
}

/// Whether stored Profiles bytes are a live graph (of any layout), without decoding them.
pub fn is_live_record(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(0) | Some(2))
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
    /// The record's JSON as stored: [`pack_json`]ed, or plain text in stores written before
    /// (read it with [`StoredFragment::record_json`]).
    #[serde(with = "serde_bytes")]
    pub json: Vec<u8>,
}

impl StoredFragment {
    /// The record's JSON text.
    pub fn record_json(&self) -> Result<Cow<'_, [u8]>> {
        unpack_json(&self.json)
    }

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

/// The first byte of [`pack_json`]'s output when it compressed: JSON text never starts with it.
const PACKED_JSON: u8 = 0x01;

thread_local! {
    /// Snappy's encoder keeps a hash table between calls; one a thread (the writer's, mostly).
    static SNAPPY: RefCell<snap::raw::Encoder> = RefCell::new(snap::raw::Encoder::new());
}

/// JSON text as the Fragments and Views tables keep it: Snappy-compressed behind
/// [`PACKED_JSON`] when that is smaller, else the text itself. Records and views repeat their
/// field names, so they shrink by about a fifth, and more of them fit on a page: at ten million
/// profiles the tables a lookup reads stay in memory (BENCHMARKS.md, "Ten million profiles").
pub fn pack_json(json: &[u8]) -> Vec<u8> {
    compress_json(json).unwrap_or_else(|| json.to_vec())
}

/// [`pack_json`]'s compressed form, when it is smaller than the text.
fn compress_json(json: &[u8]) -> Option<Vec<u8>> {
    let mut packed = vec![0; 1 + snap::raw::max_compress_len(json.len())];
    packed[0] = PACKED_JSON;
    let written = SNAPPY.with(|encoder| encoder.borrow_mut().compress(json, &mut packed[1..]));
    match written {
        Ok(length) if 1 + length < json.len() => {
            packed.truncate(1 + length);
            Some(packed)
        }
        _ => None,
    }
}

/// The JSON text of what [`pack_json`] made (or of plain text stored before it existed).
pub fn unpack_json(stored: &[u8]) -> Result<Cow<'_, [u8]>> {
    match stored.split_first() {
        Some((&PACKED_JSON, packed)) => snap::raw::Decoder::new()
            .decompress_vec(packed)
            .map(Cow::Owned)
            .map_err(|e| Error::internal(format!("stored JSON does not decompress: {e}"))),
        _ => Ok(Cow::Borrowed(stored)),
    }
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    Ok(postcard::to_stdvec(value)?)
}

pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T> {
    Ok(postcard::from_bytes(bytes)?)
}

/// The layout version of prepared views, part of every view's stamp: a view written in another
/// layout is stale and gets rebuilt.
pub const VIEW_LAYOUT: &str = "5";

/// Where a view's computed attributes go: the member to cut when they are not wanted, and the
/// placeholder (`{}`) the values replace when they are. The values themselves live in the
/// profile's computed record and are composed in at read time, so an event that changes them
/// leaves the view alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComputedRange {
    /// `[cut.0, cut.1)` removed leaves valid JSON without the computed attributes.
    pub cut: (usize, usize),
    /// The value of `entity._{tenant}.SystemComputedAttributes`.
    pub value: (usize, usize),
}

/// A prepared view as stored: the stamp it was built with, the JSON the entity API returns, and
/// where in that JSON the computed attributes and `entity.segmentMembership` are, so either can
/// be replaced (or the first left out) without parsing or re-serializing the rest.
#[derive(Debug, Clone)]
pub struct StoredView<'a> {
    pub stamp: &'a str,
    pub json: Cow<'a, [u8]>,
    pub computed: Option<ComputedRange>,
    /// The byte range of `entity.segmentMembership`'s value in `json`, when it has one.
    pub membership: Option<(usize, usize)>,
}

/// A view's JSON with the positions [`StoredView`] keeps.
pub struct RenderedView {
    pub json: Vec<u8>,
    pub computed: Option<ComputedRange>,
    pub membership: Option<(usize, usize)>,
}

impl RenderedView {
    pub fn encode(&self, stamp: &str) -> Vec<u8> {
        encode_view(stamp, &self.json, self.computed, self.membership)
    }
}

impl StoredView<'_> {
    /// The JSON with new values for the parts given (each must already be in the view).
    pub fn replace(
        &self,
        computed: Option<&[u8]>,
        membership: Option<&[u8]>,
    ) -> Option<RenderedView> {
        let mut json = self.json.to_vec();
        let mut ranges = (self.computed, self.membership);
        // Later ranges first, so earlier offsets stay valid; then shift what follows.
        if let Some(new) = membership {
            let (start, end) = ranges.1?;
            json.splice(start..end, new.iter().copied());
            ranges.1 = Some((start, start + new.len()));
        }
        if let Some(new) = computed {
            let range = ranges.0?;
            let (start, end) = range.value;
            json.splice(start..end, new.iter().copied());
            let delta = new.len() as isize - (end - start) as isize;
            let shift = |at: usize| (at as isize + delta) as usize;
            ranges.0 = Some(ComputedRange {
                cut: (range.cut.0, shift(range.cut.1)),
                value: (start, start + new.len()),
            });
            if let Some((m_start, m_end)) = ranges.1 {
                if m_start >= end {
                    ranges.1 = Some((shift(m_start), shift(m_end)));
                }
            }
        }
        Some(RenderedView {
            json,
            computed: ranges.0,
            membership: ranges.1,
        })
    }

    /// The JSON with `values` in place of the computed attributes' placeholder (the view as it
    /// is when it has none).
    pub fn with_computed(&self, values: &[u8]) -> Vec<u8> {
        match self.computed {
            Some(ComputedRange {
                value: (start, end),
                ..
            }) => {
                let mut json = Vec::with_capacity(self.json.len() + values.len() - (end - start));
                json.extend_from_slice(&self.json[..start]);
                json.extend_from_slice(values);
                json.extend_from_slice(&self.json[end..]);
                json
            }
            None => self.json.to_vec(),
        }
    }

    /// The JSON without the computed attributes (the entity API without `withCA=true`).
    pub fn without_computed(&self) -> Vec<u8> {
        match self.computed {
            Some(ComputedRange {
                cut: (start, end), ..
            }) => {
                let mut json = Vec::with_capacity(self.json.len() - (end - start));
                json.extend_from_slice(&self.json[..start]);
                json.extend_from_slice(&self.json[end..]);
                json
            }
            None => self.json.to_vec(),
        }
    }
}

fn write_member(json: &mut Vec<u8>, key: &str, value: &Value) -> Result<()> {
    serde_json::to_writer(&mut *json, key).map_err(Error::internal)?;
    json.push(b':');
    serde_json::to_writer(&mut *json, value).map_err(Error::internal)
}

/// Serializes a view (`{"entity": {...}, ...}`) with `computed` as
/// `entity._{tenant}.SystemComputedAttributes` (placed first) and `membership` as
/// `entity.segmentMembership` (placed last), recording where both are; whatever the view holds
/// at those two places is replaced.
pub fn render_view(
    view: &Value,
    tenant_key: &str,
    computed: Option<&[u8]>,
    membership: Option<&[u8]>,
) -> Result<RenderedView> {
    const GROUP: &str = crate::computed::definitions::FIELD_GROUP;
    let empty = serde_json::Map::new();
    let outer = view.as_object().unwrap_or(&empty);
    let entity = outer
        .get("entity")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let tenant = entity
        .get(tenant_key)
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut json = Vec::with_capacity(512);
    json.extend_from_slice(b"{\"entity\":{");
    let mut range = None;
    let tenant_rest: Vec<(&String, &Value)> = tenant
        .iter()
        .filter(|(k, _)| computed.is_none() || k.as_str() != GROUP)
        .collect();
    let entity_rest: Vec<(&String, &Value)> = entity
        .iter()
        .filter(|(k, _)| k.as_str() != "segmentMembership" || membership.is_none())
        .filter(|(k, _)| computed.is_none() || k.as_str() != tenant_key)
        .collect();
    let more_in_entity = !entity_rest.is_empty() || membership.is_some();
    let mut first = true;
    if let Some(computed) = computed {
        let member_start = json.len();
        serde_json::to_writer(&mut json, tenant_key).map_err(Error::internal)?;
        json.extend_from_slice(b":{");
        let group_start = json.len();
        serde_json::to_writer(&mut json, GROUP).map_err(Error::internal)?;
        json.push(b':');
        let value_start = json.len();
        json.extend_from_slice(computed);
        let value_end = json.len();
        let cut = if tenant_rest.is_empty() {
            json.push(b'}');
            if more_in_entity {
                json.push(b',');
            }
            (member_start, json.len())
        } else {
            json.push(b',');
            let cut = (group_start, json.len());
            let mut first_rest = true;
            for (key, value) in &tenant_rest {
                if !first_rest {
                    json.push(b',');
                }
                first_rest = false;
                write_member(&mut json, key, value)?;
            }
            json.push(b'}');
            if more_in_entity {
                json.push(b',');
            }
            cut
        };
        range = Some(ComputedRange {
            cut,
            value: (value_start, value_end),
        });
        first = true; // the comma after the member is written already
    }
    for (key, value) in &entity_rest {
        if !first {
            json.push(b',');
        }
        first = false;
        write_member(&mut json, key, value)?;
    }
    let mut membership_range = None;
    if let Some(membership) = membership {
        if !first {
            json.push(b',');
        }
        json.extend_from_slice(b"\"segmentMembership\":");
        let start = json.len();
        json.extend_from_slice(membership);
        membership_range = Some((start, json.len()));
    }
    json.push(b'}');
    for (key, value) in outer.iter().filter(|(k, _)| k.as_str() != "entity") {
        json.push(b',');
        write_member(&mut json, key, value)?;
    }
    json.push(b'}');
    Ok(RenderedView {
        json,
        computed: range,
        membership: membership_range,
    })
}

/// A stored view's bytes: stamp length (u16, its top bit set when the JSON is packed), stamp,
/// six u32 (computed cut and value ranges, membership range, all into the JSON text; zeros when
/// absent), JSON ([`pack_json`]ed when that is smaller; views stored before are plain text).
pub fn encode_view(
    stamp: &str,
    json: &[u8],
    computed: Option<ComputedRange>,
    membership: Option<(usize, usize)>,
) -> Vec<u8> {
    let packed = compress_json(json);
    let body = packed.as_deref().unwrap_or(json);
    let mut bytes = Vec::with_capacity(26 + stamp.len() + body.len());
    let flag = if packed.is_some() { VIEW_PACKED } else { 0 };
    let length = (stamp.len() as u16 & !VIEW_PACKED) | flag;
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(stamp.as_bytes());
    let c = computed.unwrap_or(ComputedRange {
        cut: (0, 0),
        value: (0, 0),
    });
    let m = membership.unwrap_or((0, 0));
    for at in [c.cut.0, c.cut.1, c.value.0, c.value.1, m.0, m.1] {
        bytes.extend_from_slice(&(at as u32).to_be_bytes());
    }
    bytes.extend_from_slice(body);
    bytes
}

/// The bit of a stored view's stamp length that says its JSON is packed.
const VIEW_PACKED: u16 = 0x8000;

/// Reads a stored view (`None` when the bytes are not one).
pub fn decode_view(bytes: &[u8]) -> Option<StoredView<'_>> {
    let prefix = u16::from_be_bytes(bytes.get(..2)?.try_into().ok()?);
    let length = (prefix & !VIEW_PACKED) as usize;
    let stamp = std::str::from_utf8(bytes.get(2..2 + length)?).ok()?;
    let header = bytes.get(2 + length..2 + length + 24)?;
    let at = |i: usize| -> Option<usize> {
        Some(u32::from_be_bytes(header.get(i * 4..i * 4 + 4)?.try_into().ok()?) as usize)
    };
    let body = &bytes[2 + length + 24..];
    let json = match prefix & VIEW_PACKED {
        0 => Cow::Borrowed(body),
        _ => match unpack_json(body).ok()? {
            Cow::Owned(text) => Cow::Owned(text),
            // Packed views always start with the marker; plain text here is not a view.
            Cow::Borrowed(_) => return None,
        },
    };
    let valid = |start: usize, end: usize| end > start && end <= json.len();
    let (cut, value, member) = ((at(0)?, at(1)?), (at(2)?, at(3)?), (at(4)?, at(5)?));
    Some(StoredView {
        stamp,
        computed: (valid(cut.0, cut.1) && valid(value.0, value.1))
            .then_some(ComputedRange { cut, value }),
        membership: valid(member.0, member.1).then_some(member),
        json,
    })
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

#[cfg(test)]
mod profile_record_tests {
    use super::*;
    use crate::guardrails::{Guardrail, GuardrailHit};
    use crate::identity::graph::{Node, Source};

    /// What `ProfileRecord` looked like before graphs kept guardrail hits.
    #[derive(Serialize)]
    enum RecordBefore {
        Live(GraphBefore),
        Forward(ProfileId),
    }

    #[derive(Serialize)]
    struct GraphBefore {
        nodes: Vec<Node>,
        edges: Vec<crate::identity::graph::Edge>,
        removed: Vec<crate::identity::graph::RemovedLink>,
        refused: Vec<crate::identity::graph::RefusedIdentity>,
        changed_ms: i64,
        merged_profiles: Vec<u64>,
    }

    fn node() -> Node {
        Node {
            identity: IdentityKey::new("Email".to_owned(), "a@example.com"),
            first_seen_ms: 1,
            last_seen_ms: 2,
            source: Source {
                dataset: "d".into(),
                record: "r:0".into(),
            },
        }
    }

    #[test]
    fn graphs_stored_before_guardrail_hits_still_load() {
        let before = RecordBefore::Live(GraphBefore {
            nodes: vec![node()],
            edges: vec![],
            removed: vec![],
            refused: vec![],
            changed_ms: 5,
            merged_profiles: vec![3],
        });
        let bytes = encode(&before).expect("encode");
        assert!(is_live_record(&bytes));
        let ProfileRecord::Live(graph) = decode::<ProfileRecord>(&bytes).expect("decode") else {
            panic!("a live graph");
        };
        assert_eq!(graph.nodes, vec![node()]);
        assert_eq!(
            (graph.changed_ms, graph.merged_profiles.clone()),
            (5, vec![3])
        );
        assert!(graph.guardrails.is_empty());

        let forward = encode(&RecordBefore::Forward(ProfileId(9))).expect("encode");
        assert!(!is_live_record(&forward));
        assert!(matches!(
            decode::<ProfileRecord>(&forward).expect("decode"),
            ProfileRecord::Forward(ProfileId(9))
        ));
        assert_eq!(
            encode(&ProfileRecord::Forward(ProfileId(9))).expect("encode"),
            forward,
            "forwards keep their bytes"
        );
    }

    #[test]
    fn a_graph_with_hits_round_trips() {
        let mut graph = Graph {
            nodes: vec![node()],
            ..Graph::default()
        };
        graph.guardrails.push(GuardrailHit {
            guardrail: Guardrail::EventsTrimmed,
            limit: 5,
            count: 2,
            last_at_ms: 7,
        });
        let bytes = encode_live(&graph).expect("encode");
        assert!(is_live_record(&bytes));
        assert_eq!(
            encode(&ProfileRecord::Live(graph.clone())).expect("encode"),
            bytes
        );
        let ProfileRecord::Live(back) = decode::<ProfileRecord>(&bytes).expect("decode") else {
            panic!("a live graph");
        };
        assert_eq!(back, graph);
    }
}

#[cfg(test)]
mod view_tests {
    use super::*;
    use serde_json::json;

    fn parse(json: &[u8]) -> Value {
        serde_json::from_slice(json).unwrap()
    }

    #[test]
    fn parts_are_placed_replaced_and_cut() {
        for view in [
            json!({"entity": {"person": {"name": "A \"quoted\" }"}, "_t": {"tags": ["x"]}, "z": [1]}, "entityId": "x"}),
            json!({"entity": {"person": {"name": "B"}}, "entityId": "y"}),
            json!({"entity": {}}),
        ] {
            let ca = br#"{"spend":{"value":10}}"#;
            let rendered = render_view(&view, "_t", Some(ca), Some(br#"{"ups":{}}"#)).unwrap();
            let mut expected = view.clone();
            expected["entity"]["segmentMembership"] = json!({"ups": {}});
            if expected["entity"].get("_t").is_none() {
                expected["entity"]["_t"] = json!({});
            }
            expected["entity"]["_t"]["SystemComputedAttributes"] = json!({"spend": {"value": 10}});
            assert_eq!(parse(&rendered.json), expected);

            let bytes = rendered.encode("stamp");
            let stored = decode_view(&bytes).unwrap();
            assert_eq!(stored.stamp, "stamp");
            let replaced = stored
                .replace(
                    Some(br#"{"spend":{"value":12.5},"n":{"value":2}}"#),
                    Some(br#"{"ups":{"s":{"status":"realized"}}}"#),
                )
                .unwrap();
            expected["entity"]["_t"]["SystemComputedAttributes"] =
                json!({"spend": {"value": 12.5}, "n": {"value": 2}});
            expected["entity"]["segmentMembership"] = json!({"ups": {"s": {"status": "realized"}}});
            assert_eq!(parse(&replaced.json), expected);

            let bytes = replaced.encode("stamp");
            let stored = decode_view(&bytes).unwrap();
            let mut without = expected.clone();
            let tenant = without["entity"]["_t"].as_object_mut().unwrap();
            tenant.remove("SystemComputedAttributes");
            if tenant.is_empty() {
                without["entity"].as_object_mut().unwrap().remove("_t");
            }
            assert_eq!(parse(&stored.without_computed()), without);
            let only_membership = stored.replace(None, Some(b"{}")).unwrap();
            expected["entity"]["segmentMembership"] = json!({});
            assert_eq!(parse(&only_membership.json), expected);
        }
    }

    #[test]
    fn a_view_without_parts() {
        let view = json!({"entity": {"a": 1}, "b": 2});
        let rendered = render_view(&view, "_t", None, None).unwrap();
        assert_eq!(parse(&rendered.json), view);
        let bytes = rendered.encode("s");
        let stored = decode_view(&bytes).unwrap();
        assert!(stored.membership.is_none() && stored.computed.is_none());
        assert!(stored.replace(None, Some(b"{}")).is_none());
        assert!(stored.replace(Some(b"{}"), None).is_none());
        assert_eq!(parse(&stored.without_computed()), view);
        let membership_only = render_view(&view, "_t", None, Some(b"{}")).unwrap();
        assert_eq!(
            parse(&membership_only.json)["entity"]["segmentMembership"],
            json!({})
        );
    }
}
