//! The catalog: every sandbox's schemas, field groups, descriptors, datasets, namespaces and
//! merge policies, held in memory as an immutable snapshot and persisted in the `Catalog` table.
//!
//! Readers take an `Arc<SandboxCatalog>` and never wait; a change clones the sandbox's
//! catalog, validates, commits it to the store, then swaps the snapshot.

pub mod datasets;
pub mod merge_policies;
pub mod namespaces;
pub mod schemas;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rapport_types::SandboxName;
use serde::de::DeserializeOwned;
use serde::Serialize;
use store::{Direction, Scan, Store, Table};

use crate::error::{Error, Result};
use crate::identity::namespace::{standard_namespaces, Namespace};
use crate::keys;
use crate::segment::{SegmentDefinition, SegmentIndex};

pub use datasets::Dataset;
pub use merge_policies::{AttributeMerge, IdentityGraphType, MergePolicy};
pub use schemas::{CompiledSchema, Descriptor, IdentityField, SchemaRecord, TenantFieldGroup};

/// Kinds of catalog entries, as stored in keys.
pub(crate) mod kind {
    pub const NAMESPACE: &str = "namespace";
    pub const FIELD_GROUP: &str = "fieldgroup";
    pub const SCHEMA: &str = "schema";
    pub const DESCRIPTOR: &str = "descriptor";
    pub const LABEL_DESCRIPTOR: &str = "labels";
    pub const DATASET: &str = "dataset";
    pub const MERGE_POLICY: &str = "mergepolicy";
    pub const SEGMENT: &str = "segment";
    pub const COMPUTED: &str = "computed";
    pub const MODELS: &str = "models";
}

/// Everything configured in one sandbox.
#[derive(Debug, Clone, Default)]
pub struct SandboxCatalog {
    pub name: Option<SandboxName>,
    /// Standard and custom namespaces, by code.
    pub namespaces: BTreeMap<String, Namespace>,
    pub field_groups: BTreeMap<String, TenantFieldGroup>,
    pub schemas: BTreeMap<String, SchemaRecord>,
    pub descriptors: BTreeMap<String, Descriptor>,
    /// Data usage label descriptors, by id.
    pub label_descriptors: BTreeMap<String, schemas::LabelDescriptor>,
    /// Which labels each profile and event field carries, directly or through what it is
    /// derived from; rebuilt on every change.
    pub label_index: Arc<crate::access::LabelIndex>,
    pub datasets: BTreeMap<String, Dataset>,
    pub merge_policies: BTreeMap<String, MergePolicy>,
    /// Segment definitions, by id.
    pub segments: BTreeMap<String, SegmentDefinition>,
    /// The segment definitions compiled against the current union schemas, rebuilt on every change.
    pub segment_index: Arc<SegmentIndex>,
    /// Computed attributes, by id.
    pub computed: BTreeMap<String, crate::computed::ComputedAttribute>,
    /// The published computed attributes compiled, rebuilt on every change.
    pub computed_index: Arc<crate::computed::ComputedIndex>,
    /// `_{tenant}`: the field under which custom fields and computed attributes live.
    pub tenant_key: String,
    /// The built-in models last trained, with their reports.
    pub models: Option<Arc<crate::scores::TrainedModels>>,
    /// Schemas compiled to field trees with their identity fields, rebuilt on every change.
    pub compiled: HashMap<String, Arc<CompiledSchema>>,
    /// What a prepared view must have been built with to be served: the default merge policy's
    /// stamp and the namespace priorities (they choose the primary identity).
    pub view_stamp: String,
}

impl SandboxCatalog {
    fn with_standard(name: SandboxName, settings: &CatalogSettings) -> SandboxCatalog {
        let mut catalog = SandboxCatalog {
            name: Some(name),
            tenant_key: format!("_{}", settings.tenant_id),
            ..SandboxCatalog::default()
        };
        for namespace in standard_namespaces() {
            catalog.namespaces.insert(namespace.code.clone(), namespace);
        }
        catalog
    }

    /// Finds a namespace by code, case-insensitively, as the reference matches them.
    pub fn namespace(&self, code: &str) -> Option<&Namespace> {
        self.namespaces.get(code).or_else(|| {
            self.namespaces
                .values()
                .find(|ns| ns.code.eq_ignore_ascii_case(code))
        })
    }

    /// Recomputes what is derived from the catalog after a change: the view stamp, the compiled
    /// computed attributes and segment definitions.
    fn refresh_indexes(&mut self) {
        self.refresh_view_stamp();
        self.computed_index = Arc::new(crate::computed::ComputedIndex::build(self));
        self.segment_index = Arc::new(SegmentIndex::build(self));
        self.label_index = Arc::new(crate::access::LabelIndex::build(self));
    }

