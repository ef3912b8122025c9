//! Hugging Face tokenizers (`tokenizer.json`, e.g. BERT's uncased WordPiece) through the
//! `tokenizers` crate, the Rust code `transformers`' fast tokenizers run, so token ids are
//! exactly theirs. Batches come out padded to their longest text with attention masks.
//!
//! ```no_run
//! // Needs a tokenizer.json: `cargo xtask data minilm` puts all-MiniLM-L6-v2's in data/.
//! use wgrad_data::tokenizer::Tokenizer;
//! let tok = Tokenizer::from_file("data/minilm/tokenizer.json")?.with_max_length(128);
//! let batch = tok.encode_batch(&["A fine film.", "Dull."])?;
//! let (ids, mask, token_types) = batch.tensors(&wgrad::Device::cpu()); // [2, longest]
//! assert_eq!(ids.dims()[0], 2);
//! # let _ = (mask, token_types);
//! # Ok::<(), wgrad_data::Error>(())
//! ```

use crate::{Error, Result};
use std::path::{Path, PathBuf};
use wgrad::{Device, Tensor};

/// A `tokenizer.json` tokenizer that adds the model's special tokens (`[CLS] ... [SEP]`
/// for BERT), truncates to `max_length` tokens and pads batches to their longest text.
///
/// ```no_run
/// use wgrad_data::tokenizer::Tokenizer;
///
/// let tok = Tokenizer::from_file("data/minilm/tokenizer.json")?.with_max_length(256);
/// let batch = tok.encode_batch(&["Hello, world!", "A longer second sentence."])?;
/// assert_eq!(batch.input_ids[0][0], 101); // [CLS]
/// let (ids, mask, types) = batch.tensors(&wgrad::Device::cpu());
/// # Ok::<(), wgrad_data::Error>(())
/// ```
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
    max_length: usize,
    pad_id: u32,
}

/// The encodings of a batch of texts, each padded to the longest (`len` tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBatch {
    /// Token ids per text, padded with the pad id.
    pub input_ids: Vec<Vec<u32>>,
    /// 1 at real tokens, 0 at padding.
    pub attention_mask: Vec<Vec<u32>>,
    /// The segment of each token (0 for single texts).
    pub token_type_ids: Vec<Vec<u32>>,
    /// Tokens per row.
    pub len: usize,
}

impl TokenBatch {
    /// The number of texts.
    pub fn rows(&self) -> usize {
        self.input_ids.len()
    }

    /// The real (unpadded) tokens of row `i`.
    pub fn tokens(&self, i: usize) -> &[u32] {
        let real = self.attention_mask[i].iter().filter(|&&m| m != 0).count();
        &self.input_ids[i][..real]
    }

    /// `input_ids`, `attention_mask` and `token_type_ids` as u32 tensors `[rows, len]`
    /// on `device`, what `nn::BertModel::forward_with` takes.
    pub fn tensors(&self, device: &Device) -> (Tensor, Tensor, Tensor) {
        let shape = [self.rows(), self.len];
        let flat = |rows: &[Vec<u32>]| Tensor::from_vec(rows.concat(), shape, device);
        (flat(&self.input_ids), flat(&self.attention_mask), flat(&self.token_type_ids))
    }
}

impl Tokenizer {
    /// Loads a `tokenizer.json`. The padding and truncation it stores are replaced: texts
    /// are cut to 512 tokens (change with [`Tokenizer::with_max_length`]) and a batch is
    /// padded to its longest text with the file's pad token (`[PAD]` for BERT; id 0 if it
    /// names none).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Tokenizer> {
        let path = path.as_ref();
        if !path.is_file() {
            return Err(Error::Missing {
                dir: path.parent().unwrap_or(Path::new(".")).into(),
                what: display_name(path),
            });
        }
        let mut inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| Error::format(path, format!("not a tokenizer.json: {e}")))?;
        let pad_id = inner.get_padding().map(|p| p.pad_id).or_else(|| inner.token_to_id("[PAD]")).unwrap_or(0);
        inner.with_padding(None);
        let mut tok = Tokenizer { inner, path: path.into(), max_length: 0, pad_id };
        tok.set_max_length(512)?;
        Ok(tok)
    }

    /// The same tokenizer cutting texts to `max_length` tokens, special tokens included
    /// (sentence-transformers' `max_seq_length`; at most the model's positions).
    pub fn with_max_length(mut self, max_length: usize) -> Tokenizer {
        self.set_max_length(max_length).expect("Tokenizer::with_max_length: a length the special tokens fit in");
        self
    }

    fn set_max_length(&mut self, max_length: usize) -> Result<()> {
        let truncation = tokenizers::TruncationParams { max_length, ..Default::default() };
        if let Err(e) = self.inner.with_truncation(Some(truncation)) {
            return Err(self.error(e));
        }
        self.max_length = max_length;
        Ok(())
    }

    /// The longest encoding, in tokens.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The id used for padding.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The number of tokens in the vocabulary, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The token of `id`, if the vocabulary has it.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The ids of one text, with the special tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self.inner.encode(text, true).map_err(|e| self.error(e))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The encodings of `texts`, each with the special tokens, padded to the longest.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<TokenBatch> {
        let encodings = texts.iter().map(|t| self.inner.encode(*t, true)).collect::<std::result::Result<Vec<_>, _>>();
        let encodings = encodings.map_err(|e| self.error(e))?;
        let len = encodings.iter().map(|e| e.get_ids().len()).max().unwrap_or(0);
        let padded = |row: &[u32], fill: u32| {
            let mut row = row.to_vec();
            row.resize(len, fill);
            row
        };
        Ok(TokenBatch {
            input_ids: encodings.iter().map(|e| padded(e.get_ids(), self.pad_id)).collect(),
            attention_mask: encodings.iter().map(|e| padded(e.get_attention_mask(), 0)).collect(),
            token_type_ids: encodings.iter().map(|e| padded(e.get_type_ids(), 0)).collect(),
            len,
        })
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::format(&self.path, format!("tokenizer: {e}"))
    }
}

fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}
