//! The models crate's one integration-test binary: the published CDNOW results, churn on
//! CDNOW against the recency baseline, property tests of the invariants, and the wire format.

mod models {
    mod cdnow;
    mod cdnow_churn;
    mod properties;
    mod wire;
}
