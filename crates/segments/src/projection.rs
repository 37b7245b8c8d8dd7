//! Decoding only what definitions read: stored profiles and events are JSON, and most of each
//! is never looked at by any definition. A projection parses the bytes, skipping (without
//! building) every part no definition can see, so evaluation costs what it reads.
//!
//! Two shapes, because the two are read differently:
//! - [`PathProjection`] keeps dotted paths and everything under them (the profile: every read
//!   of it starts at the root, so [`crate::Dependencies::profile_fields`] names whole paths);
//! - [`EventProjection`] keeps field names at any depth (events are reached through filters,
//!   variables and nested arrays, so a definition knows the names it steps through, not always
//!   the full path: [`crate::EventFields`]).
//!
//! Both keep every array item (counts and positions stay right) and every object they keep the
//! key of (presence stays right), only dropping keys under them that nothing names.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};

use crate::{Definition, EventFields};

/// Keeps the given dotted paths of a JSON object and everything under them.
#[derive(Debug, Clone)]
pub struct PathProjection {
    root: PathNode,
}

#[derive(Debug, Clone)]
enum PathNode {
    Everything,
    Only(HashMap<Box<str>, PathNode>),
}

impl PathProjection {
    /// A projection keeping `paths` (`""` keeps everything). Paths go through arrays:
    /// `productListItems.SKU` keeps the SKU of every item.
    pub fn new<'p>(paths: impl IntoIterator<Item = &'p str>) -> PathProjection {
        let mut root = PathNode::Only(HashMap::new());
        for path in paths {
            let mut node = &mut root;
            for name in path.split('.').filter(|n| !n.is_empty()) {
                node = match node {
                    PathNode::Everything => break,
                    PathNode::Only(children) => children
                        .entry(name.into())
                        .or_insert_with(|| PathNode::Only(HashMap::new())),
                };
            }
            *node = PathNode::Everything;
        }
        PathProjection { root }
    }

    /// A projection keeping everything.
    pub fn everything() -> PathProjection {
        PathProjection {
            root: PathNode::Everything,
        }
    }

    /// The profile paths `definitions` read, and `also`.
    pub fn of_profile<'d>(
        definitions: impl IntoIterator<Item = &'d Definition>,
        also: &[&str],
    ) -> PathProjection {
        let mut paths: Vec<&str> = also.to_vec();
        for definition in definitions {
            paths.extend(definition.deps.profile_fields.iter().map(String::as_str));
        }
        PathProjection::new(paths)
    }

    /// Also keeps `path` itself, but none of what is under it unless already kept: enough to
    /// tell whether it is there.
    pub fn with_present(mut self, path: &str) -> PathProjection {
        let mut node = &mut self.root;
        for name in path.split('.').filter(|n| !n.is_empty()) {
            node = match node {
                PathNode::Everything => break,
                PathNode::Only(children) => children
                    .entry(name.into())
                    .or_insert_with(|| PathNode::Only(HashMap::new())),
            };
        }
        self
    }

    /// The same projection under `key` of an enclosing object (a stored view that holds the
    /// profile under `entity`).
    pub fn under(self, key: &str) -> PathProjection {
        PathProjection {
            root: PathNode::Only(HashMap::from([(key.into(), self.root)])),
        }
    }

    /// Parses `json`, keeping what the projection names.
    pub fn parse(&self, json: &[u8]) -> serde_json::Result<Value> {
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        let value = Paths(&self.root).deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(value)
    }
}

/// Keeps the event fields some definitions read ([`EventFields`]), and `eventType`.
#[derive(Debug, Clone)]
pub struct EventProjection {
    /// `None`: everything.
    names: Option<Names>,
}

#[derive(Debug, Clone, Default)]
struct Names {
    read: HashSet<Box<str>>,
    whole: HashSet<Box<str>>,
}

impl EventProjection {
    /// What any of `definitions` may read of an event.
    pub fn of<'d>(definitions: impl IntoIterator<Item = &'d Definition>) -> EventProjection {
        let mut names = Names::default();
        names.read.insert("eventType".into());
        for definition in definitions {
            if !definition.deps.reads_events {
                continue;
            }
            let Some(EventFields { names: read, whole }) = &definition.deps.event_fields else {
                return EventProjection::everything();
            };
            names.read.extend(read.iter().map(|n| n.as_str().into()));
            names.whole.extend(whole.iter().map(|n| n.as_str().into()));
        }
        EventProjection { names: Some(names) }
    }

    /// Also keeps these field names (dotted paths are split into their names).
    pub fn also_keep<'n>(&mut self, names: impl IntoIterator<Item = &'n str>) {
        if let Some(kept) = &mut self.names {
            for path in names {
                kept.read.extend(path.split('.').map(Into::into));
            }
        }
    }

    /// A projection keeping everything.
    pub fn everything() -> EventProjection {
        EventProjection { names: None }
    }

    /// Parses `json`, keeping what the projection names.
    pub fn parse(&self, json: &[u8]) -> serde_json::Result<Value> {
        match &self.names {
            None => serde_json::from_slice(json),
            Some(names) => {
                let mut deserializer = serde_json::Deserializer::from_slice(json);
                let value = Named(names).deserialize(&mut deserializer)?;
                deserializer.end()?;
                Ok(value)
            }
        }
    }
}

/// A JSON object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Which keys of an object a projection keeps, and how to read each one's value.
trait Keep: Copy {
    /// `None`: skip the key; `Some(None)`: keep its value whole; `Some(Some(inner))`: keep it
    /// through `inner`.
    fn child(self, key: &str) -> Option<Option<Self>>;
}

