//! Candidate feature rows of a page (scoring/features.py names the columns): for every mention the
//! top candidates of its anchor, read from the bundle's memory-mapped arrays, in one call per page
//! and without a Python object per row. Mentions one of whose candidates is already linked on the
//! page are dropped in the same pass (mwaddlink §2.5 rule 3). Relatedness is left to the caller
//! (one numpy product per page), so the matrix is exactly what the numpy path computes.
use pyo3::buffer::Element;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

mod words;

use crate::column::Column;

/// Column order of `features.FEATURES`; `RELATEDNESS` is written as 0 here.
const COLUMNS: usize = 15;
const RELATEDNESS: usize = 4;
/// `anchors.TITLE_SOURCE` and `anchors.REDIRECT_SOURCE`, the bits of `candidate_source`.
const TITLE_SOURCE: i8 = 1;
const REDIRECT_SOURCE: i8 = 2;

fn input<T: Element + Copy>(name: &str, array: &Bound<'_, PyAny>) -> PyResult<Column<T>> {
    Column::new(name, array)
}

/// The anchor and target arrays of one bundle, held without copying.
#[pyclass(frozen, module = "addlink_native.features")]
pub struct FeatureTables {
    offsets: Column<i64>,
    target: Column<i32>,
    count: Column<i32>,
    jaro: Column<f32>,
    ngram: Column<f32>,
    kurtosis: Column<f32>,
    total: Column<i32>,
    link_prob: Column<f32>,
    source: Column<i8>,
    articles: Column<i32>,
    known: Column<i8>,
}

/// What `FeatureTables::rows` computes, before it becomes Python bytes.
struct Rows {
    kept: Vec<i32>,
    mention: Vec<i32>,
    target: Vec<i32>,
    features: Vec<f32>,
}

impl FeatureTables {
    fn compute(&self, anchors: &[i64], position: &[f32], capitalised: &[f32], linked: &[i32], limit: usize) -> PyResult<Rows> {
        let (offsets, target, count) = (self.offsets.slice(), self.target.slice(), self.count.slice());
        let (jaro, ngram, kurtosis) = (self.jaro.slice(), self.ngram.slice(), self.kurtosis.slice());
        let (total, link_prob, source) = (self.total.slice(), self.link_prob.slice(), self.source.slice());
        let (articles, known) = (self.articles.slice(), self.known.slice());
        let mut rows = Rows { kept: Vec::new(), mention: Vec::new(), target: Vec::new(), features: Vec::new() };
        for (i, &anchor) in anchors.iter().enumerate() {
            let a = usize::try_from(anchor)
                .ok()
                .filter(|&a| a + 1 < offsets.len())
                .ok_or_else(|| PyValueError::new_err(format!("anchor index {anchor} out of range")))?;
            let (start, end) = (offsets[a] as usize, offsets[a + 1] as usize);
            if target[start..end].iter().any(|t| linked.binary_search(t).is_ok()) {
                continue;
            }
            let owner = rows.kept.len() as i32;
            rows.kept.push(i as i32);
            let ambig = (offsets[a + 1] - offsets[a]) as f32;
            let anchor_total = (total[a] as f32).max(1.0);
            for (rank, row) in (start..end.min(start + limit)).enumerate() {
                let t = target[row];
                let freq = count[row] as f32;
                let t_index = usize::try_from(t)
                    .ok()
                    .filter(|&t| t < articles.len())
                    .ok_or_else(|| PyValueError::new_err(format!("target id {t} out of range")))?;
                let mut values = [0f32; COLUMNS];
                values[0] = ngram[a];
                values[1] = freq;
                values[2] = ambig;
                values[3] = kurtosis[a];
                values[RELATEDNESS] = 0.0;
                values[5] = jaro[row];
                values[6] = freq / anchor_total;
                values[7] = link_prob[a];
                values[8] = articles[t_index] as f32;
                values[9] = known[t_index] as f32;
                values[10] = rank as f32;
                values[11] = position[i];
                values[12] = capitalised[i];
                values[13] = f32::from(u8::from(source[row] & TITLE_SOURCE != 0));
                values[14] = f32::from(u8::from(source[row] & REDIRECT_SOURCE != 0));
                rows.mention.push(owner);
                rows.target.push(t);
                rows.features.extend_from_slice(&values);
            }
        }
        Ok(rows)
    }
}

