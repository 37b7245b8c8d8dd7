//! The shape of a CSV file's records, worked out once from its header (and mapping): which
//! column holds which XDM path, of which kind, and the tree of objects and arrays they build.

use crate::error::FileError;
use crate::{ColumnTypes, CsvOptions, ScalarKind};

/// One column of the header.
#[derive(Debug)]
pub(crate) struct Column {
    /// The name in the header.
    pub name: String,
    /// The XDM dotted path it fills; `None` for a column the mapping leaves out.
    pub path: Option<String>,
    /// What its cells must be turned into.
    pub kind: ScalarKind,
}

impl Column {
    /// How messages name the column: `column "Points" (loyalty.points)` when mapped to
    /// another name, `column "loyalty.points"` otherwise.
    pub(crate) fn label(&self) -> String {
        match &self.path {
            Some(path) if *path != self.name => format!("column \"{}\" ({path})", self.name),
            _ => format!("column \"{}\"", self.name),
        }
    }
}

/// One step of a path: a field name, or an array index (a segment made of digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Field(String),
    Index(u32),
}

/// A place in the record: a column's cell, or an object/array of places (all keyed by
/// [`Segment::Index`] in an array, by [`Segment::Field`] in an object; arrays sorted by index).
#[derive(Debug)]
pub(crate) enum Node {
    Leaf(usize),
    Group {
        first: usize,
        array: bool,
        children: Vec<(Segment, Node)>,
    },
}

/// The columns and the record tree they build (the root is an object).
#[derive(Debug)]
pub(crate) struct Layout {
    pub columns: Vec<Column>,
    pub root: Vec<(Segment, Node)>,
}

/// Checks the header (already trimmed) and mapping and works out the layout.
pub(crate) fn layout(
    header: &[String],
    options: &CsvOptions,
    types: &dyn ColumnTypes,
) -> Result<Layout, FileError> {
    check_names(header).map_err(FileError::CsvHeader)?;
    let paths = match &options.mapping {
        None => header.iter().map(|name| Some(name.clone())).collect(),
        Some(mapping) => mapped_paths(header, mapping).map_err(FileError::CsvMapping)?,
    };
    let to_error = |message| match options.mapping {
        None => FileError::CsvHeader(message),
        Some(_) => FileError::CsvMapping(message),
    };
    let mut columns = Vec::with_capacity(header.len());
    let mut root = Vec::new();
    for (index, (name, path)) in header.iter().zip(paths).enumerate() {
        let mut kind = ScalarKind::Unknown;
        if let Some(path) = &path {
            let segments = parse_path(path).map_err(|why| match options.mapping {
                None => FileError::CsvHeader(format!("column \"{name}\": {why}")),
                Some(_) => {
                    FileError::CsvMapping(format!("path \"{path}\" of column \"{name}\": {why}"))
                }
            })?;
            kind = types.kind_of(&schema_path(&segments));
            insert(&mut root, &segments, 0, index, header).map_err(to_error)?;
        }
        columns.push(Column {
            name: name.clone(),
            path,
            kind,
        });
    }
    sort_arrays(&mut root);
    Ok(Layout { columns, root })
}

fn check_names(header: &[String]) -> Result<(), String> {
    for (index, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err(format!("column {} has no name", index + 1));
        }
        if let Some(earlier) = header[..index].iter().position(|other| other == name) {
            return Err(format!(
                "column \"{name}\" appears twice (columns {} and {})",
                earlier + 1,
                index + 1
            ));
        }
    }
    Ok(())
}

/// The path of each header column under `mapping` (`None` when unmapped).
fn mapped_paths(
    header: &[String],
    mapping: &[(String, String)],
) -> Result<Vec<Option<String>>, String> {
    let mut paths = vec![None; header.len()];
    for (column, path) in mapping {
        let Some(index) = header.iter().position(|name| name == column) else {
            return Err(format!(
                "the mapping names column \"{column}\", which the header lacks"
            ));
        };
        if paths[index].is_some() {
            return Err(format!("column \"{column}\" is mapped more than once"));
        }
        paths[index] = Some(path.clone());
    }
    Ok(paths)
}

