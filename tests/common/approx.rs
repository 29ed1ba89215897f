//! The one float comparison of the test kit, with named tolerances, so that every test says
//! how close is close enough in the same words (the tests used to carry five `close`s).

use serde_json::Value;

/// How far apart two numbers may be: `rel` times the larger magnitude, plus `abs`.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    pub rel: f64,
    pub abs: f64,
}

/// Relative error at most 1e-9: the same arithmetic in another order.
pub const REL_1E9: Tol = Tol {
    rel: 1e-9,
    abs: 0.0,
};

/// Relative error at most 1e-9, plus an absolute floor of 1e-12 for values that cancel
/// towards zero (`1 - good/total` when almost every request is good; a rate that is 1e-17
/// on one side and 0 on the other). Far below any SLI value that matters.
pub const REL_1E9_ABS_1E12: Tol = Tol {
    rel: 1e-9,
    abs: 1e-12,
};

/// `a` and `b` are equal, or both finite and within `tol`. NaN is close to nothing, an
/// infinity only to itself.
pub fn close(a: f64, b: f64, tol: Tol) -> bool {
    if a == b {
        return true;
    }
    if !a.is_finite() || !b.is_finite() {
        return false;
    }
    (a - b).abs() <= tol.rel * a.abs().max(b.abs()) + tol.abs
}

/// [`close`] for two JSON numbers; any other pair of values must be equal.
pub fn close_json(a: &Value, b: &Value, tol: Tol) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => close(x, y, tol),
        _ => a == b,
    }
}