fn bytes_of<'py, T: Copy>(py: Python<'py>, values: &[T]) -> Bound<'py, PyBytes> {
    // Plain numbers in native byte order, read back with numpy.frombuffer.
    let raw = unsafe { std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values)) };
    PyBytes::new(py, raw)
}

type RowBytes<'py> = (Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>);

#[pymethods]
impl FeatureTables {
    #[new]
    #[pyo3(signature = (*, offsets, target, count, jaro, ngram, kurtosis, total, link_prob, source, articles, known))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        offsets: &Bound<'_, PyAny>,
        target: &Bound<'_, PyAny>,
        count: &Bound<'_, PyAny>,
        jaro: &Bound<'_, PyAny>,
        ngram: &Bound<'_, PyAny>,
        kurtosis: &Bound<'_, PyAny>,
        total: &Bound<'_, PyAny>,
        link_prob: &Bound<'_, PyAny>,
        source: &Bound<'_, PyAny>,
        articles: &Bound<'_, PyAny>,
        known: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let tables = FeatureTables {
            offsets: input("offsets", offsets)?,
            target: input("target", target)?,
            count: input("count", count)?,
            jaro: input("jaro", jaro)?,
            ngram: input("ngram", ngram)?,
            kurtosis: input("kurtosis", kurtosis)?,
            total: input("total", total)?,
            link_prob: input("link_prob", link_prob)?,
            source: input("source", source)?,
            articles: input("articles", articles)?,
            known: input("known", known)?,
        };
        let anchors = tables.offsets.slice().len().saturating_sub(1);
        let rows = tables.target.slice().len();
        let per_anchor = [tables.ngram.slice().len(), tables.kurtosis.slice().len(), tables.total.slice().len(),
                          tables.link_prob.slice().len()];
        let per_row = [tables.count.slice().len(), tables.jaro.slice().len(), tables.source.slice().len()];
        let last = tables.offsets.slice().last().copied().unwrap_or(0);
        if per_anchor.iter().any(|&n| n != anchors) || per_row.iter().any(|&n| n != rows) || last as usize != rows
            || tables.known.slice().len() != tables.articles.slice().len()
        {
            return Err(PyValueError::new_err("anchor or target arrays of inconsistent lengths"));
        }
        Ok(tables)
    }

    /// For mentions with anchor indices `anchors` (int64), relative positions `position` and
    /// capitalisation `capitalised` (float32, one per mention) and the page's linked target ids
    /// `linked` (int32, sorted): the mentions kept (int32 indices into `anchors`: none of their
    /// candidates is linked), and for the top `limit` candidates of each kept mention, the kept
    /// mention's number (int32), the target id (int32) and the feature row (float32, 15 columns,
    /// relatedness 0), each as bytes.
    #[pyo3(signature = (anchors, position, capitalised, linked, *, limit))]
    fn rows<'py>(
        &self,
        py: Python<'py>,
        anchors: &Bound<'py, PyAny>,
        position: &Bound<'py, PyAny>,
        capitalised: &Bound<'py, PyAny>,
        linked: &Bound<'py, PyAny>,
        limit: usize,
    ) -> PyResult<RowBytes<'py>> {
        let anchors = input::<i64>("anchors", anchors)?;
        let position = input::<f32>("position", position)?;
        let capitalised = input::<f32>("capitalised", capitalised)?;
        let linked = input::<i32>("linked", linked)?;
        let n = anchors.slice().len();
        if position.slice().len() != n || capitalised.slice().len() != n {
            return Err(PyValueError::new_err("anchors, position and capitalised differ in length"));
        }
        if linked.slice().windows(2).any(|w| w[0] > w[1]) {
            return Err(PyValueError::new_err("linked must be sorted"));
        }
        let rows = self.compute(anchors.slice(), position.slice(), capitalised.slice(), linked.slice(), limit)?;
        Ok((bytes_of(py, &rows.kept), bytes_of(py, &rows.mention), bytes_of(py, &rows.target),
            bytes_of(py, &rows.features)))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FeatureTables>()?;
    m.add_class::<words::WordClasses>()
}
