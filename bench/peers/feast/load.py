"""Loads the benchmark's customers into the Feast peer's online store (Redis).

    FEAST_PEER_DATA=DIR FEAST_REDIS_PORT=PORT python load.py PROFILES EVENTS_PER_PROFILE [--processes N]

Mirrors what rapport-bench loads into Rapport (crates/rapport-bench/src/load.rs): for each
profile p, the CRM record `crm_entity(p)` becomes the `customer_profile` feature view's row, and
its EVENTS_PER_PROFILE experience events (`event_entity_dated(p, n, Dating::History)`: a
purchase of 49.5 + n when n % 4 == 0, else a page view) become the aggregates of the
`customer_activity` feature view. Feast keeps a feature vector per entity, not the events.

Steps: copy ./feature_repo into DIR/repo (filling in the data directory and Redis port), write
both feature views' rows as Parquet files in DIR (the FileSources), apply the definitions (the
registry goes to DIR/registry.db), then write the rows to Redis with
`FeatureStore.write_to_online_store`, in chunks of 20,000 rows, from --processes forked
processes (default: the cores, at most 2) that each take a share of the profiles. (Writing
rows directly is faster than `materialize` from the Parquet files: 15 s against 18 s for
100,000 profile rows.) The last line printed is a JSON summary:
{"profiles": N, "events_per_profile": E, "seconds": total, "write_seconds": online writes only}.

Redis must already listen on 127.0.0.1:FEAST_REDIS_PORT.
"""

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "feature_repo"
# Rows per write_to_online_store call: large enough to amortise the per-call overhead (registry
# lookup, Arrow conversion, one Redis pipeline), small enough to bound the memory it takes.
CHUNK = 20_000


def log(message: str) -> None:
    print(message, flush=True)


def prepare_repo(data: Path, redis_port: int) -> Path:
    """Copies the feature repository into DATA/repo with the data directory and port filled in."""
    repo = data / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    config = (TEMPLATE / "feature_store.yaml").read_text()
    config = config.replace("${FEAST_PEER_DATA}", str(data)).replace(
        "${FEAST_REDIS_PORT}", str(redis_port)
    )
    (repo / "feature_store.yaml").write_text(config)
    shutil.copyfile(TEMPLATE / "features.py", repo / "features.py")
    return repo


def profile_rows(first: int, last: int, stamp: pd.Timestamp) -> pd.DataFrame:
    """`crm_entity(p)` for p in first..last, one column per attribute."""
    p = np.arange(first, last, dtype=np.int64)
    ids = pd.Series(p).astype(str)
    tiers = np.array(["bronze", "silver", "gold"], dtype=object)
    return pd.DataFrame(
        {
            "customer_id": "crm-" + ids,
            "first_name": "Customer",
            "last_name": "Number " + ids,
            "birth_date": "1984-05-17",
            "email": "customer" + ids + "@example.com",
            "city": "Seattle",
            "state": "WA",
            "country": "US",
            "postal_code": "98101",
            "phone": "+1206" + ids.str.zfill(7),
            "loyalty_tier": tiers[p % 3],
            "loyalty_points": (p % 5000).astype(np.float64),
            "consent_email": "y",
            "consent_call": "n",
            "event_timestamp": stamp,
        }
    )


def activity_rows(
    first: int, last: int, events: int, stamp: pd.Timestamp
) -> pd.DataFrame:
    """The aggregates of `event_entity_dated(p, n, Dating::History)` for n in 0..events."""
    p = np.arange(first, last, dtype=np.int64)
    n = np.arange(events, dtype=np.int64)
    purchases = n % 4 == 0
    purchase_count = int(purchases.sum())
    total_spent = float((49.5 + n[purchases]).sum())
    # 2026-{1 + n % 10}-{1 + n % 28}T{n % 24}:{(p + n) % 60}:00Z, the latest per profile.
    if events:
        days = (
            pd.to_datetime(
                {"year": 2026, "month": 1 + n % 10, "day": 1 + n % 28}, utc=True
            ).to_numpy(dtype="datetime64[s]")
        ).astype(np.int64)
        base = days + (n % 24) * 3600  # seconds, without the minutes
        latest = np.full(len(p), np.iinfo(np.int64).min, dtype=np.int64)
        for i in range(events):
            latest = np.maximum(latest, base[i] + ((p + n[i]) % 60) * 60)
        last_event = pd.to_datetime(latest, unit="s", utc=True)
    else:
        last_event = pd.NaT
    return pd.DataFrame(
        {
            "customer_id": "crm-" + pd.Series(p).astype(str),
            "event_count": np.int64(events),
            "purchase_count": np.int64(purchase_count),
            "page_view_count": np.int64(events - purchase_count),
            "total_spent": total_spent,
            "last_event_timestamp": last_event,
            "event_timestamp": stamp,
        }
    )


