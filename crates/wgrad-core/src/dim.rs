//! Dimension arguments: PyTorch accepts negative dims counting from the end.

/// A dimension index; negative values count from the end (`-1` is the last dim).
pub trait Dim: Copy {
    /// Resolves the dim for a tensor of `rank` dims; panics naming `op` if out of range.
    fn resolve(self, rank: usize, op: &str) -> usize;
}

#[track_caller]
fn resolve_signed(d: i64, rank: usize, op: &str) -> usize {
    let r = rank as i64;
    let resolved = if d < 0 { d + r } else { d };
    if resolved < 0 || resolved >= r.max(1) {
        panic!("{op}: dimension {d} is out of range for a tensor of rank {rank}");
    }
    resolved as usize
}

macro_rules! impl_dim {
    ($($t:ty),*) => {$(
        impl Dim for $t {
            #[track_caller]
            fn resolve(self, rank: usize, op: &str) -> usize {
                resolve_signed(self as i64, rank, op)
            }
        }
    )*};
}
impl_dim!(i32, i64, isize, usize, u32);
