//! A strided view of a flat buffer: shape, strides (in elements) and offset.
//! Every view op (transpose, narrow, expand, ...) only changes the layout.

use crate::Shape;

/// Where the elements of a tensor live in its storage: element `[i0, i1, ...]` is at
/// `offset + i0 * strides[0] + i1 * strides[1] + ...`. Broadcast dims have stride 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Layout {
    shape: Shape,
    strides: Vec<usize>,
    offset: usize,
}

impl Layout {
    /// A row-major layout starting at element 0.
    pub fn contiguous(shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        let strides = shape.contiguous_strides();
        Layout { shape, strides, offset: 0 }
    }

    /// A layout from its parts; the caller guarantees it stays within its storage.
    pub fn new(shape: impl Into<Shape>, strides: Vec<usize>, offset: usize) -> Self {
        let shape = shape.into();
        assert_eq!(shape.rank(), strides.len(), "layout: rank of shape and strides differ");
        Layout { shape, strides, offset }
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }
    /// The dims.
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }
    /// The strides, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }
    /// Offset of the first element, in elements.
    pub fn offset(&self) -> usize {
        self.offset
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.numel()
    }
    /// Number of dims.
    pub fn rank(&self) -> usize {
        self.shape.rank()
    }

    /// True if the elements are in row-major order with no gaps (offset may be non-zero).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&d, &s) in self.dims().iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d;
        }
        true
    }

    /// One past the largest element index this layout touches (0 when empty).
    pub fn storage_extent(&self) -> usize {
        if self.numel() == 0 {
            return 0;
        }
        self.offset + self.dims().iter().zip(&self.strides).map(|(&d, &s)| (d - 1) * s).sum::<usize>() + 1
    }

    /// Swaps two dims.
    pub fn transpose(&self, d0: usize, d1: usize) -> Layout {
        let mut dims = self.dims().to_vec();
        let mut strides = self.strides.clone();
        dims.swap(d0, d1);
        strides.swap(d0, d1);
        Layout::new(dims, strides, self.offset)
    }

    /// Reorders dims: output dim `i` is input dim `perm[i]`. Panics if `perm` is not a permutation.
    pub fn permute(&self, perm: &[usize]) -> Layout {
        let rank = self.rank();
        let mut seen = vec![false; rank];
        assert!(
            perm.len() == rank && perm.iter().all(|&p| p < rank && !std::mem::replace(&mut seen[p], true)),
            "permute: {perm:?} is not a permutation of the {rank} dims of {}",
            self.shape
        );
        let dims: Vec<usize> = perm.iter().map(|&p| self.dims()[p]).collect();
        let strides = perm.iter().map(|&p| self.strides[p]).collect();
        Layout::new(dims, strides, self.offset)
    }

    /// Keeps `len` elements of `dim` starting at `start`.
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Layout {
        let size = self.dims()[dim];
        assert!(
            start + len <= size,
            "narrow: start {start} + length {len} exceeds size {size} of dim {dim} (shape {})",
            self.shape
        );
        let mut dims = self.dims().to_vec();
        dims[dim] = len;
        let offset = if len == 0 { self.offset } else { self.offset + start * self.strides[dim] };
        Layout::new(dims, self.strides.clone(), offset)
    }

    /// Inserts a dim of size 1 at `dim`.
    pub fn unsqueeze(&self, dim: usize) -> Layout {
        let mut dims = self.dims().to_vec();
        let mut strides = self.strides.clone();
        let stride = if dim < strides.len() { strides[dim] * dims[dim] } else { 1 };
        dims.insert(dim, 1);
        strides.insert(dim, stride);
        Layout::new(dims, strides, self.offset)
    }

    /// Removes `dim`, which must have size 1.
    pub fn squeeze(&self, dim: usize) -> Layout {
        assert_eq!(self.dims()[dim], 1, "squeeze: dim {dim} of shape {} is not 1", self.shape);
        let mut dims = self.dims().to_vec();
        let mut strides = self.strides.clone();
        dims.remove(dim);
        strides.remove(dim);
        Layout::new(dims, strides, self.offset)
    }

    /// Broadcasts to `shape` (PyTorch's expand): new leading dims and size-1 dims get stride 0.
    pub fn broadcast_to(&self, shape: &[usize]) -> Layout {
        let rank = shape.len();
        assert!(rank >= self.rank(), "expand: cannot expand shape {} to fewer dims {shape:?}", self.shape);
        let lead = rank - self.rank();
        let mut strides = vec![0; rank];
        for i in 0..self.rank() {
            let (d, target) = (self.dims()[i], shape[lead + i]);
            strides[lead + i] = if d == target {
                self.strides[i]
            } else if d == 1 {
                0
            } else {
                panic!("expand: shape {} cannot be expanded to {shape:?}", self.shape)
            };
        }
        Layout::new(shape.to_vec(), strides, self.offset)
    }

    /// The same elements under a new shape without copying, if the strides allow it
    /// (always for contiguous layouts). Returns None when a copy is needed.
    pub fn reshape(&self, shape: &[usize]) -> Option<Layout> {
        assert_eq!(
            self.numel(),
            shape.iter().product::<usize>(),
            "reshape: shape {} cannot be reshaped to {shape:?} (element counts differ)",
            self.shape
        );
        if self.is_contiguous() {
            let mut l = Layout::contiguous(shape.to_vec());
            l.offset = self.offset;
            return Some(l);
        }
        // No elements: any shape of as many (none) is a view. (Without this, an empty
        // layout whose strides are not row-major would be copied into a layout that is
        // not row-major either, and reshape would recurse forever.)
        if self.numel() == 0 {
            return Some(Layout::contiguous(shape.to_vec()));
        }
        None
    }

    /// Merges adjacent dims that are laid out as one (and drops size-1 dims), giving an
    /// equivalent layout of lowest rank. Kernels index faster with fewer dims.
    pub fn collapsed(&self) -> Layout {
        if self.numel() == 0 {
            return Layout::new(vec![0], vec![1], self.offset);
        }
        Layout::collapse_together(&[self]).pop().expect("one layout in, one out")
    }

    /// The ids of `index_select(x, dim, ids)` seen as a `gather` index: `ids` (1-D) spread
    /// over x's other dims with stride 0, so the result has x's shape with `dim` = `ids.len()`.
    pub fn index_select_ids(x_dims: &[usize], dim: usize, ids: &Layout) -> Layout {
        assert_eq!(ids.rank(), 1, "index_select: ids must be 1-D, got shape {}", ids.shape());
        let mut dims = x_dims.to_vec();
        dims[dim] = ids.dims()[0];
        let mut strides = vec![0; dims.len()];
        strides[dim] = ids.strides()[0];
        Layout::new(dims, strides, ids.offset())
    }

    /// Collapses dims jointly across layouts of one shape: adjacent dims merge only
    /// where they merge in every layout. Elementwise kernels index fewer dims this way.
    pub fn collapse_together(layouts: &[&Layout]) -> Vec<Layout> {
        let dims = layouts[0].dims();
        assert!(layouts.iter().all(|l| l.dims() == dims), "collapse_together: shapes differ");
        let mut out_dims: Vec<usize> = Vec::new();
        let mut out_strides: Vec<Vec<usize>> = vec![Vec::new(); layouts.len()];
        for (i, &d) in dims.iter().enumerate() {
            if d == 1 {
                continue;
            }
            let mergeable = !out_dims.is_empty()
                && layouts.iter().zip(&out_strides).all(|(l, s)| *s.last().unwrap() == l.strides()[i] * d);
            if mergeable {
                *out_dims.last_mut().unwrap() *= d;
                for (l, s) in layouts.iter().zip(out_strides.iter_mut()) {
                    *s.last_mut().unwrap() = l.strides()[i];
                }
            } else {
                out_dims.push(d);
                for (l, s) in layouts.iter().zip(out_strides.iter_mut()) {
                    s.push(l.strides()[i]);
                }
            }
        }
        layouts.iter().zip(out_strides).map(|(l, s)| Layout::new(out_dims.clone(), s, l.offset())).collect()
    }

    /// Storage index of each element, in row-major order of the logical shape.
    pub fn indices(&self) -> StridedIndex {
        StridedIndex::new(self)
    }
}