def write_range(repo: Path, events: int, stamp: pd.Timestamp, first: int, last: int) -> None:
    """Writes both feature views' rows of profiles first..last to the online store."""
    from feast import FeatureStore

    store = FeatureStore(repo_path=str(repo))
    for start in range(first, last, CHUNK):
        end = min(start + CHUNK, last)
        store.write_to_online_store("customer_profile", profile_rows(start, end, stamp))
        store.write_to_online_store(
            "customer_activity", activity_rows(start, end, events, stamp)
        )


def write_parquet(data: Path, profiles: int, events: int, stamp: pd.Timestamp) -> None:
    """The feature views' sources, written a chunk at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writers = {}
    try:
        for start in range(0, max(profiles, 1), CHUNK):
            end = min(start + CHUNK, profiles)
            for name, frame in (
                ("customer_profile", profile_rows(start, end, stamp)),
                ("customer_activity", activity_rows(start, end, events, stamp)),
            ):
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if name not in writers:
                    writers[name] = pq.ParquetWriter(data / f"{name}.parquet", table.schema)
                writers[name].write_table(table)
    finally:
        for writer in writers.values():
            writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profiles", type=int)
    parser.add_argument("events_per_profile", type=int)
    parser.add_argument(
        "--processes",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="writer processes (default: the cores, at most 2)",
    )
    args = parser.parse_args()
    data = os.environ.get("FEAST_PEER_DATA")
    if not data:
        sys.exit("load.py: set FEAST_PEER_DATA to the data directory")
    data = Path(data).resolve()
    redis_port = int(os.environ.get("FEAST_REDIS_PORT", "6379"))
    os.environ["FEAST_PEER_DATA"] = str(data)
    data.mkdir(parents=True, exist_ok=True)
    # Feast would otherwise make a directory in /tmp for Prometheus' files on import.
    (data / "metrics").mkdir(exist_ok=True)
    os.environ.setdefault("PROMETHEUS_MULTIPROCESS_DIR", str(data / "metrics"))

    started = time.monotonic()
    repo = prepare_repo(data, redis_port)
    stamp = pd.Timestamp(datetime.now(timezone.utc)).floor("s")

    write_parquet(data, args.profiles, args.events_per_profile, stamp)
    log(f"generated {args.profiles} profiles in {time.monotonic() - started:.1f} s")

    # `feast apply`, in this process: the definitions come from the repository's copy.
    from feast import FeatureStore

    sys.path.insert(0, str(repo))
    import features  # noqa: E402  (the copy in DATA/repo)

    store = FeatureStore(repo_path=str(repo))
    store.apply(
        [features.customer, features.customer_profile, features.customer_activity]
    )
    log(f"applied in {time.monotonic() - started:.1f} s")

    write_started = time.monotonic()
    processes = max(1, min(args.processes, args.profiles // CHUNK + 1))
    if processes == 1:
        write_range(repo, args.events_per_profile, stamp, 0, args.profiles)
    else:
        # Feast's online write is Python-bound (one process writes some 4,000-5,000 profiles a
        # second): the profiles are split over forked processes, each making its rows and
        # writing them through its own FeatureStore and Redis connection.
        context = multiprocessing.get_context("fork")
        step = -(-args.profiles // processes)
        workers = [
            context.Process(
                target=write_range,
                args=(
                    repo,
                    args.events_per_profile,
                    stamp,
                    first,
                    min(first + step, args.profiles),
                ),
            )
            for first in range(0, args.profiles, step)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        failed = [w.exitcode for w in workers if w.exitcode != 0]
        if failed:
            sys.exit(f"load.py: {len(failed)} writer process(es) failed: {failed}")
    write_seconds = time.monotonic() - write_started
    seconds = time.monotonic() - started
    log(
        f"loaded {args.profiles} profiles in {seconds:.1f} s "
        f"(online writes {write_seconds:.1f} s, {args.profiles / max(write_seconds, 1e-9):.0f} profiles/s)"
    )
    log(
        json.dumps(
            {
                "profiles": args.profiles,
                "events_per_profile": args.events_per_profile,
                "seconds": round(seconds, 3),
                "write_seconds": round(write_seconds, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
