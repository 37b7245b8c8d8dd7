//! The demo's catalog, created through the engine API: the CRMID and LoyaltyID namespaces, one
//! schema per source and the five datasets. The CRM dataset's `rapportDemo` tag remembers the
//! seed and size the demo was loaded with, and whether loading finished.

use engine::Engine;
use rapport_types::SandboxName;
use serde_json::{json, Value};

use super::generator::{DemoDataset, Generator};

/// The dataset tag that marks the demo's datasets.
pub const TAG: &str = "rapportDemo";

/// The ids of the demo's datasets, by [`DemoDataset::index`].
#[derive(Debug, Clone)]
pub struct DemoDatasets {
    pub ids: [String; 5],
}

impl DemoDatasets {
    pub fn id(&self, dataset: DemoDataset) -> &str {
        &self.ids[dataset.index()]
    }
}

/// A demo found in the sandbox.
#[derive(Debug, Clone)]
pub struct Existing {
    pub seed: u64,
    pub customers: u64,
    /// Loading finished; then `records` holds the counts per dataset.
    pub complete: bool,
    pub records: [u64; 5],
}

/// Each schema: title, class, field groups; and which datasets use it.
const SCHEMAS: &[(&str, &str, &[&str], &[DemoDataset])] = &[
    (
        "Cascade CRM Customer",
        "profile",
        &[
            "profile-person-details",
            "profile-personal-details",
            "profile-consents",
            "profile-loyalty-details",
            "external-source-system-audit-details",
        ],
        &[DemoDataset::Crm],
    ),
    (
        "Cascade Loyalty Member",
        "profile",
        &[
            "profile-person-details",
            "profile-personal-details",
            "profile-consents",
            "profile-loyalty-details",
            "external-source-system-audit-details",
        ],
        &[DemoDataset::Loyalty],
    ),
    (
        "Cascade Web and App Event",
        "experienceevent",
        &[
            "experienceevent-web",
            "experienceevent-commerce",
            "experienceevent-product-list-items",
            "experienceevent-environment-details",
        ],
        &[DemoDataset::WebAndApp],
    ),
    (
        "Cascade Email Campaign Event",
        "experienceevent",
        &["experienceevent-marketing"],
        &[DemoDataset::Email],
    ),
    (
        "Cascade Support Interaction",
        "experienceevent",
        &["experienceevent-support-interactions"],
        &[DemoDataset::CallCenter],
    ),
];

/// The data usage labels the demo puts on its schemas' fields (as `xdm:descriptorLabel`): I1
/// (directly identifying: name, email, phone, address), I2 (indirectly identifying: birth date,
/// device ids) and the custom SUPPORT (what a support agent wrote). The built-in roles grant
/// them differently: an agent sees all three, a sales rep neither I2 nor SUPPORT.
const LABELS: &[(&str, &str, &[&str])] = &[
    (
        "Cascade CRM Customer",
        "I1",
        &[
            "/person/name",
            "/personalEmail/address",
            "/mobilePhone/number",
            "/homeAddress",
            "/identityMap/Email",
            "/identityMap/Phone",
        ],
    ),
    (
        "Cascade CRM Customer",
        "I2",
        &["/person/birthDate", "/identityMap/ECID"],
    ),
    (
        "Cascade Loyalty Member",
        "I1",
        &[
            "/person/name",
            "/personalEmail/address",
            "/mobilePhone/number",
            "/homeAddress",
        ],
    ),
    ("Cascade Loyalty Member", "I2", &["/person/birthDate"]),
    (
        "Cascade Support Interaction",
        "SUPPORT",
        &["/support/notes"],
    ),
];

/// Puts the demo's labels on schema `schema_id` (titled `title`) unless it has labels already.
fn ensure_labels(
    engine: &Engine,
    sandbox: &SandboxName,
    schema_id: &str,
    title: &str,
) -> anyhow::Result<()> {
    let catalog = engine.sandbox(sandbox)?;
    if catalog
        .label_descriptors
        .values()
        .any(|d| d.schema_id == schema_id)
    {
        return Ok(());
    }
    for (_, label, properties) in LABELS.iter().filter(|(t, ..)| *t == title) {
        engine
            .create_descriptor(
                sandbox,
                &json!({
                    "@type": "xdm:descriptorLabel",
                    "xdm:sourceSchema": schema_id,
                    "xdm:sourceVersion": 1,
                    "xdm:sourceProperty": properties,
                    "xdm:labels": [label],
                }),
            )
            .map_err(engine_error)?;
    }
    Ok(())
}

