//! The sktime/aeon `.ts` time-series format: `#` comment lines, `@keyword value` header
//! lines up to `@data`, then one series per line, its dimensions separated by `:` and each
//! dimension's values by `,`, the class label last when `@classLabel true`. Multivariate
//! series of unequal lengths (JapaneseVowels) are supported; timestamps and missing values
//! (`?`) are not and are reported as errors.
//!
//! ```
//! use wgrad_data::ts::parse_ts;
//! let text = "@problemName demo\n@classLabel true a b\n@data\n1,2,3:4,5,6:a\n7,8:9,10:b\n";
//! let data = parse_ts(text, std::path::Path::new("demo.ts"))?;
//! assert_eq!((data.len(), data.dims, data.frames(1)), (2, 2, 2));
//! assert_eq!(data.series[0], [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]); // frame by frame
//! assert_eq!(data.labels, [0, 1]);
//! # Ok::<(), wgrad_data::Error>(())
//! ```

use crate::{Error, Result};
use std::path::Path;

/// Labelled multivariate series, each stored frame by frame.
#[derive(Debug, Clone, PartialEq)]
pub struct TsData {
    /// Per series, `len * dims` values: frame 0's dimensions, then frame 1's, ...
    pub series: Vec<Vec<f32>>,
    /// Per series, its index into `classes`.
    pub labels: Vec<u32>,
    /// The class names from `@classLabel true ...`, in the order given.
    pub classes: Vec<String>,
    /// The number of dimensions (values per frame).
    pub dims: usize,
}

impl TsData {
    /// The number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The number of frames of series `i`.
    pub fn frames(&self, i: usize) -> usize {
        self.series[i].len() / self.dims
    }

    /// The series at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> TsData {
        TsData {
            series: indices.iter().map(|&i| self.series[i].clone()).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes.clone(),
            dims: self.dims,
        }
    }

    /// Per-dimension mean and standard deviation over every frame (for normalising with
    /// the training set's statistics).
    pub fn moments(&self) -> (Vec<f32>, Vec<f32>) {
        let (mut sum, mut sq, mut n) = (vec![0f64; self.dims], vec![0f64; self.dims], 0usize);
        for s in &self.series {
            for frame in s.chunks(self.dims) {
                for (d, &v) in frame.iter().enumerate() {
                    sum[d] += v as f64;
                    sq[d] += (v as f64) * (v as f64);
                }
                n += 1;
            }
        }
        let n = n.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let std = sq.iter().zip(&mean).map(|(q, m)| ((q / n - m * m).max(0.0).sqrt().max(1e-6)) as f32).collect();
        (mean.into_iter().map(|m| m as f32).collect(), std)
    }

    /// Subtracts `mean` and divides by `std`, per dimension.
    pub fn normalize(&mut self, mean: &[f32], std: &[f32]) {
        for s in &mut self.series {
            for frame in s.chunks_mut(self.dims) {
                for (d, v) in frame.iter_mut().enumerate() {
                    *v = (*v - mean[d]) / std[d];
                }
            }
        }
    }

    /// Series `indices` padded with zeros to the longest: `[batch, frames, dims]` values,
    /// the frame count, and each series' real length.
    pub fn padded_batch(&self, indices: &[usize]) -> (Vec<f32>, usize, Vec<usize>) {
        let frames = indices.iter().map(|&i| self.frames(i)).max().unwrap_or(0);
        let mut out = vec![0f32; indices.len() * frames * self.dims];
        for (b, &i) in indices.iter().enumerate() {
            let s = &self.series[i];
            out[b * frames * self.dims..b * frames * self.dims + s.len()].copy_from_slice(s);
        }
        (out, frames, indices.iter().map(|&i| self.frames(i)).collect())
    }
}

/// Reads and parses the `.ts` file at `path`.
pub fn load_ts(path: &Path) -> Result<TsData> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| Error::format(path, format!("not UTF-8 text: {e}")))?;
    parse_ts(text, path)
}

