//! Assembling one CSV row's converted cells into nested objects and arrays along the layout.

use serde_json::{Map, Value};

use super::layout::{Column, Node, Segment};
use crate::error::RowError;

/// The record of a row: `cells[i]` is column `i`'s value (`None` when empty or unmapped).
/// Empty objects and arrays are left out; an array element after an empty one is a `1555` error.
pub(crate) fn record(
    root: &[(Segment, Node)],
    cells: &mut [Option<Value>],
    columns: &[Column],
) -> Result<Value, RowError> {
    let filled = cells.iter().map(Option::is_some).collect();
    let mut row = RowCells {
        cells,
        filled,
        columns,
    };
    Ok(row
        .group(root, false)?
        .unwrap_or_else(|| Value::Object(Map::new())))
}

struct RowCells<'a> {
    /// The values, taken as they are placed.
    cells: &'a mut [Option<Value>],
    /// Which cells had a value (for naming a column in an error).
    filled: Vec<bool>,
    columns: &'a [Column],
}

impl RowCells<'_> {
    fn group(
        &mut self,
        children: &[(Segment, Node)],
        array: bool,
    ) -> Result<Option<Value>, RowError> {
        if !array {
            let mut object = Map::new();
            for (segment, node) in children {
                if let (Segment::Field(name), Some(value)) = (segment, self.value(node)?) {
                    object.insert(name.clone(), value);
                }
            }
            return Ok((!object.is_empty()).then_some(Value::Object(object)));
        }
        let mut items = Vec::new();
        for (segment, node) in children {
            let Some(value) = self.value(node)? else {
                continue;
            };
            let expected = items.len();
            if let Segment::Index(index) = segment {
                if *index as usize != expected {
                    return Err(self.gap(node, *index, expected));
                }
            }
            items.push(value);
        }
        Ok((!items.is_empty()).then_some(Value::Array(items)))
    }

    fn value(&mut self, node: &Node) -> Result<Option<Value>, RowError> {
        match node {
            Node::Leaf(index) => Ok(self.cells[*index].take()),
            Node::Group {
                array, children, ..
            } => self.group(children, *array),
        }
    }

    fn gap(&self, node: &Node, index: u32, expected: usize) -> RowError {
        let column = self.first_filled(node).unwrap_or(0);
        RowError::invalid(format!(
            "{}: array element {index} has a value but element {expected} is empty \
             (array elements must not leave gaps)",
            self.columns[column].label()
        ))
    }

    /// The leftmost column under `node` that had a value.
    fn first_filled(&self, node: &Node) -> Option<usize> {
        match node {
            Node::Leaf(index) => self.filled[*index].then_some(*index),
            Node::Group { children, .. } => children
                .iter()
                .filter_map(|(_, child)| self.first_filled(child))
                .min(),
        }
    }
}
