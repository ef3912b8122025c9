//! `Display` for [`Tensor`]: the values, printed as PyTorch prints them.
//!
//! Floats all of whose values are whole print as `1.`; others with four decimals, or in
//! scientific notation (`1.0000e-05`) when their magnitudes span more than a factor of
//! 1000 or reach below 1e-4 or above 1e8. One width for every value, right-aligned.
//! Tensors of more than 1000 elements show the first and last 3 entries of every dim.
//! Printing reads the tensor back (a sync on a GPU); a failed readback prints its error.

use crate::Tensor;
use std::fmt;
use wgrad_core::DType;

/// Tensors above this many elements are summarised (PyTorch's `threshold`).
const THRESHOLD: usize = 1000;
/// Entries shown at each end of a summarised dim (PyTorch's `edgeitems`).
const EDGE_ITEMS: usize = 3;

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values: Vec<f64> = match self.to_host() {
            Ok(host) => host.to_f64_vec(&wgrad_core::Layout::contiguous([self.numel()])),
            Err(e) => return write!(f, "tensor(<unreadable: {e}>)"),
        };
        let summarise = self.numel() > THRESHOLD;
        let dims = self.dims();
        let shown = shown_values(&values, dims, summarise);
        let format = Format::choose(&shown, self.dtype());
        let width = shown.iter().map(|&v| format.write(v).len()).max().unwrap_or(0);
        let mut body = String::new();
        if dims.is_empty() {
            body = format.write(values[0]);
        } else if self.numel() == 0 {
            body.push_str("[]");
        } else {
            let layout = Nest { dims, summarise, format, width };
            layout.write(&mut body, &values, 0, 0, "tensor(".len());
        }
        write!(f, "tensor({body}")?;
        if self.numel() == 0 && dims.len() != 1 {
            let sizes: Vec<String> = dims.iter().map(usize::to_string).collect();
            write!(f, ", size=({})", sizes.join(", "))?;
        }
        if self.dtype() != DType::F32 {
            write!(f, ", dtype=torch.{}", torch_dtype(self.dtype()))?;
        }
        if self.device().is_gpu() {
            write!(f, ", device='gpu'")?;
        }
        if self.is_tracked() {
            write!(f, ", requires_grad=True")?;
        }
        write!(f, ")")
    }
}

fn torch_dtype(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "float32",
        DType::F16 => "float16",
        DType::U32 => "uint32",
        DType::I32 => "int32",
    }
}

/// The values that will be printed (every value, or the edges of a summarised tensor),
/// which decide the format and width.
fn shown_values(values: &[f64], dims: &[usize], summarise: bool) -> Vec<f64> {
    if !summarise {
        return values.to_vec();
    }
    let mut out = Vec::new();
    let mut index = vec![0usize; dims.len()];
    'all: loop {
        let flat = index.iter().zip(dims).fold(0, |acc, (&i, &d)| acc * d + i);
        out.push(values[flat]);
        // Advance the last dim first, jumping over each dim's elided middle.
        for d in (0..dims.len()).rev() {
            index[d] += 1;
            if dims[d] > 2 * EDGE_ITEMS && index[d] == EDGE_ITEMS {
                index[d] = dims[d] - EDGE_ITEMS;
            }
            if index[d] < dims[d] {
                continue 'all;
            }
            index[d] = 0;
        }
        break;
    }
    out
}

/// How one value is written.
#[derive(Clone, Copy)]
enum Format {
    Int,
    /// Floats that are all whole: `3.`.
    Whole,
    Fixed,
    Scientific,
}

impl Format {
    fn choose(values: &[f64], dtype: DType) -> Format {
        if !dtype.is_float() {
            return Format::Int;
        }
        let finite: Vec<f64> = values.iter().filter(|v| v.is_finite()).map(|v| v.abs()).collect();
        let nonzero: Vec<f64> = finite.iter().copied().filter(|&v| v != 0.0).collect();
        let max = nonzero.iter().copied().fold(0.0, f64::max);
        let min = nonzero.iter().copied().fold(f64::INFINITY, f64::min);
        if finite.iter().all(|v| v.fract() == 0.0) {
            return if max > 1e8 { Format::Scientific } else { Format::Whole };
        }
        if !nonzero.is_empty() && (max / min > 1000.0 || max > 1e8 || min < 1e-4) {
            Format::Scientific
        } else {
            Format::Fixed
        }
    }

