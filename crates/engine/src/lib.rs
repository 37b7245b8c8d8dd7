//! The synchronous profile engine: catalog, ingestion, identity graph, merge policies and
//! lookups. It knows nothing of HTTP or async runtimes; the storage is behind `store::Store`.

pub mod access;
pub mod batch;
pub mod catalog;
pub mod computed;
pub mod error;
pub mod guardrails;
pub mod identity;
pub mod ingest;
pub mod keys;
pub mod lookup;
pub mod merge;
pub mod privacy;
pub mod records;
pub mod scores;
pub mod segment;
pub mod time;
mod upgrade;

use std::path::PathBuf;
use std::sync::Arc;

use rapport_types::{Code, ProfileId, SandboxName};
use serde_json::Value;
use store::{LmdbOptions, LmdbStore, Store};

pub use access::{Clearance, Redaction};
pub use catalog::{Catalog, CatalogSettings, SandboxCatalog};
pub use error::{Error, Result};
pub use guardrails::{Guardrails, Limits};
use identity::graph::Graph;
use identity::value::ValuePolicy;
pub use identity::IdentityKey;
pub use ingest::writer::SweepTask;
use ingest::writer::WriterSettings;
pub use ingest::writer::WriterStats;
pub use ingest::{Job, PreparedWrite, Writer};
pub use lookup::{EntityRef, EventPage, EventQuery, ProfileRequest, PropertyFilter};

/// A found profile: its id and its entity item as JSON bytes.
pub type FoundProfile = (ProfileId, Vec<u8>);

/// How the engine is set up.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    pub map_size_bytes: usize,
    pub tenant_id: String,
    /// The most identities one graph may hold.
    pub graph_limit: usize,
    /// Identity values (case-insensitive) that never link anything.
    pub blocked_identity_values: Vec<String>,
}

pub struct Engine {
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    batches: Arc<batch::Batches>,
    /// Declared before the writer: it holds a sender of the writer's channel, so it must stop first.
    _batch_worker: batch::BatchWorker,
    /// Privacy jobs and hygiene work orders.
    privacy: Arc<privacy::Privacy>,
    /// Runs them; also holds a sender of the writer's channel, so it stops before the writer.
    _privacy_worker: privacy::PrivacyWorker,
    /// Segment jobs, previews and the time scheduler; also hold a sender of the writer's channel.
    segment_jobs: segment::jobs::SegmentJobs,
    writer: Writer,
    /// Write transactions committed since the engine opened ([`Engine::commits`]), and where
    /// the writer's time went.
    writer_stats: Arc<WriterStats>,
    values: ValuePolicy,
    /// The guardrails' limits and hit counters (shared with the writer).
    guardrails: Arc<Guardrails>,
}

impl Engine {
    /// Opens (or creates) the embedded store and starts the writer, with the reference's
    /// guardrail limits.
    pub fn open(config: &EngineConfig) -> Result<Engine> {
        Engine::open_with(config, Limits::default())
    }

    /// [`Engine::open`] with these guardrail limits (the server's `max-*` options).
    pub fn open_with(config: &EngineConfig, limits: Limits) -> Result<Engine> {
        let store: Arc<dyn Store> = Arc::new(LmdbStore::open(
            &config.data_dir.join("lmdb"),
            &LmdbOptions {
                map_size_bytes: config.map_size_bytes,
            },
        )?);
        Engine::with_store_and_limits(store, config, limits)
    }

    /// The store, for the server's own records kept beside the profiles (API keys). Their
    /// writes are rare and commit on their own transactions, serialised with the writer's.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Starts the engine on any storage backend.
    pub fn with_store(store: Arc<dyn Store>, config: &EngineConfig) -> Result<Engine> {
        Engine::with_store_and_limits(store, config, Limits::default())
    }