    /// Recomputes `view_stamp` after a change.
    pub(crate) fn refresh_view_stamp(&mut self) {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(crate::records::VIEW_LAYOUT.as_bytes());
        if let Some(policy) = self.default_merge_policy() {
            hasher.update(policy.stamp().as_bytes());
        }
        for namespace in self.namespaces.values() {
            hasher.update(
                format!("\0{}={}", namespace.code, namespace.effective_priority()).as_bytes(),
            );
        }
        let digest = hasher.finalize();
        self.view_stamp = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    }

    pub fn namespace_by_id(&self, id: u32) -> Option<&Namespace> {
        self.namespaces.values().find(|ns| ns.id == id)
    }

    /// The default merge policy of the profile class.
    pub fn default_merge_policy(&self) -> Option<&MergePolicy> {
        self.merge_policies
            .values()
            .find(|p| p.default && p.schema_name == xdm::Class::Profile.ups_name())
    }

    pub fn merge_policy(&self, id: &str) -> Option<&MergePolicy> {
        self.merge_policies.get(id)
    }

    /// A dataset by id, or by name.
    pub fn dataset(&self, id_or_name: &str) -> Option<&Dataset> {
        self.datasets
            .get(id_or_name)
            .or_else(|| self.datasets.values().find(|d| d.name == id_or_name))
    }
}

/// One pending change to the stored catalog.
pub(crate) enum Change {
    Put {
        kind: &'static str,
        id: String,
        json: Vec<u8>,
    },
    Delete {
        kind: &'static str,
        id: String,
    },
}

impl Change {
    pub(crate) fn put<T: Serialize>(kind: &'static str, id: &str, value: &T) -> Result<Change> {
        let json = serde_json::to_vec(value).map_err(Error::internal)?;
        Ok(Change::Put {
            kind,
            id: id.to_owned(),
            json,
        })
    }
}

/// Settings that shape every sandbox's catalog.
#[derive(Debug, Clone)]
pub struct CatalogSettings {
    /// The tenant id under which custom fields live (`_{tenant}`) and schema ids are minted.
    pub tenant_id: String,
}

pub struct Catalog {
    store: Arc<dyn Store>,
    settings: CatalogSettings,
    sandboxes: RwLock<HashMap<SandboxName, Arc<SandboxCatalog>>>,
    /// Serialises changes so two writers never overwrite each other's snapshot.
    change_lock: Mutex<()>,
}

