//! Maximum-likelihood fitting: Nelder–Mead from `argmin` over log-parameters, restarted from
//! its best point until a restart no longer improves the likelihood.

use std::cell::Cell;

use argmin::core::{CostFunction, Executor, State};
use argmin::solver::neldermead::NelderMead;

/// The best point found and its cost.
pub(crate) struct Minimum {
    pub point: Vec<f64>,
    pub cost: f64,
    pub evaluations: u64,
}

struct Objective<'a> {
    cost: &'a dyn Fn(&[f64]) -> f64,
    evaluations: &'a Cell<u64>,
}

impl CostFunction for Objective<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, point: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        self.evaluations.set(self.evaluations.get() + 1);
        let value = (self.cost)(point);
        // Nelder–Mead only compares costs: a point outside the likelihood's domain is simply worse.
        Ok(if value.is_nan() { f64::INFINITY } else { value })
    }
}

/// Minimises `cost` from `start`: a first simplex with steps of `first_step` along each axis,
/// then restarts with steps ten times smaller, at most `restarts` times, while the cost falls
/// by more than 10⁻¹⁰.
pub(crate) fn minimise(
    model: &'static str,
    cost: &dyn Fn(&[f64]) -> f64,
    start: &[f64],
    first_step: f64,
    max_iterations_per_run: u64,
    restarts: u32,
) -> Result<Minimum, crate::ModelError> {
    let evaluations = Cell::new(0);
    let objective = Objective {
        cost,
        evaluations: &evaluations,
    };
    let mut best = Minimum {
        point: start.to_vec(),
        cost: objective.cost(&start.to_vec()).unwrap_or(f64::INFINITY),
        evaluations: 0,
    };
    let mut step = first_step;
    for _ in 0..=restarts {
        let mut simplex = vec![best.point.clone()];
        for axis in 0..best.point.len() {
            let mut vertex = best.point.clone();
            vertex[axis] += step;
            simplex.push(vertex);
        }
        let failed = |error: argmin::core::Error| crate::ModelError::FitFailed {
            model,
            reason: error.to_string(),
        };
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(1e-12)
            .map_err(failed)?;
        let objective = Objective {
            cost,
            evaluations: &evaluations,
        };
        let result = Executor::new(objective, solver)
            .configure(|state| state.max_iters(max_iterations_per_run))
            .run()
            .map_err(failed)?;
        let state = result.state();
        let improvement = best.cost - state.get_best_cost();
        if let Some(point) = state.get_best_param() {
            if state.get_best_cost() < best.cost {
                best.point = point.clone();
                best.cost = state.get_best_cost();
            }
        }
        // NaN (no finite cost yet) counts as no improvement.
        let improved = improvement > 1e-10;
        if !improved && step < first_step {
            break;
        }
        step = (step / 10.0).max(1e-4);
    }
    best.evaluations = evaluations.get();
    if best.cost.is_finite() {
        Ok(best)
    } else {
        Err(crate::ModelError::FitFailed {
            model,
            reason: "the likelihood is not finite anywhere the optimiser looked".to_owned(),
        })
    }
}
