//! Writing XDM records (JSON objects) as Parquet with nested columns, the Parquet schema derived
//! from the XDM field tree, records streamed into row groups.
//!
//! The schema follows the field tree ([`xdm::ObjectField`]): an object is a Parquet group, an
//! array a three-level `LIST` (`optional group f (LIST) { repeated group list { required …
//! element; } }`), a map (`identityMap`, `meta:xdmType: map`) a `MAP` of UTF-8 keys
//! (`optional group f (MAP) { repeated group key_value { required binary key (STRING); required
//! … value; } }`). Strings (dates and date-times too, as written) are `BYTE_ARRAY (STRING)`,
//! integers `INT64`, numbers `DOUBLE`, booleans `BOOLEAN`. Fields the tree requires are
//! `required`, every other field `optional`; list elements and map values are `required` (XDM has
//! no null items). Objects without properties have no Parquet counterpart and are left out.
//! These are the shapes Rapport's own reader (`formats`) turns back into the same JSON: absent
//! and `null` fields stay absent, empty arrays and maps stay empty. (One exception: a JSON
//! integer in a `number` field is written as a double, so `5` reads back as `5.0`.) A record that
//! does not fit the tree (a field it does not have, a value of another type, a required field
//! missing) is refused with the JSON pointer of the value.
//!
//! Records are shredded into columns (definition and repetition levels, as in Dremel) as they
//! come; every [`ParquetRecordWriter::row_group_records`] records the columns are encoded
//! (dictionary, Snappy) as one row group and emptied, so memory stays bounded by one row group
//! whatever the number of records.

use std::io::Write;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression, LogicalType, Repetition, Type as PhysicalType};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{Type, TypePtr};
use serde_json::Value;
use xdm::{Field, FieldType, ObjectField};

/// Records per row group unless told otherwise.
pub const DEFAULT_ROW_GROUP_RECORDS: usize = 50_000;

/// Why a record could not be written, or the file not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The record does not fit the schema: `pointer` is the JSON pointer of the offending value.
    #[error("record {record}: {}: {message}", if pointer.is_empty() { "#" } else { pointer })]
    Record {
        /// 1 for the first record written.
        record: u64,
        pointer: String,
        message: String,
    },
    #[error("writing Parquet: {0}")]
    Parquet(#[from] ParquetError),
    /// An earlier error left the file incomplete; nothing more can be written to it.
    #[error("an earlier error stopped this Parquet writer")]
    Stopped,
}

/// Writes records of one XDM schema into one Parquet file.
pub struct ParquetRecordWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    root: Node,
    columns: Vec<Column>,
    row_group_records: usize,
    /// Records in the buffered row group.
    buffered: usize,
    records: u64,
    stopped: bool,
}

impl<W: Write + Send> ParquetRecordWriter<W> {
    /// A writer of records of the field tree `fields` into `out`.
    pub fn new(out: W, fields: &ObjectField) -> Result<ParquetRecordWriter<W>, Error> {
        let mut columns = Vec::new();
        let mut builder = SchemaBuilder {
            columns: &mut columns,
        };
        let (root, parquet_fields) = builder.object(fields, 0, 0)?;
        let schema = Type::group_type_builder("schema")
            .with_fields(parquet_fields)
            .build()?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let file = SerializedFileWriter::new(out, Arc::new(schema), Arc::new(properties))?;
        Ok(ParquetRecordWriter {
            file,
            root: Node {
                kind: Kind::Group(root),
                required: true,
                def: 0,
                leaves: 0..columns.len(),
            },
            columns,
            row_group_records: DEFAULT_ROW_GROUP_RECORDS,
            buffered: 0,
            records: 0,
            stopped: false,
        })
    }

    /// Sets how many records make a row group (at least 1).
    pub fn with_row_group_records(mut self, records: usize) -> ParquetRecordWriter<W> {
        self.row_group_records = records.max(1);
        self
    }

    /// Records per row group.
    pub fn row_group_records(&self) -> usize {
        self.row_group_records
    }

