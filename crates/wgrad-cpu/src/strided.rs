//! Walking strided views a row at a time: the dims of one or more same-shaped layouts
//! are collapsed together, the innermost becomes the row, and each row starts at one
//! storage offset per layout. Kernels then run a plain loop per row (vectorisable when
//! the row strides are 1 or 0) instead of computing every element's index.

use wgrad_core::Layout;

/// The rows of some same-shaped layouts; the layouts must have at least one element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rows {
    /// Elements per row.
    pub len: usize,
    /// Each layout's stride along a row.
    pub strides: Vec<usize>,
    /// Row `r` of layout `l` starts at `starts[r * layouts + l]`.
    pub starts: Vec<usize>,
}

/// Splits same-shaped, non-empty `layouts` into rows, in row-major order.
pub fn rows(layouts: &[&Layout]) -> Rows {
    assert!(layouts[0].numel() > 0, "rows: empty layout");
    let collapsed = Layout::collapse_together(layouts);
    let rank = collapsed[0].rank();
    if rank == 0 {
        let starts = collapsed.iter().map(Layout::offset).collect();
        return Rows { len: 1, strides: vec![0; layouts.len()], starts };
    }
    let outer = &collapsed[0].dims()[..rank - 1];
    let mut walks: Vec<_> = collapsed
        .iter()
        .map(|l| Layout::new(outer.to_vec(), l.strides()[..rank - 1].to_vec(), l.offset()).indices())
        .collect();
    let rows: usize = outer.iter().product();
    let mut starts = Vec::with_capacity(rows * layouts.len());
    for _ in 0..rows {
        starts.extend(walks.iter_mut().map(|w| w.next().expect("rows: one start per row")));
    }
    Rows {
        len: collapsed[0].dims()[rank - 1],
        strides: collapsed.iter().map(|l| l.strides()[rank - 1]).collect(),
        starts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_bias_and_transpose() {
        // [2, 3] + bias [3] broadcast: rows of 3, the bias restarting at 0.
        let x = Layout::contiguous([2, 3]);
        let bias = Layout::contiguous([3]).broadcast_to(&[2, 3]);
        assert_eq!(rows(&[&x, &bias]), Rows { len: 3, strides: vec![1, 1], starts: vec![0, 0, 3, 0] });
        // A transpose walks its rows with stride 2.
        let t = Layout::contiguous([3, 2]).transpose(0, 1);
        assert_eq!(rows(&[&t]), Rows { len: 3, strides: vec![2], starts: vec![0, 1] });
        // A scalar is one row of one element, at its offset.
        let s = Layout::new(Vec::<usize>::new(), vec![], 5);
        assert_eq!(rows(&[&s]), Rows { len: 1, strides: vec![0], starts: vec![5] });
    }
}