/// Iterator over the storage indices of a layout in logical row-major order.
pub struct StridedIndex {
    next: Option<usize>,
    pos: Vec<usize>,
    dims: Vec<usize>,
    strides: Vec<usize>,
}

impl StridedIndex {
    fn new(l: &Layout) -> Self {
        let c = l.collapsed();
        let next = if l.numel() == 0 { None } else { Some(c.offset()) };
        StridedIndex { next, pos: vec![0; c.rank()], dims: c.dims().to_vec(), strides: c.strides().to_vec() }
    }
}

impl Iterator for StridedIndex {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        let cur = self.next?;
        let mut idx = cur;
        let mut d = self.dims.len();
        loop {
            if d == 0 {
                self.next = None;
                break;
            }
            d -= 1;
            self.pos[d] += 1;
            idx += self.strides[d];
            if self.pos[d] < self.dims[d] {
                self.next = Some(idx);
                break;
            }
            idx -= self.strides[d] * self.dims[d];
            self.pos[d] = 0;
        }
        Some(cur)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_then_collapse() {
        let l = Layout::contiguous([2, 3, 4]);
        assert!(l.is_contiguous());
        let t = l.transpose(0, 1);
        assert!(!t.is_contiguous());
        assert_eq!(t.indices().take(5).collect::<Vec<_>>(), vec![0, 1, 2, 3, 12]);
        assert_eq!(l.collapsed().dims(), &[24]);
        // An empty layout reshapes as a view whatever its strides.
        assert!(Layout::new([3, 0], vec![1, 1], 0).reshape(&[0, 3]).is_some());
    }

    #[test]
    fn narrow_and_broadcast_indices() {
        let l = Layout::contiguous([3, 4]).narrow(1, 1, 2);
        assert_eq!(l.indices().collect::<Vec<_>>(), vec![1, 2, 5, 6, 9, 10]);
        let b = Layout::contiguous([3]).broadcast_to(&[2, 3]);
        assert_eq!(b.indices().collect::<Vec<_>>(), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(Layout::contiguous([0, 3]).indices().count(), 0);
        assert_eq!(Layout::contiguous(()).indices().collect::<Vec<_>>(), vec![0]);
    }
}