    /// The number of leaf columns of the file.
    pub fn columns(&self) -> usize {
        self.columns.len()
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Adds one record (a JSON object of the schema). A record that does not fit the schema is an
    /// [`Error::Record`] naming the offending value; the file is then incomplete and the writer
    /// refuses anything more ([`Error::Stopped`]).
    pub fn write(&mut self, record: &Value) -> Result<(), Error> {
        if self.stopped {
            return Err(Error::Stopped);
        }
        let result = if record.is_object() {
            shred(&mut self.columns, &self.root, record, 0, 0)
        } else {
            Err(Wrong::new(format!(
                "expected an object, found {}",
                json_type(record)
            )))
        };
        if let Err(wrong) = result {
            self.stopped = true;
            return Err(Error::Record {
                record: self.records + 1,
                pointer: wrong.pointer(),
                message: wrong.message,
            });
        }
        self.records += 1;
        self.buffered += 1;
        if self.buffered >= self.row_group_records {
            self.flush_row_group()
                .inspect_err(|_| self.stopped = true)?;
        }
        Ok(())
    }

    /// Writes the last row group and the footer; returns the output.
    pub fn finish(mut self) -> Result<W, Error> {
        if self.stopped {
            return Err(Error::Stopped);
        }
        if self.buffered > 0 {
            self.flush_row_group()?;
        }
        Ok(self.file.into_inner()?)
    }

    /// Encodes the buffered records as one row group.
    fn flush_row_group(&mut self) -> Result<(), Error> {
        let mut group = self.file.next_row_group()?;
        for column in &mut self.columns {
            let mut writer = group.next_column()?.ok_or_else(|| {
                ParquetError::General("the Parquet schema has fewer columns than expected".into())
            })?;
            let def = (column.max_def > 0).then_some(column.def.as_slice());
            let rep = (column.max_rep > 0).then_some(column.rep.as_slice());
            match &mut column.values {
                Values::Text { bytes, ends } => {
                    // One buffer for the whole column chunk; each value is a slice of it.
                    let capacity = bytes.len();
                    let all = Bytes::from(std::mem::replace(bytes, Vec::with_capacity(capacity)));
                    let mut start = 0;
                    let values: Vec<ByteArray> = ends
                        .iter()
                        .map(|&end| {
                            let value = ByteArray::from(all.slice(start..end));
                            start = end;
                            value
                        })
                        .collect();
                    writer
                        .typed::<ByteArrayType>()
                        .write_batch(&values, def, rep)?;
                    ends.clear();
                }
                Values::Long(values) => {
                    writer.typed::<Int64Type>().write_batch(values, def, rep)?;
                    values.clear();
                }
                Values::Double(values) => {
                    writer.typed::<DoubleType>().write_batch(values, def, rep)?;
                    values.clear();
                }
                Values::Bool(values) => {
                    writer.typed::<BoolType>().write_batch(values, def, rep)?;
                    values.clear();
                }
            }
            writer.close()?;
            column.def.clear();
            column.rep.clear();
        }
        group.close()?;
        self.buffered = 0;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The schema

/// A node of the schema tree, as the shredder walks it.
struct Node {
    kind: Kind,
    /// The record must have this field (when its parent is there).
    required: bool,
    /// The definition level of a value at this node: how many optional or repeated fields are
    /// on the path from the root to it, itself included.
    def: i16,
    /// The leaf columns under this node (columns are numbered depth first, as in the file).
    leaves: Range<usize>,
}

enum Kind {
    /// The column's index.
    Leaf(usize),
    /// The children, sorted by name (the field tree's order).
    Group(Vec<(String, Node)>),
    /// `rep`: the repetition level of the repeated `list` group.
    List { element: Box<Node>, rep: i16 },
    /// `rep`: the repetition level of the repeated `key_value` group.
    Map {
        key: usize,
        value: Box<Node>,
        rep: i16,
    },
}

/// One leaf column while its row group is buffered.
struct Column {
    values: Values,
    def: Vec<i16>,
    rep: Vec<i16>,
    max_def: i16,
    max_rep: i16,
}

enum Values {
    /// Strings one after the other in `bytes`; `ends[i]` is where the i-th ends.
    Text {
        bytes: Vec<u8>,
        ends: Vec<usize>,
    },
    Long(Vec<i64>),
    Double(Vec<f64>),
    Bool(Vec<bool>),
}

impl Column {
    /// An absent value (or an empty list or map) whose deepest defined ancestor has level `def`.
    fn push_absent(&mut self, def: i16, rep: i16) {
        if self.max_def > 0 {
            self.def.push(def);
        }
        if self.max_rep > 0 {
            self.rep.push(rep);
        }
    }

    /// The levels of a value present at this leaf.
    fn push_levels(&mut self, rep: i16) {
        if self.max_def > 0 {
            self.def.push(self.max_def);
        }
        if self.max_rep > 0 {
            self.rep.push(rep);
        }
    }

    /// A map key (the column is a string column).
    fn push_text(&mut self, text: &str, rep: i16) {
        if let Values::Text { bytes, ends } = &mut self.values {
            bytes.extend_from_slice(text.as_bytes());
            ends.push(bytes.len());
        }
        self.push_levels(rep);
    }

    /// A JSON value at this leaf.
    fn push(&mut self, value: &Value, rep: i16) -> Result<(), Wrong> {
        match (&mut self.values, value) {
            (Values::Text { bytes, ends }, Value::String(text)) => {
                bytes.extend_from_slice(text.as_bytes());
                ends.push(bytes.len());
            }
            (Values::Long(values), Value::Number(number)) => match number.as_i64() {
                Some(n) => values.push(n),
                None => return Err(Wrong::new(format!("expected an integer, found {number}"))),
            },
            (Values::Double(values), Value::Number(number)) => {
                values.push(number.as_f64().unwrap_or(f64::NAN))
            }
            (Values::Bool(values), Value::Bool(flag)) => values.push(*flag),
            (values, other) => {
                let expected = match values {
                    Values::Text { .. } => "a string",
                    Values::Long(_) => "an integer",
                    Values::Double(_) => "a number",
                    Values::Bool(_) => "a boolean",
                };
                return Err(Wrong::new(format!(
                    "expected {expected}, found {}",
                    json_type(other)
                )));
            }
        }
        self.push_levels(rep);
        Ok(())
    }
}

/// Builds the Parquet schema and the shredder's tree together, numbering columns depth first.
struct SchemaBuilder<'a> {
    columns: &'a mut Vec<Column>,
}

/// A field's node and Parquet type; `None` for a field without columns.
type Built = Result<Option<(Node, Type)>, ParquetError>;

/// An object's children (named nodes, sorted by name) and their Parquet types.
type Children = (Vec<(String, Node)>, Vec<TypePtr>);

impl SchemaBuilder<'_> {
    /// The children of an object whose own definition level is `def` and whose repetition level
    /// is `rep`.
    fn object(
        &mut self,
        object: &ObjectField,
        def: i16,
        rep: i16,
    ) -> Result<Children, ParquetError> {
        let mut nodes = Vec::new();
        let mut types = Vec::new();
        for (name, field) in &object.properties {
            let required = object.required.contains(name);
            if let Some((node, parquet)) = self.field(name, field, required, def, rep)? {
                nodes.push((name.clone(), node));
                types.push(Arc::new(parquet));
            }
        }
        Ok((nodes, types))
    }

    /// The node and Parquet type of one field under a parent at levels `(parent_def, rep)`;
    /// `None` for an object without properties (Parquet has no empty groups).
    fn field(
        &mut self,
        name: &str,
        field: &Field,
        required: bool,
        parent_def: i16,
        rep: i16,
    ) -> Built {
        let def = parent_def + i16::from(!required);
        let repetition = if required {
            Repetition::REQUIRED
        } else {
            Repetition::OPTIONAL
        };
        let first = self.columns.len();
        let (kind, parquet) = match &field.ty {
            FieldType::String(_) => self.leaf_kind(name, repetition, def, rep, LeafType::Text)?,
            FieldType::Integer { .. } => {
                self.leaf_kind(name, repetition, def, rep, LeafType::Long)?
            }
            FieldType::Number { .. } => {
                self.leaf_kind(name, repetition, def, rep, LeafType::Double)?
            }
            FieldType::Boolean => self.leaf_kind(name, repetition, def, rep, LeafType::Bool)?,
            FieldType::Object(object) => {
                let (children, fields) = self.object(object, def, rep)?;
                if children.is_empty() {
                    return Ok(None);
                }
                let group = Type::group_type_builder(name)
                    .with_repetition(repetition)
                    .with_fields(fields)
                    .build()?;
                (Kind::Group(children), group)
            }
            FieldType::Array(item) => {
                // optional group name (LIST) { repeated group list { required … element; } }
                let Some((element, element_type)) =
                    self.field("element", item, true, def + 1, rep + 1)?
                else {
                    return Ok(None);
                };
                let list = Type::group_type_builder("list")
                    .with_repetition(Repetition::REPEATED)
                    .with_fields(vec![Arc::new(element_type)])
                    .build()?;
                let group = Type::group_type_builder(name)
                    .with_repetition(repetition)
                    .with_logical_type(Some(LogicalType::List))
                    .with_fields(vec![Arc::new(list)])
                    .build()?;
                let kind = Kind::List {
                    element: Box::new(element),
                    rep: rep + 1,
                };
                (kind, group)
            }
            FieldType::Map(value) => {
                // optional group name (MAP) { repeated group key_value {
                //   required binary key (STRING); required … value; } }
                let (key, key_type) = self.leaf(
                    "key",
                    Repetition::REQUIRED,
                    def + 1,
                    rep + 1,
                    LeafType::Text,
                )?;
                let Some((value, value_type)) =
                    self.field("value", value, true, def + 1, rep + 1)?
                else {
                    // Values without columns: no map, and no key column either.
                    self.columns.truncate(first);
                    return Ok(None);
                };
                let entries = Type::group_type_builder("key_value")
                    .with_repetition(Repetition::REPEATED)
                    .with_fields(vec![Arc::new(key_type), Arc::new(value_type)])
                    .build()?;
                let group = Type::group_type_builder(name)
                    .with_repetition(repetition)
                    .with_logical_type(Some(LogicalType::Map))
                    .with_fields(vec![Arc::new(entries)])
                    .build()?;
                let kind = Kind::Map {
                    key,
                    value: Box::new(value),
                    rep: rep + 1,
                };
                (kind, group)
            }
        };
        let node = Node {
            kind,
            required,
            def,
            leaves: first..self.columns.len(),
        };
        Ok(Some((node, parquet)))
    }

    /// A leaf column whose values have definition level `def` and repetition level at most
    /// `rep`.
    fn leaf(
        &mut self,
        name: &str,
        repetition: Repetition,
        def: i16,
        rep: i16,
        ty: LeafType,
    ) -> Result<(usize, Type), ParquetError> {
        let (physical, logical, values) = match ty {
            LeafType::Text => (
                PhysicalType::BYTE_ARRAY,
                Some(LogicalType::String),
                Values::Text {
                    bytes: Vec::new(),
                    ends: Vec::new(),
                },
            ),
            LeafType::Long => (PhysicalType::INT64, None, Values::Long(Vec::new())),
            LeafType::Double => (PhysicalType::DOUBLE, None, Values::Double(Vec::new())),
            LeafType::Bool => (PhysicalType::BOOLEAN, None, Values::Bool(Vec::new())),
        };
        let parquet = Type::primitive_type_builder(name, physical)
            .with_repetition(repetition)
            .with_logical_type(logical)
            .build()?;
        self.columns.push(Column {
            values,
            def: Vec::new(),
            rep: Vec::new(),
            max_def: def,
            max_rep: rep,
        });
        Ok((self.columns.len() - 1, parquet))
    }

    /// [`SchemaBuilder::leaf`] as a node kind.
    fn leaf_kind(
        &mut self,
        name: &str,
        repetition: Repetition,
        def: i16,
        rep: i16,
        ty: LeafType,
    ) -> Result<(Kind, Type), ParquetError> {
        let (column, parquet) = self.leaf(name, repetition, def, rep, ty)?;
        Ok((Kind::Leaf(column), parquet))
    }
}

#[derive(Clone, Copy)]
enum LeafType {
    Text,
    Long,
    Double,
    Bool,
}

// ---------------------------------------------------------------------------------------------
// Shredding

/// What is wrong with a record: the message, and the path to the value, innermost first (built
/// only on the way out of an error).
struct Wrong {
    message: String,
    reversed_path: Vec<String>,
}

impl Wrong {
    fn new(message: String) -> Wrong {
        Wrong {
            message,
            reversed_path: Vec::new(),
        }
    }

