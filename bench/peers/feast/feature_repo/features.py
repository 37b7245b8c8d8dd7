"""The Feast peer's feature definitions: one customer entity and two feature views.

The Parquet files the sources name are written by ../load.py into the data directory, which
holds this repository's copy (``$FEAST_PEER_DATA/repo``): its parent is the data directory.
"""

import os
from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64, Int64, String, UnixTimestamp
from feast.value_type import ValueType

DATA = Path(os.environ.get("FEAST_PEER_DATA") or Path(__file__).resolve().parent.parent)

customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.STRING,
    description="A customer, keyed by CRM id (crm-123)",
)

profile_source = FileSource(
    name="customer_profile_source",
    path=str(DATA / "customer_profile.parquet"),
    timestamp_field="event_timestamp",
)

activity_source = FileSource(
    name="customer_activity_source",
    path=str(DATA / "customer_activity.parquet"),
    timestamp_field="event_timestamp",
)

# The CRM record's attributes (Rapport's benchmark CRM record, flattened).
customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    ttl=timedelta(0),  # never expires
    schema=[
        Field(name="first_name", dtype=String),
        Field(name="last_name", dtype=String),
        Field(name="birth_date", dtype=String),
        Field(name="email", dtype=String),
        Field(name="city", dtype=String),
        Field(name="state", dtype=String),
        Field(name="country", dtype=String),
        Field(name="postal_code", dtype=String),
        Field(name="phone", dtype=String),
        Field(name="loyalty_tier", dtype=String),
        Field(name="loyalty_points", dtype=Float64),
        Field(name="consent_email", dtype=String),
        Field(name="consent_call", dtype=String),
    ],
    online=True,
    source=profile_source,
)

# Aggregates of the customer's experience events (Rapport keeps the events themselves).
customer_activity = FeatureView(
    name="customer_activity",
    entities=[customer],
    ttl=timedelta(0),
    schema=[
        Field(name="event_count", dtype=Int64),
        Field(name="purchase_count", dtype=Int64),
        Field(name="page_view_count", dtype=Int64),
        Field(name="total_spent", dtype=Float64),
        Field(name="last_event_timestamp", dtype=UnixTimestamp),
    ],
    online=True,
    source=activity_source,
)
