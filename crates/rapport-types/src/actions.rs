//! What a caller may do: the actions an API key (and later a role) grants, their wire names
//! (`profiles.read`), and sets of them with the `*` and `family.*` wildcards.

/// Whether an action applies within one sandbox or to the whole server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Sandbox,
    Server,
}

macro_rules! actions {
    ($($variant:ident => ($name:literal, $scope:ident),)*) => {
        /// One permission a route requires.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $($variant,)* }

        impl Action {
            /// Every action, in table order (its position is its bit in an [`ActionSet`]).
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The wire name (`profiles.read`).
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => $name,)* }
            }

            pub fn scope(self) -> Scope {
                match self { $(Action::$variant => Scope::$scope,)* }
            }
        }
    };
}

actions! {
    ProfilesRead => ("profiles.read", Sandbox),
    ProfilesDelete => ("profiles.delete", Sandbox),
    EventsRead => ("events.read", Sandbox),
    IdentitiesRead => ("identities.read", Sandbox),
    IngestWrite => ("ingest.write", Sandbox),
    IngestRead => ("ingest.read", Sandbox),
    SchemasRead => ("schemas.read", Sandbox),
    SchemasWrite => ("schemas.write", Sandbox),
    SegmentsRead => ("segments.read", Sandbox),
    SegmentsWrite => ("segments.write", Sandbox),
    AttributesRead => ("attributes.read", Sandbox),
    AttributesWrite => ("attributes.write", Sandbox),
    ModelsRead => ("models.read", Sandbox),
    ModelsWrite => ("models.write", Sandbox),
    KeysManage => ("keys.manage", Server),
    UsersManage => ("users.manage", Server),
    AuditRead => ("audit.read", Server),
    PrivacyManage => ("privacy.manage", Server),
    LabelsManage => ("labels.manage", Sandbox),
    MetricsRead => ("metrics.read", Server),
}

impl Action {
    /// The family of the action (`profiles` of `profiles.read`), what `profiles.*` grants.
    pub fn family(self) -> &'static str {
        self.name().split('.').next().unwrap_or_default()
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.name() == name)
    }

    fn bit(self) -> u32 {
        1 << Action::ALL.iter().position(|a| *a == self).unwrap_or(0)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of actions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActionSet(u32);

impl ActionSet {
    pub fn empty() -> ActionSet {
        ActionSet(0)
    }

    /// Every action there is.
    pub fn all() -> ActionSet {
        Action::ALL.iter().copied().collect()
    }

    pub fn contains(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }

    pub fn insert(&mut self, action: Action) {
        self.0 |= action.bit();
    }

    pub fn is_subset_of(self, other: ActionSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL
            .iter()
            .copied()
            .filter(move |a| self.contains(*a))
    }

    /// Whether some action of the set applies to the whole server.
    pub fn has_server_action(self) -> bool {
        self.iter().any(|a| a.scope() == Scope::Server)
    }

    /// The set named by wire names, `*` (every action) and `family.*` (every action of one
    /// family); the error names the first name that is none of these.
    pub fn parse<'n>(names: impl IntoIterator<Item = &'n str>) -> Result<ActionSet, String> {
        let mut set = ActionSet::empty();
        for name in names {
            if name == "*" {
                set = ActionSet::all();
                continue;
            }
            if let Some(family) = name.strip_suffix(".*") {
                let members: Vec<Action> = Action::ALL
                    .iter()
                    .copied()
                    .filter(|a| a.family() == family)
                    .collect();
                if members.is_empty() {
                    return Err(format!("\"{name}\" names no family of actions"));
                }
                members.into_iter().for_each(|a| set.insert(a));
                continue;
            }
            match Action::parse(name) {
                Some(action) => set.insert(action),
                None => {
                    return Err(format!(
                    "\"{name}\" is not an action: use *, a family such as profiles.*, or one of {}",
                    Action::ALL
                        .iter()
                        .map(|a| a.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                }
            }
        }
        Ok(set)
    }

    /// The wire names, `["*"]` for every action.
    pub fn names(self) -> Vec<&'static str> {
        if self == ActionSet::all() {
            return vec!["*"];
        }
        self.iter().map(Action::name).collect()
    }
}

impl FromIterator<Action> for ActionSet {
    fn from_iter<I: IntoIterator<Item = Action>>(iter: I) -> ActionSet {
        let mut set = ActionSet::empty();
        iter.into_iter().for_each(|a| set.insert(a));
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_expand_and_names_round_trip() {
        let set = ActionSet::parse(["profiles.*", "keys.manage"]).unwrap();
        assert!(set.contains(Action::ProfilesRead) && set.contains(Action::ProfilesDelete));
        assert!(!set.contains(Action::EventsRead));
        assert_eq!(
            set.names(),
            ["profiles.read", "profiles.delete", "keys.manage"]
        );
        assert_eq!(ActionSet::parse(["*"]).unwrap(), ActionSet::all());
        assert_eq!(ActionSet::all().names(), ["*"]);
        assert!(ActionSet::parse(["profile.read"])
            .unwrap_err()
            .contains("profile.read"));
        assert!(ActionSet::parse(["nothing.*"]).is_err());
    }
}