/// `person.name.firstName` → fields; `identityMap.Email.0.id` → fields and an index.
fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    for (position, text) in path.split('.').enumerate() {
        if text.is_empty() {
            return Err(
                "the path has an empty segment (a leading, trailing or doubled dot)".into(),
            );
        }
        let segment = if text.bytes().all(|b| b.is_ascii_digit()) {
            let index = text
                .parse::<u32>()
                .map_err(|_| format!("array index {text} is too large"))?;
            Segment::Index(index)
        } else {
            Segment::Field(text.to_string())
        };
        if position == 0 && matches!(segment, Segment::Index(_)) {
            return Err("the path starts with an array index; records are objects".into());
        }
        segments.push(segment);
    }
    Ok(segments)
}

/// The path asked of [`ColumnTypes::kind_of`]: the field segments only, joined by dots.
fn schema_path(segments: &[Segment]) -> String {
    let fields: Vec<&str> = segments
        .iter()
        .filter_map(|s| match s {
            Segment::Field(name) => Some(name.as_str()),
            Segment::Index(_) => None,
        })
        .collect();
    fields.join(".")
}

fn dotted(segments: &[Segment]) -> String {
    let parts: Vec<String> = segments
        .iter()
        .map(|s| match s {
            Segment::Field(name) => name.clone(),
            Segment::Index(index) => index.to_string(),
        })
        .collect();
    parts.join(".")
}

/// Adds `column`'s leaf at `path[depth..]` under `children`.
fn insert(
    children: &mut Vec<(Segment, Node)>,
    path: &[Segment],
    depth: usize,
    column: usize,
    header: &[String],
) -> Result<(), String> {
    let head = &path[depth];
    let wanted = path
        .get(depth + 1)
        .map(|next| matches!(next, Segment::Index(_)));
    let found = children.iter().position(|(segment, _)| segment == head);
    let node = match (found, wanted) {
        (None, None) => {
            children.push((head.clone(), Node::Leaf(column)));
            return Ok(());
        }
        (None, Some(array)) => {
            let group = Node::Group {
                first: column,
                array,
                children: Vec::new(),
            };
            children.push((head.clone(), group));
            &mut children.last_mut().expect("just pushed").1
        }
        (Some(at), _) => &mut children[at].1,
    };
    let place = dotted(&path[..=depth]);
    let (this, other) = (&header[column], |first: usize| header[first].clone());
    match (node, wanted) {
        (
            Node::Group {
                children, array, ..
            },
            Some(wanted),
        ) if *array == wanted => insert(children, path, depth + 1, column, header),
        (Node::Leaf(first), None) => Err(format!(
            "columns \"{}\" and \"{this}\" both fill \"{place}\"",
            other(*first)
        )),
        (node, wanted) => {
            let (first, theirs) = match node {
                Node::Leaf(first) => (*first, "a value"),
                Node::Group {
                    first, array: true, ..
                } => (*first, "an array"),
                Node::Group {
                    first,
                    array: false,
                    ..
                } => (*first, "an object"),
            };
            let ours = match wanted {
                None => "a value",
                Some(true) => "an array",
                Some(false) => "an object",
            };
            Err(format!(
                "columns \"{}\" and \"{this}\" conflict: \"{place}\" cannot be both {theirs} and {ours}",
                other(first)
            ))
        }
    }
}

fn sort_arrays(children: &mut [(Segment, Node)]) {
    for (_, node) in children.iter_mut() {
        if let Node::Group {
            array, children, ..
        } = node
        {
            if *array {
                children.sort_by_key(|(segment, _)| match segment {
                    Segment::Index(index) => *index,
                    Segment::Field(_) => u32::MAX,
                });
            }
            sort_arrays(children);
        }
    }
}