    fn write(self, v: f64) -> String {
        if v.is_nan() {
            return "nan".into();
        }
        if v.is_infinite() {
            return if v > 0.0 { "inf".into() } else { "-inf".into() };
        }
        match self {
            Format::Int => format!("{v:.0}"),
            Format::Whole => format!("{v:.0}."),
            Format::Fixed => format!("{v:.4}"),
            Format::Scientific => {
                // Rust writes 1.0000e-5; PyTorch (C's printf) 1.0000e-05.
                let s = format!("{v:.4e}");
                let (mantissa, exp) = s.split_once('e').expect("scientific notation has an exponent");
                let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
                format!("{mantissa}e{sign}{digits:0>2}")
            }
        }
    }
}

/// Writes nested brackets, one line per innermost row.
struct Nest<'a> {
    dims: &'a [usize],
    summarise: bool,
    format: Format,
    width: usize,
}

impl Nest<'_> {
    /// Writes the block at `depth` starting at flat element `start`; `indent` is the
    /// column of this block's opening bracket.
    fn write(&self, out: &mut String, values: &[f64], depth: usize, start: usize, indent: usize) {
        let size = self.dims[depth];
        let stride: usize = self.dims[depth + 1..].iter().product();
        let elide = self.summarise && size > 2 * EDGE_ITEMS;
        let picked: Vec<Option<usize>> = if elide {
            (0..EDGE_ITEMS).map(Some).chain([None]).chain((size - EDGE_ITEMS..size).map(Some)).collect()
        } else {
            (0..size).map(Some).collect()
        };
        out.push('[');
        let last_dim = depth + 1 == self.dims.len();
        // Between rows: a newline, plus one blank line per dim below the row's.
        let row_gap = format!(",{}{}", "\n".repeat(self.dims.len() - depth - 1), " ".repeat(indent + 1));
        for (k, i) in picked.iter().enumerate() {
            if k > 0 {
                out.push_str(if last_dim { ", " } else { &row_gap });
            }
            match (i, last_dim) {
                (None, true) => out.push_str(" ..."),
                (None, false) => out.push_str("..."),
                (Some(i), true) => {
                    out.push_str(&format!("{:>w$}", self.format.write(values[start + i]), w = self.width))
                }
                (Some(i), false) => self.write(out, values, depth + 1, start + i * stride, indent + 1),
            }
        }
        out.push(']');
    }
}

#[cfg(test)]
mod tests {
    use crate::{DType, Device, Tensor};

    fn show(t: Tensor) -> String {
        t.to_string()
    }

    /// Each expected string is what PyTorch 2 prints for the same tensor.
    #[test]
    fn prints_like_pytorch() {
        let cpu = Device::cpu();
        let m = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2], &cpu);
        assert_eq!(show(m), "tensor([[1., 2.],\n        [3., 4.]])");
        assert_eq!(show(Tensor::from_vec(vec![0.5f32, -1.25], [2], &cpu)), "tensor([ 0.5000, -1.2500])");
        assert_eq!(show(Tensor::from_vec(vec![1e-5f32, 1.0], [2], &cpu)), "tensor([1.0000e-05, 1.0000e+00])");
        assert_eq!(show(Tensor::from_vec(vec![1i32, -20, 3], [3], &cpu)), "tensor([  1, -20,   3], dtype=torch.int32)");
        assert_eq!(show(Tensor::full([], 3.5, DType::F32, &cpu)), "tensor(3.5000)");
        assert_eq!(show(Tensor::zeros([0], DType::F32, &cpu)), "tensor([])");
        assert_eq!(show(Tensor::zeros([0, 3], DType::F32, &cpu)), "tensor([], size=(0, 3))");
        let cube = Tensor::arange(0.0, 8.0, DType::F32, &cpu).reshape([2, 2, 2]);
        assert_eq!(show(cube), "tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])");
        assert_eq!(
            show(Tensor::arange(0.0, 2000.0, DType::F32, &cpu)),
            "tensor([   0.,    1.,    2.,  ..., 1997., 1998., 1999.])"
        );
        let big = Tensor::arange(0.0, 1100.0, DType::F32, &cpu).reshape([100, 11]);
        assert_eq!(
            show(big),
            "tensor([[   0.,    1.,    2.,  ...,    8.,    9.,   10.],\n        \
             [  11.,   12.,   13.,  ...,   19.,   20.,   21.],\n        \
             [  22.,   23.,   24.,  ...,   30.,   31.,   32.],\n        \
             ...,\n        \
             [1067., 1068., 1069.,  ..., 1075., 1076., 1077.],\n        \
             [1078., 1079., 1080.,  ..., 1086., 1087., 1088.],\n        \
             [1089., 1090., 1091.,  ..., 1097., 1098., 1099.]])"
        );
        let w = Tensor::from_vec(vec![1.0f32], [1], &cpu).requires_grad();
        assert_eq!(show(w), "tensor([1.], requires_grad=True)");
    }
}
