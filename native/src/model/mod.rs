//! The link classifier's trees evaluated in place (scoring/model.py reads them from the XGBoost
//! booster): one page's candidate rows scored without XGBoost's per-call set-up, which costs
//! milliseconds even for a single row. Arithmetic is XGBoost's CPU predictor's, in float32 and in the
//! same order (base margin, then each tree's leaf added in tree order, then its sigmoid), so the
//! scores are bit-identical (tests/unit/test_model.py compares them with `inplace_predict`).
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// One node of the forest, children as indices into `Forest::nodes`. A leaf is its own two children
/// (so a walk that reaches it stays there) and holds its value in `value`.
#[derive(Clone, Copy)]
struct Node {
    left: u32,
    right: u32,
    feature: u32,
    value: f32,
    default_left: bool,
}

/// A tree: its root's index in `Forest::nodes` and its depth.
#[derive(Clone, Copy)]
struct Tree {
    root: u32,
    depth: usize,
}

/// A binary:logistic gradient-boosted forest of numerical splits.
#[pyclass(frozen, module = "addlink_native.model")]
pub struct Forest {
    nodes: Vec<Node>,
    trees: Vec<Tree>,
    base_margin: f32,
    features: usize,
}

/// XGBoost's `common::Sigmoid`: the clamp keeps `expf` finite.
#[inline]
fn sigmoid(x: f32) -> f32 {
    let x = (-x).min(88.7);
    1.0 / (x.exp() + 1.0 + 1e-16)
}

impl Forest {
    fn scores(&self, matrix: &[f32]) -> Vec<f32> {
        // Tree by tree over all rows, as XGBoost's blocks of rows, and level by level over the rows:
        // the rows' walks are independent, so they overlap instead of each waiting on its own
        // branch. Each row still adds its leaves in tree order.
        let rows = matrix.len() / self.features;
        let mut margins = vec![self.base_margin; rows];
        let mut at = vec![0u32; rows];
        for tree in &self.trees {
            at.fill(tree.root);
            for _ in 0..tree.depth {
                for (r, node) in at.iter_mut().enumerate() {
                    let n = self.nodes[*node as usize];
                    let value = matrix[r * self.features + n.feature as usize];
                    let left = if value.is_nan() { n.default_left } else { value < n.value };
                    *node = if left { n.left } else { n.right };
                }
            }
            for (margin, &node) in margins.iter_mut().zip(&at) {
                *margin += self.nodes[node as usize].value;
            }
        }
        margins.into_iter().map(sigmoid).collect()
    }
}

fn depth(left: &[i32], right: &[i32], node: usize) -> usize {
    // Trees are at most `max_depth` deep (tens of levels), so the recursion is shallow.
    if left[node] < 0 {
        0
    } else {
        1 + depth(left, right, left[node] as usize).max(depth(left, right, right[node] as usize))
    }
}

#[pymethods]
impl Forest {
    /// Trees as XGBoost's JSON model lists them, concatenated: `sizes[t]` nodes for tree t, whose
    /// `left`/`right` children are tree-local node numbers (-1 for a leaf), `feature` the split
    /// column, `value` the split threshold (the leaf value for a leaf), `default_left` where a missing
    /// (NaN) value goes. `base_score` is the model's intercept as a probability; `features` the
    /// number of input columns.
    #[new]
    #[pyo3(signature = (*, sizes, left, right, feature, value, default_left, base_score, features))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        sizes: Vec<usize>,
        left: Vec<i32>,
        right: Vec<i32>,
        feature: Vec<u32>,
        value: Vec<f32>,
        default_left: Vec<bool>,
        base_score: f32,
        features: usize,
    ) -> PyResult<Self> {
        let total = left.len();
        if [right.len(), feature.len(), value.len(), default_left.len()].iter().any(|&n| n != total)
            || sizes.iter().sum::<usize>() != total
        {
            return Err(PyValueError::new_err("tree arrays of inconsistent lengths"));
        }
        if !(base_score > 0.0 && base_score < 1.0) {
            return Err(PyValueError::new_err(format!("base_score {base_score} is not a probability")));
        }
        let mut trees = Vec::with_capacity(sizes.len());
        let mut nodes = Vec::with_capacity(total);
        let mut start = 0;
        for &size in &sizes {
            let (l, r) = (&left[start..start + size], &right[start..start + size]);
            // Children come after their parent: the walk always ends, and `depth` terminates.
            let child = |i: usize, c: i32| c > i as i32 && (c as usize) < size;
            for i in 0..size {
                let own = (start + i) as u32;
                let node = if l[i] < 0 {
                    Node { left: own, right: own, feature: 0, value: value[start + i], default_left: true }
                } else if child(i, l[i]) && child(i, r[i]) && (feature[start + i] as usize) < features {
                    Node { left: (start as i32 + l[i]) as u32, right: (start as i32 + r[i]) as u32,
                           feature: feature[start + i], value: value[start + i], default_left: default_left[start + i] }
                } else {
                    return Err(PyValueError::new_err(format!("tree node {i} is malformed")));
                };
                nodes.push(node);
            }
            if size == 0 {
                return Err(PyValueError::new_err("a tree has no node"));
            }
            trees.push(Tree { root: start as u32, depth: depth(l, r, 0) });
            start += size;
        }
        // XGBoost's LogisticRaw::ProbToMargin, in float32.
        let base_margin = -(1.0f32 / base_score - 1.0).ln();
        Ok(Forest { nodes, trees, base_margin, features })
    }

    /// Probabilities (float32 bytes, one per row) of a C-contiguous float32 matrix with `features`
    /// columns; NaN is a missing value.
    fn predict<'py>(&self, py: Python<'py>, matrix: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let buffer = PyBuffer::<f32>::get(matrix)?;
        if !buffer.is_c_contiguous() || buffer.item_count() % self.features != 0 {
            return Err(PyValueError::new_err(format!("need a C-contiguous float32 matrix of {} columns", self.features)));
        }
        // The buffer stays exported while `buffer` lives, and the caller's matrix is not written meanwhile.
        let matrix = unsafe { std::slice::from_raw_parts(buffer.buf_ptr() as *const f32, buffer.item_count()) };
        let scores = self.scores(matrix);
        let raw = unsafe { std::slice::from_raw_parts(scores.as_ptr() as *const u8, std::mem::size_of_val(&scores[..])) };
        Ok(PyBytes::new(py, raw))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Forest>()
}
