//! Static types at compile time, read from the XDM union schemas, and field resolution on them.

use std::sync::OnceLock;

use xdm::{Field, FieldType, ObjectField, StringFormat};

use crate::SchemaContext;

/// Which schema a path is rooted in (for error messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Schema {
    Profile,
    Event,
}

impl Schema {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Schema::Profile => "the profile schema",
            Schema::Event => "the event schema",
        }
    }
}

/// The type of an expression.
#[derive(Clone, Debug)]
pub(crate) enum Ty<'s> {
    /// Unknown (maps without a schema, computed values): checked at run time.
    Any,
    Null,
    Bool,
    Int,
    Num,
    Str,
    /// A date: `YYYY-MM-DD` in the data.
    Date,
    /// A date-time: RFC 3339 in the data, or an instant.
    DateTime,
    /// The profile (the root).
    Profile,
    /// One ExperienceEvent.
    Event,
    Object(Option<&'s ObjectField>, Schema),
    Array(Box<Ty<'s>>),
    Map(Box<Ty<'s>>),
}

/// Why a field could not be resolved.
pub(crate) enum FieldError {
    /// No such field in the schema.
    Unknown(Schema),
    /// The value has no fields (a number, a string...).
    NotObject,
}

fn identity_object() -> &'static ObjectField {
    static O: OnceLock<ObjectField> = OnceLock::new();
    O.get_or_init(|| {
        ObjectField::new()
            .with("id", Field::string())
            .with("authenticatedState", Field::string())
            .with("primary", Field::boolean())
    })
}

fn membership_object() -> &'static ObjectField {
    static O: OnceLock<ObjectField> = OnceLock::new();
    O.get_or_init(|| {
        ObjectField::new()
            .with("status", Field::string())
            .with("lastQualificationTime", Field::date_time())
            .with("validUntil", Field::date_time())
            .with("payload", Field::object(ObjectField::new()))
    })
}

/// Fields known on the profile and on events whatever the schema says.
fn builtin(name: &str, owner: Schema) -> Option<Ty<'static>> {
    Some(match name {
        "segmentMembership" => Ty::Map(Box::new(Ty::Map(Box::new(Ty::Object(
            Some(membership_object()),
            owner,
        ))))),
        "identityMap" => Ty::Map(Box::new(Ty::Array(Box::new(Ty::Object(
            Some(identity_object()),
            owner,
        ))))),
        "_id" => Ty::Str,
        "timestamp" => Ty::DateTime,
        _ => return None,
    })
}

impl<'s> Ty<'s> {
    /// Whether a value of this type has parts that a reader of its fields would not name: an
    /// object, a map, an unknown value, or an array of those. Events and the profile are not
    /// values of this kind (an event as a value is its id and timestamp).
    pub(crate) fn is_structured(&self) -> bool {
        match self {
            Ty::Any | Ty::Object(..) | Ty::Map(_) => true,
            Ty::Array(item) => item.is_structured(),
            _ => false,
        }
    }

    /// The type of a schema field.
    pub(crate) fn of_field(field: &'s Field, owner: Schema) -> Ty<'s> {
        match &field.ty {
            FieldType::String(rules) => match rules.format {
                Some(StringFormat::DateTime) => Ty::DateTime,
                Some(StringFormat::Date) => Ty::Date,
                _ => Ty::Str,
            },
            FieldType::Integer { .. } => Ty::Int,
            FieldType::Number { .. } => Ty::Num,
            FieldType::Boolean => Ty::Bool,
            FieldType::Object(o) => Ty::Object(Some(o), owner),
            FieldType::Array(item) => Ty::Array(Box::new(Ty::of_field(item, owner))),
            FieldType::Map(value) => Ty::Map(Box::new(Ty::of_field(value, owner))),
        }
    }

    /// The type of `self.name`: a field of an object, a key of a map, or the field of every
    /// item of an array (flattened).
    pub(crate) fn field(&self, ctx: &SchemaContext<'s>, name: &str) -> Result<Ty<'s>, FieldError> {
        let of_object = |o: &'s ObjectField, owner: Schema| {
            o.get(name)
                .map(|f| Ty::of_field(f, owner))
                .or_else(|| {
                    if matches!(self, Ty::Profile | Ty::Event) {
                        builtin(name, owner)
                    } else {
                        None
                    }
                })
                .ok_or(FieldError::Unknown(owner))
        };
        match self {
            Ty::Any | Ty::Object(None, _) => Ok(Ty::Any),
            Ty::Profile => of_object(ctx.profile, Schema::Profile),
            Ty::Event => of_object(ctx.event, Schema::Event),
            Ty::Object(Some(o), owner) => of_object(o, *owner),
            Ty::Map(value) => Ok((**value).clone()),
            Ty::Array(item) => Ok(match item.field(ctx, name)? {
                Ty::Array(inner) => Ty::Array(inner),
                other => Ty::Array(Box::new(other)),
            }),
            _ => Err(FieldError::NotObject),
        }
    }

    /// The element type when the value is a collection.
    pub(crate) fn elem(&self) -> Option<Ty<'s>> {
        match self {
            Ty::Array(item) => Some((**item).clone()),
            Ty::Any | Ty::Null => Some(Ty::Any),
            _ => None,
        }
    }

    pub(crate) fn is_num(&self) -> bool {
        matches!(self, Ty::Int | Ty::Num)
    }

    pub(crate) fn is_time(&self) -> bool {
        matches!(self, Ty::Date | Ty::DateTime)
    }

    /// A type whose values may be read as an instant (date, date-time, string, unknown).
    pub(crate) fn timeish(&self) -> bool {
        matches!(self, Ty::Date | Ty::DateTime | Ty::Str | Ty::Any | Ty::Null)
    }

    /// A type string methods apply to.
    pub(crate) fn textual(&self) -> bool {
        match self {
            Ty::Str | Ty::Date | Ty::DateTime | Ty::Any | Ty::Null => true,
            Ty::Array(item) => item.textual(),
            _ => false,
        }
    }

    /// `a`/`an` + the type's name, for messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Ty::Any => "a value",
            Ty::Null => "null",
            Ty::Bool => "a boolean",
            Ty::Int => "an integer",
            Ty::Num => "a number",
            Ty::Str => "a string",
            Ty::Date => "a date",
            Ty::DateTime => "a date-time",
            Ty::Profile => "the profile",
            Ty::Event => "an event",
            Ty::Object(..) => "an object",
            Ty::Array(_) => "an array",
            Ty::Map(_) => "a map",
        }
    }

    /// Whether values of the two types can be compared (`=`, `<`...). Lists compare with the
    /// type of their items.
    pub(crate) fn comparable(&self, other: &Ty<'s>) -> bool {
        use Ty::*;
        match (self, other) {
            (Any | Null, _) | (_, Any | Null) => true,
            (Array(a), Array(b)) => a.comparable(b),
            (Array(a), b) | (b, Array(a)) => a.comparable(b),
            (a, b) if a.is_num() && b.is_num() => true,
            (a, b) if a.is_time() && (b.is_time() || matches!(b, Str)) => true,
            (Str, b) if b.is_time() => true,
            (Str, Str) | (Bool, Bool) => true,
            (Object(..) | Map(_), Object(..) | Map(_)) => true,
            (Event, Event) => true,
            _ => false,
        }
    }
}
