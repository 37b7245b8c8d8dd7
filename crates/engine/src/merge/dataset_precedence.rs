//! `dataSetPrecedence`: only the listed datasets, lowest priority first so the first listed wins.

use super::FragmentOrder;
use crate::records::StoredFragment;

pub struct DataSetPrecedence<'p> {
    /// Dataset ids, highest priority first.
    pub order: &'p [String],
}

impl FragmentOrder for DataSetPrecedence<'_> {
    fn order<'f>(&self, fragments: Vec<&'f StoredFragment>) -> Vec<&'f StoredFragment> {
        let rank = |dataset: &str| self.order.iter().position(|d| d == dataset);
        let mut ordered: Vec<&StoredFragment> = fragments
            .into_iter()
            .filter(|f| rank(&f.dataset).is_some())
            .collect();
        // Within one dataset the newest fragment wins; across datasets the listed order decides.
        ordered.sort_by(|x, y| {
            rank(&y.dataset)
                .cmp(&rank(&x.dataset))
                .then_with(|| (x.merge_time_ms(), x.sequence).cmp(&(y.merge_time_ms(), y.sequence)))
                .then_with(|| x.primary.cmp(&y.primary))
        });
        ordered
    }
}