    fn within(mut self, segment: impl Into<String>) -> Wrong {
        self.reversed_path.push(segment.into());
        self
    }

    /// The JSON pointer of the offending value.
    fn pointer(&self) -> String {
        let mut pointer = String::new();
        for segment in self.reversed_path.iter().rev() {
            pointer.push('/');
            pointer.push_str(&segment.replace('~', "~0").replace('/', "~1"));
        }
        pointer
    }
}

/// Writes `value`, present, at `node`, whose parent is defined; `rep` is the repetition level of
/// the first value written to each column (the level of the innermost list or map that repeats
/// here, or the one of the caller).
fn shred(
    columns: &mut [Column],
    node: &Node,
    value: &Value,
    parent_def: i16,
    rep: i16,
) -> Result<(), Wrong> {
    if value.is_null() {
        if node.required {
            return Err(Wrong::new("missing required field".into()));
        }
        for column in &mut columns[node.leaves.clone()] {
            column.push_absent(parent_def, rep);
        }
        return Ok(());
    }
    match &node.kind {
        Kind::Leaf(column) => columns[*column].push(value, rep),
        Kind::Group(children) => {
            let Value::Object(object) = value else {
                return Err(Wrong::new(format!(
                    "expected an object, found {}",
                    json_type(value)
                )));
            };
            if children.len() > 64 {
                return shred_wide_group(columns, node, children, object, rep);
            }
            // The record's fields (usually far fewer than the schema's) are looked up among the
            // children, sorted by name; then the children not seen are written absent. Columns
            // are independent, so the order children are written in does not matter.
            let mut seen = 0u64;
            for (key, child_value) in object {
                let Ok(index) = children.binary_search_by(|(name, _)| name.as_str().cmp(key))
                else {
                    return Err(Wrong::new("not a field of the schema".into()).within(key.as_str()));
                };
                seen |= 1 << index;
                shred(columns, &children[index].1, child_value, node.def, rep)
                    .map_err(|wrong| wrong.within(key.as_str()))?;
            }
            for (index, (name, child)) in children.iter().enumerate() {
                if seen & (1 << index) == 0 {
                    shred(columns, child, &Value::Null, node.def, rep)
                        .map_err(|wrong| wrong.within(name.as_str()))?;
                }
            }
            Ok(())
        }
        Kind::List {
            element,
            rep: list_rep,
        } => {
            let Value::Array(items) = value else {
                return Err(Wrong::new(format!(
                    "expected an array, found {}",
                    json_type(value)
                )));
            };
            if items.is_empty() {
                for column in &mut columns[element.leaves.clone()] {
                    column.push_absent(node.def, rep);
                }
                return Ok(());
            }
            for (index, item) in items.iter().enumerate() {
                let rep = if index == 0 { rep } else { *list_rep };
                shred(columns, element, item, node.def + 1, rep)
                    .map_err(|wrong| wrong.within(index.to_string()))?;
            }
            Ok(())
        }
        Kind::Map {
            key,
            value: value_node,
            rep: map_rep,
        } => {
            let Value::Object(entries) = value else {
                return Err(Wrong::new(format!(
                    "expected an object, found {}",
                    json_type(value)
                )));
            };
            if entries.is_empty() {
                columns[*key].push_absent(node.def, rep);
                for column in &mut columns[value_node.leaves.clone()] {
                    column.push_absent(node.def, rep);
                }
                return Ok(());
            }
            for (index, (name, entry)) in entries.iter().enumerate() {
                let rep = if index == 0 { rep } else { *map_rep };
                columns[*key].push_text(name, rep);
                shred(columns, value_node, entry, node.def + 1, rep)
                    .map_err(|wrong| wrong.within(name.as_str()))?;
            }
            Ok(())
        }
    }
}

/// [`shred`] of an object with more than 64 fields in the schema: each child looked up in the
/// record.
fn shred_wide_group(
    columns: &mut [Column],
    node: &Node,
    children: &[(String, Node)],
    object: &serde_json::Map<String, Value>,
    rep: i16,
) -> Result<(), Wrong> {
    let mut found = 0;
    for (name, child) in children {
        let child_value = object.get(name);
        found += usize::from(child_value.is_some());
        shred(
            columns,
            child,
            child_value.unwrap_or(&Value::Null),
            node.def,
            rep,
        )
        .map_err(|wrong| wrong.within(name.as_str()))?;
    }
    if found < object.len() {
        let unknown = object
            .keys()
            .find(|key| {
                children
                    .binary_search_by(|(name, _)| name.cmp(key))
                    .is_err()
            })
            .map_or_else(String::new, String::clone);
        return Err(Wrong::new("not a field of the schema".into()).within(unknown));
    }
    Ok(())
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;
    use std::path::Path;

    use formats::{read_file, InputFormat, NoColumnTypes};
    use proptest::prelude::*;
    use serde_json::{json, Map};

    use super::*;

    /// A tree with every shape: required and optional leaves of each type, nested objects, lists
    /// of scalars, of lists and of objects, maps of lists (identityMap), of maps and of scalars,
    /// and an object without properties (left out of the file).
    fn tree() -> ObjectField {
        let identity = ObjectField::new()
            .with_required("id", Field::string())
            .with("authenticatedState", Field::string())
            .with("primary", Field::boolean());
        let item = ObjectField::new()
            .with_required("SKU", Field::string())
            .with("quantity", Field::integer())
            .with("tags", Field::array(Field::string()))
            .with("attributes", Field::map(Field::string()));
        let consent = ObjectField::new()
            .with("val", Field::string())
            .with("on", Field::boolean());
        let name = ObjectField::new()
            .with("firstName", Field::string())
            .with("lastName", Field::string());
        ObjectField::new()
            .with_required("_id", Field::string())
            .with(
                "identityMap",
                Field::map(Field::array(Field::object(identity))),
            )
            .with(
                "person",
                Field::object(
                    ObjectField::new()
                        .with("name", Field::object(name))
                        .with("age", Field::integer()),
                ),
            )
            .with("scores", Field::array(Field::number()))
            .with("matrix", Field::array(Field::array(Field::integer())))
            .with("items", Field::array(Field::object(item)))
            .with("idSpecific", Field::map(Field::map(Field::object(consent))))
            .with("nothing", Field::object(ObjectField::new()))
            .with("flag", Field::boolean())
    }

    /// Writes `records` with row groups of `group` records into `path`.
    fn write_file(path: &Path, fields: &ObjectField, records: &[Value], group: usize) {
        let file = std::fs::File::create(path).expect("create");
        let mut writer = ParquetRecordWriter::new(file, fields)
            .expect("writer")
            .with_row_group_records(group);
        for record in records {
            writer.write(record).expect("a record of the schema");
        }
        writer.finish().expect("finish");
    }

    /// Every record of a Parquet file, as Rapport's batch reader reads it.
    fn read_back(path: &Path) -> Vec<Value> {
        let mut values = Vec::new();
        read_file(path, &InputFormat::Parquet, &NoColumnTypes, &mut |row| {
            values.push(row.value.expect("a good row"));
            ControlFlow::Continue(())
        })
        .expect("a readable file");
        values
    }

    /// The record as it reads back: `null` fields are absent.
    fn without_nulls(value: &Value) -> Value {
        match value {
            Value::Object(object) => Value::Object(
                object
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), without_nulls(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
            other => other.clone(),
        }
    }

    #[test]
    fn every_shape_reads_back_as_written() {
        let records = vec![
            json!({"_id": "full",
                "identityMap": {"Email": [{"id": "a@example.com", "primary": true}], "ECID": [{"id": "1", "authenticatedState": "ambiguous"}, {"id": "2"}]},
                "person": {"name": {"firstName": "Ada", "lastName": "Lovelace"}, "age": 36},
                "scores": [1.5, -2.0, 0.0],
                "matrix": [[1, 2], [], [3]],
                "items": [{"SKU": "A", "quantity": 2, "tags": ["x", "y"], "attributes": {"size": "L"}}, {"SKU": "B"}],
                "idSpecific": {"Email": {"a@example.com": {"val": "y", "on": true}}, "ECID": {}},
                "flag": false}),
            json!({"_id": "bare"}),
            json!({"_id": "empties", "identityMap": {}, "person": {}, "scores": [], "matrix": [[]], "items": [], "idSpecific": {}}),
            json!({"_id": "nulls", "person": {"name": null, "age": null}, "scores": null, "flag": null}),
            json!({"_id": "deep", "person": {"name": {}}, "items": [{"SKU": "C", "tags": [], "attributes": {}}], "idSpecific": {"CRMID": {"1": {}, "2": {"on": false}}}}),
            json!({"_id": "ünï/cödé~", "identityMap": {"Ph/one": [{"id": "+1 555"}]}, "matrix": [[-9_223_372_036_854_775_808_i64, 9_223_372_036_854_775_807_i64]]}),
        ];
        let dir = tempfile::tempdir().expect("dir");
        for group in [1, 2, 4, 100] {
            let path = dir.path().join(format!("every-{group}.parquet"));
            write_file(&path, &tree(), &records, group);
            let expected: Vec<Value> = records.iter().map(without_nulls).collect();
            assert_eq!(read_back(&path), expected, "row groups of {group}");
        }
    }

    #[test]
    fn identity_map_is_a_map_of_lists_of_groups() {
        let fields = ObjectField::new().with(
            "identityMap",
            xdm::class_fields(xdm::Class::Profile)
                .get("identityMap")
                .expect("identityMap")
                .clone(),
        );
        let writer = ParquetRecordWriter::new(Vec::new(), &fields).expect("writer");
        let mut text = Vec::new();
        parquet::schema::printer::print_schema(&mut text, writer.file.schema_descr().root_schema());
        let text = String::from_utf8(text).expect("utf-8");
        let shape: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(
            shape.join(" "),
            "message schema { OPTIONAL group identityMap (MAP) { REPEATED group key_value { \
             REQUIRED BYTE_ARRAY key (STRING); REQUIRED group value (LIST) { REPEATED group list { \
             REQUIRED group element { OPTIONAL BYTE_ARRAY authenticatedState (STRING); REQUIRED \
             BYTE_ARRAY id (STRING); OPTIONAL BOOLEAN primary; } } } } } }"
        );
        assert_eq!(writer.columns(), 4);
    }

    #[test]
    fn a_record_that_does_not_fit_is_named_and_stops_the_writer() {
        let cases = [
            (
                json!({"_id": "x", "person": {"age": 1.5}}),
                "record 2: /person/age: expected an integer, found 1.5",
            ),
            (
                json!({"_id": "x", "person": {"age": "old"}}),
                "record 2: /person/age: expected an integer, found a string",
            ),
            (
                json!({"_id": "x", "items": [{"SKU": "A"}, {"quantity": 1}]}),
                "record 2: /items/1/SKU: missing required field",
            ),
            (
                json!({"_id": "x", "identityMap": {"E/mail": [{"id": 7}]}}),
                "record 2: /identityMap/E~1mail/0/id: expected a string, found a number",
            ),
            (
                json!({"_id": "x", "person": {"nickname": "Al"}}),
                "record 2: /person/nickname: not a field of the schema",
            ),
            (
                json!({"_id": "x", "nothing": {}}),
                "record 2: /nothing: not a field of the schema",
            ),
            (
                json!({"_id": "x", "scores": [1, null]}),
                "record 2: /scores/1: missing required field",
            ),
            (
                json!({"person": {}}),
                "record 2: /_id: missing required field",
            ),
            (
                json!(["not", "an", "object"]),
                "record 2: #: expected an object, found an array",
            ),
        ];
        for (record, message) in cases {
            let mut writer = ParquetRecordWriter::new(Vec::new(), &tree()).expect("writer");
            writer.write(&json!({"_id": "fine"})).expect("first record");
            let error = writer.write(&record).expect_err("refused");
            assert_eq!(error.to_string(), message, "{record}");
            assert!(matches!(
                writer.write(&json!({"_id": "y"})),
                Err(Error::Stopped)
            ));
            assert!(matches!(writer.finish(), Err(Error::Stopped)));
        }
    }

    #[test]
    fn objects_of_more_than_64_fields_are_written_too() {
        let mut wide = ObjectField::new().with_required("id", Field::string());
        for n in 0..70 {
            wide = wide.with(&format!("f{n:02}"), Field::integer());
        }
        let fields = ObjectField::new().with("wide", Field::object(wide));
        let records = vec![
            json!({"wide": {"id": "a", "f00": 0, "f69": 69, "f33": 33}}),
            json!({}),
            json!({"wide": {"id": "b"}}),
        ];
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("wide.parquet");
        write_file(&path, &fields, &records, 2);
        assert_eq!(read_back(&path), records);

        let mut writer = ParquetRecordWriter::new(Vec::new(), &fields).expect("writer");
        let error = writer
            .write(&json!({"wide": {"id": "c", "f70": 1}}))
            .expect_err("unknown");
        assert_eq!(
            error.to_string(),
            "record 1: /wide/f70: not a field of the schema"
        );
        let mut writer = ParquetRecordWriter::new(Vec::new(), &fields).expect("writer");
        let error = writer
            .write(&json!({"wide": {"f01": 1}}))
            .expect_err("no id");
        assert_eq!(
            error.to_string(),
            "record 1: /wide/id: missing required field"
        );
    }

    #[test]
    fn a_file_without_records_reads_as_no_rows() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("empty.parquet");
        write_file(&path, &tree(), &[], 10);
        assert_eq!(read_back(&path), Vec::<Value>::new());
    }

    /// Records of `field`: optional properties absent, `null` or set; lists and maps of 0 to 3.
    fn value_of(field: &Field) -> BoxedStrategy<Value> {
        match &field.ty {
            FieldType::String(_) => "[a-zé/~ ]{0,5}".prop_map(Value::from).boxed(),
            FieldType::Integer { .. } => any::<i64>().prop_map(Value::from).boxed(),
            FieldType::Number { .. } => (-1e9f64..1e9).prop_map(|n| json!(n)).boxed(),
            FieldType::Boolean => any::<bool>().prop_map(Value::from).boxed(),
            FieldType::Object(object) => object_of(object),
            FieldType::Array(item) => prop::collection::vec(value_of(item), 0..4)
                .prop_map(Value::Array)
                .boxed(),
            FieldType::Map(value) => {
                prop::collection::btree_map("[A-Za-z]{1,3}", value_of(value), 0..4)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect()))
                    .boxed()
            }
        }
    }

    fn object_of(object: &ObjectField) -> BoxedStrategy<Value> {
        let properties: Vec<BoxedStrategy<Option<(String, Value)>>> = object
            .properties
            .iter()
            .filter(
                |(_, field)| !matches!(&field.ty, FieldType::Object(o) if o.properties.is_empty()),
            )
            .map(|(name, field)| {
                let name = name.clone();
                let set = value_of(field).prop_map({
                    let name = name.clone();
                    move |v| Some((name.clone(), v))
                });
                if object.required.contains(&name) {
                    set.boxed()
                } else {
                    prop_oneof![Just(None), Just(Some((name, Value::Null))), set].boxed()
                }
            })
            .collect();
        properties
            .prop_map(|entries| Value::Object(entries.into_iter().flatten().collect::<Map<_, _>>()))
            .boxed()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn random_records_read_back_as_written(
            records in prop::collection::vec(object_of(&tree()), 1..12),
            group in 1usize..5,
        ) {
            let dir = tempfile::tempdir().expect("dir");
            let path = dir.path().join("random.parquet");
            write_file(&path, &tree(), &records, group);
            let expected: Vec<Value> = records.iter().map(without_nulls).collect();
            prop_assert_eq!(read_back(&path), expected);
        }
    }
}