impl<'p> Keep for Paths<'p> {
    fn child(self, key: &str) -> Option<Option<Paths<'p>>> {
        match self.0 {
            PathNode::Everything => Some(None),
            PathNode::Only(children) => children.get(key).map(|node| match node {
                PathNode::Everything => None,
                node => Some(Paths(node)),
            }),
        }
    }
}

impl Keep for Named<'_> {
    fn child(self, key: &str) -> Option<Option<Self>> {
        if !self.0.read.contains(key) {
            None
        } else if self.0.whole.contains(key) {
            Some(None)
        } else {
            Some(Some(self))
        }
    }
}

#[derive(Clone, Copy)]
struct Paths<'p>(&'p PathNode);

#[derive(Clone, Copy)]
struct Named<'p>(&'p Names);

/// Reads one value through a projection: objects keep the keys it names, arrays every item,
/// scalars themselves.
struct Projected<K>(K);

impl<'de, K: Keep> DeserializeSeed<'de> for Projected<K> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> DeserializeSeed<'de> for Paths<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self.0 {
            PathNode::Everything => Value::deserialize(deserializer),
            PathNode::Only(_) => Projected(self).deserialize(deserializer),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Named<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Projected(self).deserialize(deserializer)
    }
}

impl<'de, K: Keep> Visitor<'de> for Projected<K> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(Projected(self.0))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(Key(key)) = map.next_key::<Key>()? {
            match self.0.child(&key) {
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some(None) => {
                    object.insert(key.into_owned(), map.next_value::<Value>()?);
                }
                Some(Some(inner)) => {
                    object.insert(key.into_owned(), map.next_value_seed(Projected(inner))?);
                }
            }
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_paths(paths: &[&str], value: &Value) -> Value {
        PathProjection::new(paths.iter().copied())
            .parse(value.to_string().as_bytes())
            .unwrap()
    }

    #[test]
    fn paths_keep_what_they_name_and_everything_under_it() {
        let profile = json!({
            "person": {"name": {"firstName": "Ada", "lastName": "L"}, "birthDate": "1990-01-01"},
            "loyalty": {"tier": "gold", "points": 10},
            "items": [{"sku": "A", "price": 1}, {"sku": "B"}, 3],
        });
        assert_eq!(
            parse_paths(&["person.name", "items.sku"], &profile),
            json!({
                "person": {"name": {"firstName": "Ada", "lastName": "L"}},
                "items": [{"sku": "A"}, {"sku": "B"}, 3],
            })
        );
        assert_eq!(parse_paths(&[""], &profile), profile);
        assert_eq!(
            parse_paths(&["loyalty", "loyalty.tier"], &profile)["loyalty"],
            profile["loyalty"]
        );
        assert_eq!(parse_paths(&[], &profile), json!({}));
    }

    #[test]
    fn under_reads_the_projection_inside_a_key() {
        let view = json!({"entityId": "x", "entity": {"a": 1, "b": {"c": 2, "d": 3}}});
        let projection = PathProjection::new(["b.c"]).under("entity");
        assert_eq!(
            projection.parse(view.to_string().as_bytes()).unwrap(),
            json!({"entity": {"b": {"c": 2}}})
        );
        let projection = PathProjection::new(["a"])
            .with_present("b")
            .with_present("z");
        assert_eq!(
            projection
                .parse(view["entity"].to_string().as_bytes())
                .unwrap(),
            json!({"a": 1, "b": {}})
        );
        let projection = PathProjection::new(["b"]).with_present("b");
        assert_eq!(
            projection
                .parse(view["entity"].to_string().as_bytes())
                .unwrap(),
            json!({"b": {"c": 2, "d": 3}})
        );
    }

    #[test]
    fn names_keep_keys_at_any_depth_and_whole_values() {
        let names = Names {
            read: [
                "eventType",
                "commerce",
                "order",
                "priceTotal",
                "productListItems",
            ]
            .map(Into::into)
            .into(),
            whole: ["productListItems"].map(Into::into).into(),
        };
        let event = json!({
            "eventType": "commerce.purchases",
            "commerce": {"order": {"priceTotal": 5.5, "currency": "EUR"}, "purchases": {"value": 1}},
            "productListItems": [{"SKU": "X", "quantity": 2}],
            "web": {"webPageDetails": {"name": "home"}},
            "escaped\u{e9}": {"order": 1},
        });
        let projection = EventProjection { names: Some(names) };
        assert_eq!(
            projection.parse(event.to_string().as_bytes()).unwrap(),
            json!({
                "eventType": "commerce.purchases",
                "commerce": {"order": {"priceTotal": 5.5}},
                "productListItems": [{"SKU": "X", "quantity": 2}],
            })
        );
        assert_eq!(
            EventProjection::everything()
                .parse(event.to_string().as_bytes())
                .unwrap(),
            event
        );
    }

    #[test]
    fn escaped_keys_and_bad_json() {
        let projection = PathProjection::new(["a\"b"]);
        assert_eq!(
            projection
                .parse(br#"{"a\"b": [1, {"x": null}], "c": 1}"#)
                .unwrap(),
            json!({"a\"b": [1, {"x": null}]})
        );
        assert!(projection.parse(br#"{"a": "#).is_err());
        assert!(projection.parse(br#"{"a": 1} trailing"#).is_err());
    }
}
