//! `timestampOrdered`: every fragment, oldest first, so the most recently updated wins.

use super::FragmentOrder;
use crate::records::StoredFragment;

pub struct TimestampOrdered;

impl FragmentOrder for TimestampOrdered {
    fn order<'f>(&self, fragments: Vec<&'f StoredFragment>) -> Vec<&'f StoredFragment> {
        let mut ordered = fragments;
        ordered.sort_by(|x, y| {
            (x.merge_time_ms(), x.sequence, &x.dataset, &x.primary).cmp(&(
                y.merge_time_ms(),
                y.sequence,
                &y.dataset,
                &y.primary,
            ))
        });
        ordered
    }
}