/// Parses `.ts` text; errors name `path` and the line.
pub fn parse_ts(text: &str, path: &Path) -> Result<TsData> {
    let (mut classes, mut has_labels, mut dims, mut in_data) = (Vec::new(), false, None::<usize>, false);
    let mut out = TsData { series: Vec::new(), labels: Vec::new(), classes: Vec::new(), dims: 0 };
    for (k, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let bad = |msg: String| Error::format(path, format!("line {}: {msg}", k + 1));
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !in_data {
            let Some(header) = line.strip_prefix('@') else {
                return Err(bad("data before the @data line".into()));
            };
            let mut parts = header.split_whitespace();
            let key = parts.next().unwrap_or("").to_ascii_lowercase();
            let values: Vec<&str> = parts.collect();
            let flag = |v: &[&str]| v.first().is_some_and(|f| f.eq_ignore_ascii_case("true"));
            match key.as_str() {
                "data" => in_data = true,
                "timestamps" if flag(&values) => return Err(bad("timestamped series are not supported".into())),
                "missing" if flag(&values) => return Err(bad("series with missing values are not supported".into())),
                "dimensions" => {
                    let d = values.first().and_then(|v| v.parse().ok()).filter(|&d: &usize| d > 0);
                    dims = Some(d.ok_or_else(|| bad(format!("@dimensions needs a positive count, got {values:?}")))?);
                }
                "classlabel" => {
                    has_labels = flag(&values);
                    classes = values.iter().skip(1).map(|s| s.to_string()).collect();
                    if has_labels && classes.is_empty() {
                        return Err(bad("@classLabel true lists no classes".into()));
                    }
                }
                _ => {}
            }
            continue;
        }
        let mut parts: Vec<&str> = line.split(':').collect();
        let label = if has_labels {
            let name = parts.pop().unwrap_or("").trim();
            let id = classes.iter().position(|c| c == name);
            Some(id.ok_or_else(|| bad(format!("class `{name}` is not among {classes:?}")))? as u32)
        } else {
            None
        };
        if parts.is_empty() {
            return Err(bad("no values, only a class label".to_string()));
        }
        let d = *dims.get_or_insert(parts.len());
        if parts.len() != d {
            return Err(bad(format!("{} dimensions, expected {d} (truncated line?)", parts.len())));
        }
        let mut columns = Vec::with_capacity(d);
        for (j, part) in parts.iter().enumerate() {
            let values: Vec<f32> = part
                .split(',')
                .map(|v| v.trim().parse::<f32>().ok().filter(|x| x.is_finite()))
                .collect::<Option<_>>()
                .ok_or_else(|| bad(format!("dimension {j}: a value is not a finite number: `{part}`")))?;
            columns.push(values);
        }
        let frames = columns[0].len();
        if let Some(j) = columns.iter().position(|c| c.len() != frames) {
            return Err(bad(format!("dimension {j} has {} values, dimension 0 has {frames}", columns[j].len())));
        }
        out.series.push((0..frames).flat_map(|t| columns.iter().map(move |c| c[t])).collect());
        out.labels.extend(label);
    }
    if !in_data {
        return Err(Error::format(path, "no @data line (truncated or not a .ts file)"));
    }
    if out.series.is_empty() {
        return Err(Error::format(path, "no series after @data"));
    }
    out.dims = dims.unwrap_or(0);
    out.classes = classes;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "# comment\n@problemName Toy\n@dimensions 2\n@equalLength false\n@classLabel true a b\n@data\n";

    #[test]
    fn parses_unequal_multivariate_series() {
        let text = format!("{HEADER}1,2,3:4,5,6:b\n7,8:9,10:a\n");
        let ts = parse_ts(&text, Path::new("toy.ts")).unwrap();
        assert_eq!(ts.dims, 2);
        assert_eq!(ts.series, [vec![1., 4., 2., 5., 3., 6.], vec![7., 9., 8., 10.]]);
        assert_eq!(ts.labels, [1, 0]);
        assert_eq!((ts.frames(0), ts.frames(1)), (3, 2));
        let (x, frames, lens) = ts.padded_batch(&[1, 0]);
        assert_eq!((frames, lens), (3, vec![2, 3]));
        assert_eq!(x, [7., 9., 8., 10., 0., 0., 1., 4., 2., 5., 3., 6.]);
    }

    #[test]
    fn moments_normalise_each_dimension() {
        let text = format!("{HEADER}1,3:10,30:a\n");
        let mut ts = parse_ts(&text, Path::new("toy.ts")).unwrap();
        let (mean, std) = ts.moments();
        assert_eq!((mean, std.clone()), (vec![2.0, 20.0], vec![1.0, 10.0]));
        ts.normalize(&[2.0, 20.0], &std);
        assert_eq!(ts.series[0], [-1., -1., 1., 1.]);
    }

    #[test]
    fn malformed_files_are_errors_naming_file_and_line() {
        let path = Path::new("bad_TRAIN.ts");
        for (text, what) in [
            (format!("{HEADER}1,2:3:a\n"), "line 7: dimension 1 has 1 values"),
            (format!("{HEADER}1,2:3,4:c\n"), "line 7: class `c`"),
            (format!("{HEADER}1,2:3,x:a\n"), "line 7: dimension 1: a value"),
            (format!("{HEADER}1,2:a\n"), "line 7: 1 dimensions, expected 2"),
            (format!("{HEADER}1,?:3,4:a\n"), "not a finite number"),
            ("@dimensions 2\n@classLabel true a\n".to_string(), "no @data line"),
            (HEADER.to_string(), "no series"),
            ("1,2:a\n".to_string(), "data before the @data line"),
            ("@timeStamps true\n@data\n".to_string(), "timestamped"),
        ] {
            let msg = parse_ts(&text, path).unwrap_err().to_string();
            assert!(msg.contains("bad_TRAIN.ts") && msg.contains(what), "{what}: {msg}");
        }
        // A file cut mid-line: the last series has fewer values in its last dimension.
        let full = format!("{HEADER}1,2,3:4,5,6:a\n1,2,3:4,5,6:b\n");
        let cut = &full[..full.len() - 5];
        let msg = parse_ts(cut, path).unwrap_err().to_string();
        assert!(msg.contains("bad_TRAIN.ts") && msg.contains("line 8"), "{msg}");
    }
}
