//! Deterministic sampling: which rows a fit keeps when there are more than it is allowed to
//! read. A row is kept when a hash of its own content falls below its inclusion probability,
//! so the sample depends neither on the input order nor on a random seed, and refitting the
//! same data gives the same parameters.

use crate::summary::WeightedRfm;

/// A distinct BG/NBD row as a fit reads it: how many customers it stands for, after sampling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SampledRow {
    pub frequency: u32,
    pub recency_days: u32,
    pub age_days: u32,
    pub weight: f64,
}

impl SampledRow {
    pub(crate) fn whole(row: &WeightedRfm) -> SampledRow {
        SampledRow {
            frequency: row.frequency,
            recency_days: row.recency_days,
            age_days: row.age_days,
            weight: row.customers as f64,
        }
    }
}

/// About `max_rows` of `rows`, sampled with probability proportional to their customers:
/// a row of `w` customers is kept with probability `π = min(1, c·w)`, `c` such that the
/// probabilities add up to `max_rows`, and then stands for `w / π` customers. All the rows
/// when there are no more than `max_rows`.
pub(crate) fn weighted_sample(rows: &[WeightedRfm], max_rows: usize) -> Vec<SampledRow> {
    if rows.len() <= max_rows {
        return rows.iter().map(SampledRow::whole).collect();
    }
    let target = max_rows as f64;
    let expected_rows = |c: f64| -> f64 {
        rows.iter()
            .map(|row| (c * row.customers as f64).min(1.0))
            .sum()
    };
    // Σ min(1, c·w) grows with c: bisect between a c keeping too few rows and one keeping all.
    let (mut low, mut high) = (0.0, 1.0);
    for _ in 0..100 {
        let middle = (low + high) / 2.0;
        if expected_rows(middle) < target {
            low = middle;
        } else {
            high = middle;
        }
    }
    let c = low;
    rows.iter()
        .filter_map(|row| {
            let probability = (c * row.customers as f64).min(1.0);
            let key = (u64::from(row.frequency) << 42)
                ^ (u64::from(row.recency_days) << 21)
                ^ u64::from(row.age_days);
            keeps(key, probability).then(|| SampledRow {
                weight: row.customers as f64 / probability,
                ..SampledRow::whole(row)
            })
        })
        .collect()
}

/// Whether the row whose content hashes from `key` belongs to a sample of `fraction` of all rows.
pub(crate) fn keeps(key: u64, fraction: f64) -> bool {
    if fraction >= 1.0 {
        return true;
    }
    let unit = (mix(key) >> 11) as f64 / (1u64 << 53) as f64;
    unit < fraction
}

/// SplitMix64's finaliser: spreads every input bit over the whole output.
pub(crate) fn mix(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