impl Catalog {
    /// Loads every sandbox's catalog from the store.
    pub fn load(store: Arc<dyn Store>, settings: CatalogSettings) -> Result<Catalog> {
        let mut rows: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        {
            let txn = store.read()?;
            txn.scan(Table::Catalog, b"", b"", Direction::Forward, &mut |k, v| {
                rows.push((k.to_vec(), v.to_vec()));
                Scan::Continue
            })?;
        }
        let mut sandboxes: HashMap<SandboxName, SandboxCatalog> = HashMap::new();
        for (key, value) in rows {
            let mut parts = key.splitn(3, |b| *b == 0);
            let (Some(sandbox), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Some(sandbox) = std::str::from_utf8(sandbox)
                .ok()
                .and_then(SandboxName::parse)
            else {
                continue; // global entries such as counters
            };
            let id = String::from_utf8_lossy(id).into_owned();
            let catalog = sandboxes
                .entry(sandbox.clone())
                .or_insert_with(|| SandboxCatalog::with_standard(sandbox.clone(), &settings));
            match kind {
                b"namespace" => insert(&mut catalog.namespaces, id, &value)?,
                b"fieldgroup" => insert(&mut catalog.field_groups, id, &value)?,
                b"schema" => insert(&mut catalog.schemas, id, &value)?,
                b"descriptor" => insert(&mut catalog.descriptors, id, &value)?,
                b"labels" => insert(&mut catalog.label_descriptors, id, &value)?,
                b"dataset" => insert(&mut catalog.datasets, id, &value)?,
                b"mergepolicy" => insert(&mut catalog.merge_policies, id, &value)?,
                b"segment" => insert(&mut catalog.segments, id, &value)?,
                b"computed" => insert(&mut catalog.computed, id, &value)?,
                b"models" => {
                    catalog.models =
                        Some(Arc::new(serde_json::from_slice(&value).map_err(|e| {
                            Error::internal(format!("stored models: {e}"))
                        })?))
                }
                _ => {}
            }
        }
        let mut loaded = HashMap::new();
        for (name, mut catalog) in sandboxes {
            schemas::restore_parsed_field_groups(&mut catalog, &settings)?;
            schemas::recompile(&mut catalog, &settings)?;
            catalog.refresh_indexes();
            loaded.insert(name, Arc::new(catalog));
        }
        Ok(Catalog {
            store,
            settings,
            sandboxes: RwLock::new(loaded),
            change_lock: Mutex::new(()),
        })
    }

    pub fn settings(&self) -> &CatalogSettings {
        &self.settings
    }

    /// The current snapshot of a sandbox. A sandbox nobody configured yet reads as one with the
    /// standard namespaces and its default merge policy, without storing anything.
    pub fn sandbox(&self, name: &SandboxName) -> Result<Arc<SandboxCatalog>> {
        if let Some(catalog) = self.sandboxes.read().get(name) {
            return Ok(catalog.clone());
        }
        let mut catalog = SandboxCatalog::with_standard(name.clone(), &self.settings);
        let policy = merge_policies::default_policy(name.as_str());
        catalog.merge_policies.insert(policy.id.clone(), policy);
        catalog.refresh_view_stamp();
        Ok(Arc::new(catalog))
    }

    /// Every sandbox that has a catalog.
    pub fn sandbox_names(&self) -> Vec<SandboxName> {
        self.sandboxes.read().keys().cloned().collect()
    }

    /// Applies `edit` to a copy of the sandbox's catalog, persists what it changed and publishes it.
    pub(crate) fn change<T>(
        &self,
        name: &SandboxName,
        edit: impl FnOnce(&mut Editor<'_>) -> Result<T>,
    ) -> Result<T> {
        self.change_checked(name, edit, |_, _| Ok(()))
    }

    /// As [`Catalog::change`], with `check` run on the changed catalog, its indexes rebuilt,
    /// before anything is persisted: an error from it leaves the catalog as it was.
    pub(crate) fn change_checked<T>(
        &self,
        name: &SandboxName,
        edit: impl FnOnce(&mut Editor<'_>) -> Result<T>,
        check: impl FnOnce(&SandboxCatalog, &T) -> Result<()>,
    ) -> Result<T> {
        let _serialised = self.change_lock.lock();
        let current = self.sandboxes.read().get(name).cloned();
        let mut catalog = match current {
            Some(existing) => (*existing).clone(),
            None => SandboxCatalog::with_standard(name.clone(), &self.settings),
        };
        let mut editor = Editor {
            catalog: &mut catalog,
            changes: Vec::new(),
            settings: &self.settings,
        };
        if editor.catalog.merge_policies.is_empty() {
            merge_policies::create_default(&mut editor)?;
        }
        let outcome = edit(&mut editor)?;
        let changes = std::mem::take(&mut editor.changes);
        schemas::recompile(&mut catalog, &self.settings)?;
        catalog.refresh_indexes();
        check(&catalog, &outcome)?;
        let mut txn = self.store.write()?;
        for change in changes {
            match change {
                Change::Put { kind, id, json } => {
                    txn.put(Table::Catalog, &keys::catalog(name, kind, &id), &json)?
                }
                Change::Delete { kind, id } => {
                    txn.delete(Table::Catalog, &keys::catalog(name, kind, &id))?
                }
            }
        }
        txn.commit()?;
        self.sandboxes
            .write()
            .insert(name.clone(), Arc::new(catalog));
        Ok(outcome)
    }
}

/// A catalog being changed: the copy, and the list of writes to persist.
pub(crate) struct Editor<'a> {
    pub catalog: &'a mut SandboxCatalog,
    pub changes: Vec<Change>,
    pub settings: &'a CatalogSettings,
}

impl Editor<'_> {
    pub fn record<T: Serialize>(&mut self, kind: &'static str, id: &str, value: &T) -> Result<()> {
        self.changes.push(Change::put(kind, id, value)?);
        Ok(())
    }

    pub fn forget(&mut self, kind: &'static str, id: &str) {
        self.changes.push(Change::Delete {
            kind,
            id: id.to_owned(),
        });
    }
}

fn insert<T: DeserializeOwned>(
    map: &mut BTreeMap<String, T>,
    id: String,
    json: &[u8],
) -> Result<()> {
    let value = serde_json::from_slice(json)
        .map_err(|e| Error::internal(format!("catalog entry {id}: {e}")))?;
    map.insert(id, value);
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
