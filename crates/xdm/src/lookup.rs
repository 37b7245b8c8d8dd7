//! Finding a field in a tree by dotted path or JSON pointer.

use crate::field::{Field, FieldType, ObjectField};

/// The field at `path`, written dotted (`person.name.firstName`) or as a JSON pointer
/// (`/person/name/firstName`, with `~1` for `/` and `~0` for `~`).
///
/// Array items are traversed transparently: `productListItems.SKU` is the `SKU` of the item
/// object, and a numeric segment right after an array (`/productListItems/0/SKU`) is taken as an
/// index. A map consumes one segment of any value as its key: `identityMap.ECID.id`. The empty
/// path names the root, which is not a `Field`, so it finds nothing.
pub fn lookup<'a>(root: &'a ObjectField, path: &str) -> Option<&'a Field> {
    let segments: Vec<String> = match path.strip_prefix('/') {
        Some(pointer) => pointer.split('/').map(unescape_pointer_segment).collect(),
        None if path.is_empty() => return None,
        None => path.split('.').map(str::to_string).collect(),
    };
    let (first, rest) = segments.split_first()?;
    let mut current = root.properties.get(first)?;
    for segment in rest {
        current = step(current, segment)?;
    }
    Some(current)
}

fn step<'a>(field: &'a Field, segment: &str) -> Option<&'a Field> {
    match &field.ty {
        FieldType::Object(object) => object.properties.get(segment),
        FieldType::Map(value) => Some(value),
        FieldType::Array(item) => {
            let is_index = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
            if is_index {
                Some(item)
            } else {
                step(item, segment)
            }
        }
        _ => None,
    }
}

fn unescape_pointer_segment(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}