    /// [`Engine::with_store`] with these guardrail limits.
    pub fn with_store_and_limits(
        store: Arc<dyn Store>,
        config: &EngineConfig,
        limits: Limits,
    ) -> Result<Engine> {
        upgrade::upgrade(store.as_ref())?;
        let guardrails = Arc::new(Guardrails::new(limits));
        let catalog = Arc::new(Catalog::load(
            store.clone(),
            CatalogSettings {
                tenant_id: config.tenant_id.clone(),
            },
        )?);
        let writer_stats = Arc::new(WriterStats::default());
        let writer = Writer::start(
            store.clone(),
            catalog.clone(),
            WriterSettings {
                graph_limit: config.graph_limit.max(1),
                stats: writer_stats.clone(),
                guardrails: guardrails.clone(),
            },
        );
        let values = ValuePolicy {
            blocked: config
                .blocked_identity_values
                .iter()
                .map(|v| v.trim().to_ascii_lowercase())
                .collect(),
        };
        let batches = Arc::new(batch::Batches::load(store.clone(), &config.data_dir)?);
        let writer_sender = writer
            .sender()
            .ok_or_else(|| Error::internal("the writer did not start"))?;
        let batch_worker = batch::BatchWorker::start(
            batches.clone(),
            catalog.clone(),
            values.clone(),
            guardrails.clone(),
            writer_sender.clone(),
        );
        let privacy = Arc::new(privacy::Privacy::new(
            store.clone(),
            catalog.clone(),
            &config.data_dir,
        ));
        let privacy_worker = privacy::PrivacyWorker::start(privacy.clone(), writer_sender.clone());
        let segment_jobs =
            segment::jobs::SegmentJobs::start(store.clone(), catalog.clone(), writer_sender);
        Ok(Engine {
            store,
            catalog,
            batches,
            _batch_worker: batch_worker,
            privacy,
            _privacy_worker: privacy_worker,
            segment_jobs,
            writer,
            writer_stats,
            values,
            guardrails,
        })
    }