/// The field tree of `dataset`'s schema, composed from its class and standard field groups as the
/// engine composes it (`--out` writes Parquet from it without an engine).
pub fn fields(dataset: DemoDataset) -> anyhow::Result<xdm::ObjectField> {
    let Some((title, class, groups, _)) = SCHEMAS.iter().find(|s| s.3.contains(&dataset)) else {
        anyhow::bail!("no demo schema holds {}", dataset.name());
    };
    let class_id = format!("{}{class}", xdm::STANDARD_ID_PREFIX);
    let Some(class) = xdm::Class::from_id(&class_id) else {
        anyhow::bail!("the demo schema \"{title}\" names an unknown class {class_id}");
    };
    let groups = groups
        .iter()
        .map(|name| {
            xdm::standard_field_group(name).ok_or_else(|| {
                anyhow::anyhow!("the demo schema \"{title}\" names an unknown field group {name}")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    xdm::compose(class, &groups).map_err(|e| anyhow::anyhow!("composing \"{title}\": {e}"))
}

fn engine_error(error: engine::Error) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

/// The demo already in the sandbox, if any. Errors when a dataset named like the demo's holds
/// data the demo did not write.
pub fn existing(engine: &Engine, sandbox: &SandboxName) -> anyhow::Result<Option<Existing>> {
    let catalog = engine.sandbox(sandbox)?;
    let Some(crm) = catalog.dataset(DemoDataset::Crm.name()) else {
        return Ok(None);
    };
    let Some(values) = crm.tags.get(TAG) else {
        anyhow::bail!(
            "this data directory has a \"{}\" dataset that `rapport demo` did not create (or an older demo created); remove the directory or choose another --data-dir",
            DemoDataset::Crm.name()
        );
    };
    let number = |key: &str, values: &[String]| -> Option<u64> {
        values
            .iter()
            .find_map(|v| v.strip_prefix(key)?.strip_prefix(':')?.parse().ok())
    };
    let (Some(seed), Some(customers)) = (number("seed", values), number("customers", values))
    else {
        anyhow::bail!("the demo datasets' \"{TAG}\" tag is damaged: {values:?}");
    };
    let complete = values.iter().any(|v| v == "complete");
    let mut records = [0u64; 5];
    for dataset in DemoDataset::ALL {
        if let Some(found) = catalog.dataset(dataset.name()) {
            let values = found.tags.get(TAG).map(Vec::as_slice).unwrap_or_default();
            records[dataset.index()] = number("records", values).unwrap_or(0);
        }
    }
    Ok(Some(Existing {
        seed,
        customers,
        complete,
        records,
    }))
}

/// Creates whatever of the demo's namespaces, schemas and datasets is missing; returns the
/// datasets' ids.
pub fn ensure(
    engine: &Engine,
    sandbox: &SandboxName,
    generator: &Generator,
) -> anyhow::Result<DemoDatasets> {
    let catalog = engine.sandbox(sandbox)?;
    for (code, body) in [
        (
            "CRMID",
            json!({"code": "CRMID", "name": "CRM ID", "idType": "CROSS_DEVICE", "unique": true,
                   "description": "Customer id in Cascade Outfitters' CRM"}),
        ),
        (
            "LoyaltyID",
            json!({"code": "LoyaltyID", "name": "Loyalty member ID", "idType": "CROSS_DEVICE", "unique": true,
                   "description": "Member id in the Cascade Rewards loyalty program"}),
        ),
    ] {
        if catalog.namespace(code).is_none() {
            engine
                .create_namespace(sandbox, &body)
                .map_err(engine_error)?;
        }
    }
    let tags = || -> Value {
        let values = [
            format!("seed:{}", generator.seed()),
            format!("customers:{}", generator.customers()),
        ];
        json!({
            "unifiedProfile": ["enabled:true"],
            "unifiedIdentity": ["enabled:true"],
            TAG: values,
        })
    };
    let mut ids: [String; 5] = Default::default();
    for (title, class, groups, datasets) in SCHEMAS {
        let catalog = engine.sandbox(sandbox)?;
        if let Some(schema) = catalog.schemas.values().find(|s| s.title == *title) {
            ensure_labels(engine, sandbox, &schema.id, title)?;
        }
        let missing: Vec<DemoDataset> = datasets
            .iter()
            .copied()
            .filter(|d| match catalog.dataset(d.name()) {
                Some(found) => {
                    ids[d.index()] = found.id.clone();
                    false
                }
                None => true,
            })
            .collect();
        if missing.is_empty() {
            continue;
        }
        let schema_id = match catalog.schemas.values().find(|s| s.title == *title) {
            Some(schema) => schema.id.clone(),
            None => {
                let mut all_of =
                    vec![json!({"$ref": format!("https://ns.adobe.com/xdm/context/{class}")})];
                all_of.extend(
                    groups
                        .iter()
                        .map(|g| json!({"$ref": format!("https://ns.adobe.com/xdm/context/{g}")})),
                );
                engine
                    .create_schema(
                        sandbox,
                        &json!({
                            "title": title,
                            "description": "Rapport demo: Cascade Outfitters, a fictional outdoor retailer",
                            "allOf": all_of,
                            "meta:immutableTags": ["union"],
                        }),
                    )
                    .map_err(engine_error)?
                    .id
            }
        };
        ensure_labels(engine, sandbox, &schema_id, title)?;
        for dataset in missing {
            let created = engine
                .create_dataset(
                    sandbox,
                    &json!({
                        "name": dataset.name(),
                        "description": format!("Rapport demo: {}", dataset.name()),
                        "schemaRef": {"id": schema_id},
                        "tags": tags(),
                    }),
                )
                .map_err(engine_error)?;
            ids[dataset.index()] = created.id;
        }
    }
    Ok(DemoDatasets { ids })
}

/// Records on every demo dataset that loading finished, with its record count.
pub fn mark_complete(
    engine: &Engine,
    sandbox: &SandboxName,
    generator: &Generator,
    datasets: &DemoDatasets,
    records: &[u64; 5],
) -> anyhow::Result<()> {
    // The CRM dataset decides whether the demo is loaded: it is marked last.
    for dataset in DemoDataset::ALL.iter().rev() {
        let values = [
            format!("seed:{}", generator.seed()),
            format!("customers:{}", generator.customers()),
            format!("records:{}", records[dataset.index()]),
            "complete".to_owned(),
        ];
        engine
            .patch_dataset(
                sandbox,
                datasets.id(*dataset),
                &json!({"tags": {TAG: values}}),
            )
            .map_err(engine_error)?;
    }
    Ok(())
}
