//! Special functions the likelihoods and expectations need: log-gamma, a stable log-sum-exp,
//! and the Gauss hypergeometric function ₂F₁ on `[0, 1)`.

/// `ln Γ(x)` for `x > 0`.
pub(crate) fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// `ln(eˣ + eʸ)` without overflow; `-∞` stands for a missing term.
pub(crate) fn log_add_exp(x: f64, y: f64) -> f64 {
    let (larger, smaller) = if x >= y { (x, y) } else { (y, x) };
    if smaller == f64::NEG_INFINITY {
        return larger;
    }
    larger + (smaller - larger).exp().ln_1p()
}

/// How many terms a series may add before it stops (reached only for `z` very close to 1
/// when the faster continuation below cannot be used).
const MAX_SERIES_TERMS: usize = 200_000;

/// Above this `z` the series converges slowly and the `1 − z` continuation is used instead.
const CONTINUATION_FROM: f64 = 0.9;

/// ₂F₁(a, b; c; z) for `0 ≤ z < 1`.
///
/// The power series for `z ≤ 0.9`; above, the linear transformation to `1 − z`
/// (Abramowitz & Stegun 15.3.6), whose two series converge fast there. That transformation
/// divides by Γ(±(c − a − b)), so when `c − a − b` is within 10⁻³ of an integer the power
/// series is summed instead (to 10⁻¹⁵ relative, at most 200,000 terms).
pub(crate) fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if z <= CONTINUATION_FROM {
        return power_series(a, b, c, z);
    }
    let excess = c - a - b;
    if (excess - excess.round()).abs() > 1e-3 {
        if let Some(value) = continued_from_one(a, b, c, z) {
            return value;
        }
    }
    power_series(a, b, c, z)
}

/// The defining series Σ (a)ₙ(b)ₙ / ((c)ₙ n!) zⁿ.
pub(crate) fn power_series(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..MAX_SERIES_TERMS {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-16 * sum.abs() {
            break;
        }
    }
    sum
}

/// A&S 15.3.6: ₂F₁(a,b;c;z) in terms of two series in `1 − z`. `None` when a gamma function in
/// a numerator has a pole.
fn continued_from_one(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    let w = 1.0 - z;
    let excess = c - a - b;
    let first = gamma_fraction([c, excess], [c - a, c - b])? * power_series(a, b, 1.0 - excess, w);
    let second = gamma_fraction([c, -excess], [a, b])?
        * w.powf(excess)
        * power_series(c - a, c - b, 1.0 + excess, w);
    Some(first + second)
}

/// Γ(n₀)Γ(n₁) / (Γ(d₀)Γ(d₁)), computed in logs with signs; 0 when a denominator argument is a
/// pole of Γ, `None` when a numerator argument is.
fn gamma_fraction(numerator: [f64; 2], denominator: [f64; 2]) -> Option<f64> {
    let is_pole = |x: f64| x <= 0.0 && x == x.round();
    if numerator.iter().any(|&x| is_pole(x)) {
        return None;
    }
    if denominator.iter().any(|&x| is_pole(x)) {
        return Some(0.0);
    }
    let mut log_magnitude = 0.0;
    let mut sign = 1.0;
    for (arguments, direction) in [(numerator, 1.0), (denominator, -1.0)] {
        for x in arguments {
            let (log_abs, sign_of_gamma) = libm::lgamma_r(x);
            log_magnitude += direction * log_abs;
            if sign_of_gamma < 0 {
                sign = -sign;
            }
        }
    }
    Some(sign * log_magnitude.exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // ₂F₁(1, 1; 2; z) = −ln(1 − z) / z, by the power series (c − a − b = 0 is an integer).
        for z in [0.1_f64, 0.5, 0.9, 0.95, 0.99] {
            let expected = -(1.0 - z).ln() / z;
            let got = hyp2f1(1.0, 1.0, 2.0, z);
            assert!(
                (got - expected).abs() < 1e-10 * expected,
                "z = {z}: {got} vs {expected}"
            );
        }
        // ₂F₁(a, b; b; z) = (1 − z)^(−a), through the continuation (c − a − b = −a).
        for z in [0.91, 0.97, 0.999] {
            let expected = (1.0_f64 - z).powf(-0.3);
            let got = hyp2f1(0.3, 2.5, 2.5, z);
            assert!(
                (got - expected).abs() < 1e-9 * expected,
                "z = {z}: {got} vs {expected}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn continuation_from_one_agrees_with_the_power_series(
            a in -1.0f64..15.0,
            b in -0.95f64..4.0,
            c in 0.2f64..70.0,
            z in 0.9001f64..0.97,
        ) {
            let excess = c - a - b;
            proptest::prop_assume!((excess - excess.round()).abs() > 1e-3);
            let series = power_series(a, b, c, z);
            let continued = hyp2f1(a, b, c, z);
            proptest::prop_assert!(
                (series - continued).abs() <= 1e-7 * series.abs().max(1.0),
                "2F1({}, {}; {}; {}): series {} against continuation {}", a, b, c, z, series, continued
            );
        }
    }

    #[test]
    fn log_add_exp_handles_missing_terms_and_large_values() {
        assert_eq!(log_add_exp(f64::NEG_INFINITY, 2.0), 2.0);
        assert!((log_add_exp(1000.0, 1000.0) - (1000.0 + 2f64.ln())).abs() < 1e-12);
    }
}