    /// How many write transactions have committed since the engine opened: it moves whenever
    /// anything readable may have changed (writes, time-based changes, sweeps), so a reader
    /// watching for changes re-reads only when it moves.
    pub fn commits(&self) -> u64 {
        self.writer_stats
            .commits
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// What the writer has done since the engine opened, and where its time went.
    pub fn writer_stats(&self) -> &WriterStats {
        &self.writer_stats
    }

    /// The guardrails: their limits, and how often each bit since the engine opened.
    pub fn guardrails(&self) -> &Guardrails {
        &self.guardrails
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Batch ingestion: batches, their files and their error reports.
    pub fn batches(&self) -> &batch::Batches {
        &self.batches
    }

    pub fn sandbox(&self, name: &SandboxName) -> Result<Arc<SandboxCatalog>> {
        self.catalog.sandbox(name)
    }

    pub fn disk_bytes(&self) -> u64 {
        self.store.disk_bytes()
    }

    /// Validates one record for `dataset` and prepares it for the writer.
    pub fn prepare(
        &self,
        catalog: &SandboxCatalog,
        dataset: &str,
        entity: Value,
        source_record: String,
        received_ms: i64,
    ) -> Result<PreparedWrite> {
        ingest::prepare(
            catalog,
            &self.values,
            self.guardrails.limits(),
            dataset,
            entity,
            source_record,
            received_ms,
        )
        .inspect_err(|error| {
            let sandbox = catalog
                .name
                .clone()
                .unwrap_or_else(SandboxName::default_sandbox);
            self.guardrails.refused(error, &sandbox, dataset);
        })
    }

    /// Queues a job for the writer; its reply runs after the commit that holds it.
    pub fn submit(&self, job: Job) -> Result<()> {
        self.writer.submit(job)
    }

    /// Looks up one profile's entity item (JSON bytes), without what `redaction` hides (the
    /// caller's labels decide it: `Redaction::none()` is for the engine's own readers).
    pub fn profile(
        &self,
        sandbox: &SandboxName,
        entity: &EntityRef,
        request: &ProfileRequest,
        redaction: &Redaction,
    ) -> Result<Option<FoundProfile>> {
        let catalog = self.catalog.sandbox(sandbox)?;
        let txn = self.store.read()?;
        lookup::profile(txn.as_ref(), &catalog, sandbox, entity, request, redaction)
    }

    /// Looks up several profiles in one read transaction.
    pub fn profiles(
        &self,
        sandbox: &SandboxName,
        entities: &[EntityRef],
        request: &ProfileRequest,
        redaction: &Redaction,
    ) -> Result<Vec<Option<FoundProfile>>> {
        let catalog = self.catalog.sandbox(sandbox)?;
        let txn = self.store.read()?;
        entities
            .iter()
            .map(|e| lookup::profile(txn.as_ref(), &catalog, sandbox, e, request, redaction))
            .collect()
    }

    /// One page of a profile's experience events.
    pub fn events(
        &self,
        sandbox: &SandboxName,
        entity: &EntityRef,
        query: &EventQuery,
        redaction: &Redaction,
    ) -> Result<Option<EventPage>> {
        let catalog = self.catalog.sandbox(sandbox)?;
        let txn = self.store.read()?;
        lookup::events(txn.as_ref(), &catalog, sandbox, entity, query, redaction)
    }

    /// The identity graph an entity belongs to.
    pub fn graph(
        &self,
        sandbox: &SandboxName,
        entity: &EntityRef,
    ) -> Result<Option<(ProfileId, Graph)>> {
        let txn = self.store.read()?;
        lookup::resolve(txn.as_ref(), sandbox, entity)
    }

    /// Parses an `entityId` + optional `entityIdNS` pair into a reference.
    pub fn entity_ref(
        &self,
        catalog: &SandboxCatalog,
        entity_id: &str,
        namespace: Option<&str>,
    ) -> Result<EntityRef> {
        match namespace.filter(|ns| !ns.is_empty()) {
            Some(code) => {
                let Some(namespace) = catalog.namespace(code) else {
                    return Err(Error::user(
                        Code::NamespaceNotFound,
                        format!(
                            "entityIdNS: no identity namespace \"{code}\" exists in this sandbox"
                        ),
                    ));
                };
                Ok(EntityRef::Identity(IdentityKey::new(
                    namespace.code.clone(),
                    entity_id,
                )))
            }
            None => {
                if let Some(profile_id) = ProfileId::parse(entity_id) {
                    return Ok(EntityRef::Profile(profile_id));
                }
                if let Some(identity) = identity::xid::decode(entity_id) {
                    if let Some(namespace) = catalog.namespace(&identity.namespace) {
                        return Ok(EntityRef::Identity(IdentityKey::new(
                            namespace.code.clone(),
                            identity.value,
                        )));
                    }
                }
                Err(Error::user(
                    Code::MissingParameter,
                    format!("entityIdNS: \"{entity_id}\" is neither a profile id nor an XID, so its namespace is required"),
                ))
            }
        }
    }

    // Catalog changes: each validates, persists and publishes a new snapshot.

    pub fn create_namespace(
        &self,
        sandbox: &SandboxName,
        body: &Value,
    ) -> Result<identity::namespace::Namespace> {
        self.change(sandbox, |e| catalog::namespaces::create(e, body))
    }

    pub fn update_namespace(
        &self,
        sandbox: &SandboxName,
        id: &str,
        body: &Value,
    ) -> Result<identity::namespace::Namespace> {
        self.change(sandbox, |e| catalog::namespaces::update(e, id, body))
    }

    pub fn create_field_group(
        &self,
        sandbox: &SandboxName,
        body: Value,
    ) -> Result<catalog::TenantFieldGroup> {
        self.change(sandbox, |e| catalog::schemas::create_field_group(e, body))
    }

    pub fn create_schema(
        &self,
        sandbox: &SandboxName,
        body: &Value,
    ) -> Result<catalog::SchemaRecord> {
        self.change(sandbox, |e| catalog::schemas::create_schema(e, body))
    }

    pub fn patch_schema(
        &self,
        sandbox: &SandboxName,
        id: &str,
        body: &Value,
    ) -> Result<catalog::SchemaRecord> {
        self.change(sandbox, |e| catalog::schemas::patch_schema(e, id, body))
    }

    pub fn delete_schema(&self, sandbox: &SandboxName, id: &str) -> Result<()> {
        self.change(sandbox, |e| catalog::schemas::delete_schema(e, id))
    }

    pub fn create_descriptor(
        &self,
        sandbox: &SandboxName,
        body: &Value,
    ) -> Result<catalog::schemas::AnyDescriptor> {
        self.change(sandbox, |e| catalog::schemas::create_descriptor(e, body))
    }

    pub fn delete_descriptor(&self, sandbox: &SandboxName, id: &str) -> Result<()> {
        self.change(sandbox, |e| catalog::schemas::delete_descriptor(e, id))
    }

    pub fn create_dataset(&self, sandbox: &SandboxName, body: &Value) -> Result<catalog::Dataset> {
        self.change(sandbox, |e| catalog::datasets::create(e, body))
    }

    pub fn patch_dataset(
        &self,
        sandbox: &SandboxName,
        id: &str,
        body: &Value,
    ) -> Result<catalog::Dataset> {
        let before = self
            .catalog
            .sandbox(sandbox)?
            .datasets
            .get(id)
            .and_then(catalog::Dataset::event_ttl_days);
        let dataset = self.change(sandbox, |e| catalog::datasets::patch(e, id, body))?;
        // A new or shorter expiration applies to the events already stored, now.
        if let Some(days) = dataset.event_ttl_days() {
            if before.is_none_or(|before| days < before) {
                self.sweep(sandbox, SweepTask::ExpireEvents)?;
            }
        }
        Ok(dataset)
    }

    /// Deletes a dataset; its fragments and events leave every profile in the background.
    pub fn delete_dataset(&self, sandbox: &SandboxName, id: &str) -> Result<()> {
        self.change(sandbox, |e| catalog::datasets::delete(e, id))?;
        self.sweep(
            sandbox,
            SweepTask::PurgeDataset {
                dataset: id.to_owned(),
            },
        )
    }

    pub fn create_merge_policy(
        &self,
        sandbox: &SandboxName,
        body: &Value,
    ) -> Result<catalog::MergePolicy> {
        self.change(sandbox, |e| catalog::merge_policies::create(e, body))
    }

    pub fn replace_merge_policy(
        &self,
        sandbox: &SandboxName,
        id: &str,
        body: &Value,
    ) -> Result<catalog::MergePolicy> {
        self.change(sandbox, |e| catalog::merge_policies::replace(e, id, body))
    }

    pub fn patch_merge_policy(
        &self,
        sandbox: &SandboxName,
        id: &str,
        body: &Value,
    ) -> Result<catalog::MergePolicy> {
        self.change(sandbox, |e| catalog::merge_policies::patch(e, id, body))
    }

    pub fn delete_merge_policy(&self, sandbox: &SandboxName, id: &str) -> Result<()> {
        self.change(sandbox, |e| catalog::merge_policies::delete(e, id))
    }

    /// Creates a segment definition and queues a job that evaluates it over every profile; a
    /// sandbox at `max-segment-definitions` refuses it (422), and so does a caller whose
    /// `clearance` lacks a label of what it reads (403).
    pub fn create_segment(
        &self,
        sandbox: &SandboxName,
        body: &Value,
        clearance: Clearance<'_>,
    ) -> Result<segment::SegmentDefinition> {
        let limit = self.guardrails.limits().max_segment_definitions;
        let definition = self
            .change_checked(
                sandbox,
                |e| segment::definitions::create(e, body, limit),
                |catalog, definition| segment_cleared(catalog, definition, clearance),
            )
            .inspect_err(|error| {
                if error.code() == Code::SegmentDefinitionLimit {
                    self.guardrails.hit(
                        guardrails::Guardrail::SegmentDefinitionLimit,
                        guardrails::Subject::Sandbox(sandbox),
                        limit as u64,
                        1,
                    );
                }
            })?;
        self.segment_jobs
            .evaluate_definition(sandbox, &definition.id)?;
        Ok(definition)
    }

    /// Changes a segment definition; when its expression or consent rule changed, a job
    /// evaluates it again over every profile.
    pub fn patch_segment(
        &self,
        sandbox: &SandboxName,
        id: &str,
        body: &Value,
        clearance: Clearance<'_>,
    ) -> Result<segment::SegmentDefinition> {
        let before = segment::definitions::existing(&*self.sandbox(sandbox)?, id)?;
        let definition = self.change_checked(
            sandbox,
            |e| segment::definitions::patch(e, id, body),
            |catalog, definition| segment_cleared(catalog, definition, clearance),
        )?;
        if definition.expression != before.expression
            || definition.exclude_opt_out != before.exclude_opt_out
        {
            self.segment_jobs
                .evaluate_definition(sandbox, &definition.id)?;
        }
        Ok(definition)
    }

    /// Deletes a segment definition; a job then removes its memberships from every profile.
    pub fn delete_segment(&self, sandbox: &SandboxName, id: &str) -> Result<()> {
        self.change(sandbox, |e| segment::definitions::delete(e, id))?;
        self.segment_jobs.create_job(sandbox, None)?;
        Ok(())
    }

    /// Creates a computed attribute; a published one is backfilled from stored events in the
    /// background.
    pub fn create_computed(
        &self,
        sandbox: &SandboxName,
        body: &Value,
        clearance: Clearance<'_>,
    ) -> Result<computed::ComputedAttribute> {
        let attribute = self.change_checked(
            sandbox,
            |e| computed::definitions::create(e, body),
            |catalog, attribute| computed_cleared(catalog, attribute, clearance),
        )?;
        if attribute.publication == computed::Publication::Published {
            self.backfill(sandbox, &attribute);
        }
        Ok(attribute)
    }

    /// Changes a computed attribute; publishing it, or changing what it computes, backfills it.
    pub fn patch_computed(
        &self,
        sandbox: &SandboxName,
        id: &str,
        body: &Value,
        clearance: Clearance<'_>,
    ) -> Result<computed::ComputedAttribute> {
        let before = computed::definitions::existing(&*self.sandbox(sandbox)?, id)?;
        let attribute = self.change_checked(
            sandbox,
            |e| computed::definitions::patch(e, id, body),
            |catalog, attribute| computed_cleared(catalog, attribute, clearance),
        )?;
        let recompute = attribute.computation_stamp() != before.computation_stamp()
            || attribute.publication != before.publication
            || attribute.name != before.name;
        if recompute && attribute.publication == computed::Publication::Published {
            self.backfill(sandbox, &attribute);
        }
        Ok(attribute)
    }

    /// Deletes a computed attribute; a pass over the profiles removes its values.
    pub fn delete_computed(&self, sandbox: &SandboxName, id: &str) -> Result<()> {
        self.change(sandbox, |e| computed::definitions::delete(e, id))?;
        self.segment_jobs
            .backfill_computed(sandbox, std::collections::BTreeMap::new());
        Ok(())
    }

    fn backfill(&self, sandbox: &SandboxName, attribute: &computed::ComputedAttribute) {
        self.segment_jobs.backfill_computed(
            sandbox,
            std::collections::BTreeMap::from([(attribute.id.clone(), attribute.update_ms)]),
        );
    }

    /// A computed attribute in the reference's shape, with how far its backfill went.
    pub fn computed_json(
        &self,
        sandbox: &SandboxName,
        attribute: &computed::ComputedAttribute,
    ) -> Result<Value> {
        let catalog = self.sandbox(sandbox)?;
        let backfill = self
            .segment_jobs
            .backfill_of(sandbox, &attribute.id, attribute.update_ms);
        let failed = catalog.computed_index.failed.get(&attribute.id);
        let job = match (attribute.publication, failed, &backfill) {
            (computed::Publication::Draft, _, _) => "NOT_STARTED",
            (_, Some(_), _) => "FAILED",
            (_, None, Some(b)) if b.status == segment::jobs::JobStatus::Failed => "FAILED",
            (_, None, Some(b)) if b.status != segment::jobs::JobStatus::Succeeded => "PROCESSING",
            _ => "ENABLED",
        };
        let mut value = attribute.to_json(
            sandbox.as_str(),
            catalog.tenant_key.trim_start_matches('_'),
            &Value::String(job.to_owned()),
        );
        if let Some(b) = backfill {
            value["status"]["backfill"] = serde_json::json!({
                "status": b.status.as_str(),
                "profilesProcessed": b.profiles_done,
                "totalProfiles": b.profiles_total,
                "startTime": b.start_ms,
                "endTime": b.end_ms,
                "error": b.error,
            });
        }
        if let Some(reason) = failed {
            value["status"]["error"] = Value::String(reason.clone());
        }
        Ok(value)
    }

    /// Queues a training of the built-in models (lifetime value, churn propensity); the run
    /// scores every profile when it is done.
    pub fn train_models(
        &self,
        sandbox: &SandboxName,
        body: &Value,
    ) -> Result<segment::jobs::TrainingRun> {
        let settings = scores::ScoreSettings::from_json(body)?;
        Ok(self.segment_jobs.train(sandbox, settings, "api"))
    }

    /// A training run.
    pub fn training(&self, sandbox: &SandboxName, id: &str) -> Result<segment::jobs::TrainingRun> {
        self.segment_jobs.training(sandbox, id).ok_or_else(|| {
            Error::user(
                Code::TrainingNotFound,
                format!("no training run \"{id}\" in this sandbox (runs are kept in memory)"),
            )
        })
    }

    /// The sandbox's trained models with their reports.
    pub fn models(&self, sandbox: &SandboxName) -> Result<Arc<scores::TrainedModels>> {
        self.sandbox(sandbox)?.models.clone().ok_or_else(|| {
            Error::user(
                Code::ModelsNotTrained,
                "no models are trained in this sandbox yet: POST /data/rapport/models/train",
            )
        })
    }

    /// Segment jobs and previews.
    pub fn segment_jobs(&self) -> &segment::jobs::SegmentJobs {
        &self.segment_jobs
    }

    // Privacy requests (server-wide: every sandbox is searched) and hygiene work orders.

    /// Checks a privacy request in the reference's shape (`users[]` of `{key, action,
    /// userIDs}`, `include`, `regulation`) and queues its jobs, one per data subject and
    /// action; [`privacy::jobs::created_answer`] gives the reference's answer.
    pub fn create_privacy_jobs(
        &self,
        body: &Value,
        submitted_by: &str,
    ) -> Result<Vec<privacy::PrivacyJob>> {
        self.privacy.create_jobs(body, submitted_by)
    }

    /// One privacy job ([`privacy::PrivacyJob::to_json`] gives the reference's shape).
    pub fn privacy_job(&self, id: &str) -> Result<privacy::PrivacyJob> {
        self.privacy.job(id)
    }

    /// Privacy jobs, newest first, one page of them.
    pub fn privacy_jobs(
        &self,
        filter: &privacy::PrivacyJobFilter,
    ) -> Result<privacy::PrivacyJobPage> {
        self.privacy.jobs(filter)
    }

    /// The result of a completed access job, unredacted:
    /// `{"privacyResponse": {"jobId", "response": [{"sandbox", "mergePolicyId", "result", "rapport"}]}}`.
    pub fn privacy_access_result(&self, id: &str) -> Result<Value> {
        self.privacy.access_result(id)
    }

    /// How long access results are kept after their job completed (7 days unless set).
    pub fn set_privacy_result_retention(&self, retention: std::time::Duration) {
        self.privacy.set_result_retention(retention);
    }

    /// Checks a hygiene work order (`{"action": "delete_identity", "datasetId", "identities"}`)
    /// for `sandbox` and queues it.
    pub fn create_work_order(
        &self,
        sandbox: &SandboxName,
        body: &Value,
        created_by: &str,
    ) -> Result<privacy::WorkOrder> {
        self.privacy.create_work_order(sandbox, body, created_by)
    }

    /// One work order of `sandbox`.
    pub fn work_order(&self, sandbox: &SandboxName, id: &str) -> Result<privacy::WorkOrder> {
        self.privacy.work_order(sandbox, id)
    }

    /// Explains one profile's membership in one segment: the clauses, the values compared and
    /// the events that matched, evaluated now.
    pub fn explain_membership(
        &self,
        sandbox: &SandboxName,
        segment_id: &str,
        entity: &EntityRef,
    ) -> Result<Value> {
        let catalog = self.sandbox(sandbox)?;
        let definition = segment::definitions::existing(&catalog, segment_id)?;
        let Some(position) = catalog.segment_index.position(segment_id) else {
            let why = catalog
                .segment_index
                .failed
                .get(segment_id)
                .cloned()
                .unwrap_or_default();
            return Err(Error::user(
                Code::InvalidPql,
                format!("segment definition \"{segment_id}\" cannot be evaluated: {why}"),
            ));
        };
        let compiled = &catalog.segment_index.ordered[position];
        let txn = self.store.read()?;
        let Some((profile_id, _)) = lookup::resolve(txn.as_ref(), sandbox, entity)? else {
            return Err(Error::user(
                Code::ProfileNotFound,
                "no profile was found for this identity",
            ));
        };
        let Some(profile) = segment::jobs::ProfileForEvaluation::read(
            txn.as_ref(),
            &catalog,
            sandbox,
            profile_id,
            &Some(None),
            &segment::membership::Decoding::everything(),
        )?
        else {
            return Err(Error::user(
                Code::Unavailable,
                "the profile is being rebuilt; try again in a moment",
            ));
        };
        let refs = profile
            .events
            .as_ref()
            .map(segment::LoadedEvents::refs)
            .unwrap_or_default();
        let in_segment = |other: &str| profile.memberships.is_realized(other);
        let subject = segments::Subject {
            profile: profile.attributes(),
            events: &refs,
            in_segment: &in_segment,
        };
        let now = catalog::now_ms();
        let explanation = compiled.program.explain(&subject, now);
        let opted_out = segment::membership::opted_out_of_marketing(profile.attributes());
        let outcome = compiled.program.evaluate(&subject, now);
        let stored = profile.memberships.segments.get(segment_id).map(|m| {
            serde_json::json!({
                "status": m.status.as_str(),
                "lastQualificationTime": time::format_rfc3339_ms(m.last_qualification_ms, false),
            })
        });
        Ok(serde_json::json!({
            "segmentId": definition.id,
            "segmentName": definition.name,
            "expression": definition.expression,
            "entityId": profile_id.to_string(),
            "evaluatedAt": time::format_rfc3339_ms(now, true),
            "qualifies": outcome.qualified && !(definition.exclude_opt_out && opted_out),
            "expressionHolds": outcome.qualified,
            "excludedByConsent": definition.exclude_opt_out && opted_out && outcome.qualified,
            "nextChangeAt": outcome.next_change_ms.map(|t| time::format_rfc3339_ms(t, true)),
            "membership": stored,
            "explanation": explanation,
        }))
    }

    /// Applies a catalog change. When it changes what prepared views are built with (the default
    /// merge policy, namespace priorities), every view of the sandbox is rebuilt in the background;
    /// until then lookups merge on read, so no stale view is ever served.
    fn change<T>(
        &self,
        sandbox: &SandboxName,
        edit: impl FnOnce(&mut catalog::Editor<'_>) -> Result<T>,
    ) -> Result<T> {
        self.change_checked(sandbox, edit, |_, _| Ok(()))
    }

    /// As [`Engine::change`], refused when `check` fails on the changed catalog.
    fn change_checked<T>(
        &self,
        sandbox: &SandboxName,
        edit: impl FnOnce(&mut catalog::Editor<'_>) -> Result<T>,
        check: impl FnOnce(&SandboxCatalog, &T) -> Result<()>,
    ) -> Result<T> {
        let before = self.catalog.sandbox(sandbox)?.view_stamp.clone();
        let outcome = self.catalog.change_checked(sandbox, edit, check)?;
        if self.catalog.sandbox(sandbox)?.view_stamp != before {
            self.sweep(sandbox, SweepTask::RebuildViews)?;
        }
        Ok(outcome)
    }

    /// Queues a sweep over every profile of a sandbox; failures are logged.
    fn sweep(&self, sandbox: &SandboxName, task: SweepTask) -> Result<()> {
        self.writer.submit(Job::logged_sweep(sandbox, task))
    }
}

/// Refuses a segment definition reading fields `clearance` does not cover.
fn segment_cleared(
    catalog: &SandboxCatalog,
    definition: &segment::SegmentDefinition,
    clearance: Clearance<'_>,
) -> Result<()> {
    clearance.check(
        &catalog.label_index.segment_labels(&definition.id),
        "/expression/value",
        "the definition",
    )
}

/// Refuses a computed attribute computed from fields `clearance` does not cover.
fn computed_cleared(
    catalog: &SandboxCatalog,
    attribute: &computed::ComputedAttribute,
    clearance: Clearance<'_>,
) -> Result<()> {
    let field = format!(
        "{}.SystemComputedAttributes.{}",
        catalog.tenant_key, attribute.name
    );
    clearance.check(
        &catalog.label_index.profile_field_labels(&field),
        "/expression/value",
        "the attribute",
    )
}
