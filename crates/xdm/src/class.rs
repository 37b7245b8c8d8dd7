//! The two XDM classes Rapport supports and the fields each class defines on its own.

use crate::field::{Field, ObjectField};

/// An XDM class: the behaviour of a schema (record or time series) and its base fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// XDM Individual Profile (record behaviour).
    Profile,
    /// XDM ExperienceEvent (time-series behaviour).
    ExperienceEvent,
}

impl Class {
    /// Every supported class.
    pub const ALL: [Class; 2] = [Class::Profile, Class::ExperienceEvent];

    /// The class `$id`.
    pub fn id(&self) -> &'static str {
        match self {
            Class::Profile => "https://ns.adobe.com/xdm/context/profile",
            Class::ExperienceEvent => "https://ns.adobe.com/xdm/context/experienceevent",
        }
    }

    /// The name Profile APIs and PQL use for the class.
    pub fn ups_name(&self) -> &'static str {
        match self {
            Class::Profile => "_xdm.context.profile",
            Class::ExperienceEvent => "_xdm.context.experienceevent",
        }
    }

    /// The `$id` of the class's union schema.
    pub fn union_id(&self) -> &'static str {
        match self {
            Class::Profile => "https://ns.adobe.com/xdm/context/profile__union",
            Class::ExperienceEvent => "https://ns.adobe.com/xdm/context/experienceevent__union",
        }
    }

    /// The class with the given `$id` or UPS name.
    pub fn from_id(id: &str) -> Option<Class> {
        Class::ALL
            .into_iter()
            .find(|class| class.id() == id || class.ups_name() == id)
    }

    pub fn title(&self) -> &'static str {
        match self {
            Class::Profile => "XDM Individual Profile",
            Class::ExperienceEvent => "XDM ExperienceEvent",
        }
    }
}

/// The fields a class defines before any field group is added.
pub fn class_fields(class: Class) -> ObjectField {
    match class {
        Class::Profile => ObjectField::new()
            .with(
                "_id",
                Field::string()
                    .titled("Identifier")
                    .described("A unique identifier for the record."),
            )
            .with("identityMap", identity_map_field())
            .with(
                "createdByBatchID",
                Field::string().titled("Created by batch identifier"),
            )
            .with(
                "modifiedByBatchID",
                Field::string().titled("Modified by batch identifier"),
            )
            .with(
                "repositoryCreatedBy",
                Field::string().titled("Created by user identifier"),
            )
            .with(
                "repositoryLastModifiedBy",
                Field::string().titled("Modified by user identifier"),
            ),
        Class::ExperienceEvent => ObjectField::new()
            .with_required(
                "_id",
                // Events are stored by `_id`: an empty one would make every such event one.
                Field::string_length(Some(1), None)
                    .titled("Identifier")
                    .described("A unique identifier for the event."),
            )
            .with_required(
                "timestamp",
                Field::date_time()
                    .titled("Timestamp")
                    .described("When the event occurred."),
            )
            .with("eventType", Field::string().titled("Event type"))
            .with("identityMap", identity_map_field())
            .with("producedBy", Field::string().titled("Produced by"))
            .with(
                "eventMergeId",
                Field::string().titled("Event merge identifier"),
            )
            .with(
                "receivedTimestamp",
                Field::date_time().titled("Received timestamp"),
            ),
    }
}

/// `identityMap`: identity namespace code to the identities in that namespace.
pub(crate) fn identity_map_field() -> Field {
    let identity = ObjectField::new()
        .with_required("id", Field::string().titled("Identifier"))
        .with(
            "authenticatedState",
            Field::enumeration(&["ambiguous", "authenticated", "loggedOut"])
                .titled("Authenticated state"),
        )
        .with("primary", Field::boolean().titled("Primary"));
    Field::map(Field::array(Field::object(identity)))
        .titled("Identity map")
        .described("Identities of the subject, keyed by identity namespace code.")
}
