//! Text data: the movie-review sentences with sentiment scores, the Shakespeare corpus,
//! a word-level and a char-level tokenizer, and padding of token sequences to a batch.
//!
//! ```
//! use wgrad_data::text::{pad, WordTokenizer};
//! let tok = WordTokenizer::fit(["a fine film", "a dull film"], 100);
//! let (a, b) = (tok.encode("a fine film"), tok.encode("dull"));
//! let batch = pad(&[&a, &b], None, WordTokenizer::PAD);
//! assert_eq!((batch.len, batch.lengths.clone()), (3, vec![3, 1]));
//! assert_eq!(batch.mask(), [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
//! assert_eq!(tok.encode("unseen"), [WordTokenizer::UNK]);
//! ```

use crate::{rng, Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// The movie-review file's name under `data/sentiment/`.
pub const MOVIE_REVIEWS: &str = "movieReviewSnippets_GroundTruth.txt";
/// The concatenated plays' name under `data/shakespeare/`.
pub const SHAKESPEARE_TEXT: &str = "shakespeare.txt";

/// Sentences with a sentiment score and a binary label.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sentences {
    /// The sentences.
    pub texts: Vec<String>,
    /// The mean human rating of each, in `[-4, 4]`.
    pub scores: Vec<f32>,
    /// 1 where the score is above 0 (positive), else 0.
    pub labels: Vec<u32>,
}

impl Sentences {
    /// The number of sentences.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// The sentences at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Sentences {
        Sentences {
            texts: indices.iter().map(|&i| self.texts[i].clone()).collect(),
            scores: indices.iter().map(|&i| self.scores[i]).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// Splits into `(kept, held_out)`, holding out `round(n * fraction)` sentences chosen by
    /// a permutation seeded with `seed`; both parts keep the original order.
    pub fn split(&self, fraction: f64, seed: u64) -> (Sentences, Sentences) {
        assert!((0.0..=1.0).contains(&fraction), "held-out fraction {fraction} not in [0, 1]");
        let n = self.len();
        let order = rng::permutation(n, seed);
        let held = (n as f64 * fraction).round() as usize;
        let (mut test, mut train) = (order[..held].to_vec(), order[held..].to_vec());
        test.sort_unstable();
        train.sort_unstable();
        (self.subset(&train), self.subset(&test))
    }
}

/// Reads `dir`/[`MOVIE_REVIEWS`] (10,605 sentences); see [`parse_ground_truth`].
pub fn load_movie_reviews(dir: &Path) -> Result<Sentences> {
    let path = dir.join(MOVIE_REVIEWS);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    parse_ground_truth(&String::from_utf8_lossy(&bytes), &path)
}

/// Parses Hutto & Gilbert's `*_GroundTruth.txt`: one `id <TAB> score <TAB> sentence` per
/// line, score in `[-4, 4]`, label = score > 0. Errors name `path` and the line.
pub fn parse_ground_truth(text: &str, path: &Path) -> Result<Sentences> {
    let mut out = Sentences::default();
    for (k, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let bad = |msg: &str| Error::format(path, format!("line {}: {msg}", k + 1));
        let mut fields = line.splitn(3, '\t');
        let (Some(_id), Some(score), Some(sentence)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(bad("expected `id <TAB> score <TAB> sentence`"));
        };
        let score: f32 = score.trim().parse().map_err(|_| bad(&format!("score `{score}` is not a number")))?;
        if !(-4.0..=4.0).contains(&score) {
            return Err(bad(&format!("score {score} outside [-4, 4]")));
        }
        out.texts.push(sentence.trim().to_string());
        out.scores.push(score);
        out.labels.push(u32::from(score > 0.0));
    }
    if out.is_empty() {
        return Err(Error::format(path, "no sentences (empty or truncated file)"));
    }
    Ok(out)
}

/// Reads a whole text corpus (such as `data/shakespeare/shakespeare.txt`), failing on an
/// empty file.
pub fn load_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.is_empty() {
        return Err(Error::format(path, "empty text file"));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The words of `text`: lowercased, split at every character that is neither alphanumeric
/// nor an apostrophe; apostrophes at a word's ends are dropped (`''conan''` -> `conan`,
/// `don't` stays).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// A word-level vocabulary: id 0 is `<pad>`, 1 is `<unk>`, then the most frequent words of
/// the text it was fitted on (ties in alphabetical order, so fitting is deterministic).
#[derive(Debug, Clone, PartialEq)]
pub struct WordTokenizer {
    vocab: Vec<String>,
    index: HashMap<String, u32>,
}

impl WordTokenizer {
    /// The padding id.
    pub const PAD: u32 = 0;
    /// The id of every word outside the vocabulary.
    pub const UNK: u32 = 1;

    /// A vocabulary of `<pad>`, `<unk>` and the `max_words` most frequent [`words`] of
    /// `texts` (fit on the training texts only).
    pub fn fit<'a>(texts: impl IntoIterator<Item = &'a str>, max_words: usize) -> WordTokenizer {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for text in texts {
            for w in words(text) {
                *counts.entry(w).or_default() += 1;
            }
        }
        let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let vocab: Vec<String> = ["<pad>", "<unk>"]
            .map(String::from)
            .into_iter()
            .chain(ranked.into_iter().take(max_words).map(|(w, _)| w))
            .collect();
        let index = vocab.iter().enumerate().map(|(i, w)| (w.clone(), i as u32)).collect();
        WordTokenizer { vocab, index }
    }

    /// The vocabulary size, `<pad>` and `<unk>` included.
    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    /// Whether only `<pad>` and `<unk>` are there.
    pub fn is_empty(&self) -> bool {
        self.vocab.len() <= 2
    }

    /// The ids of `text`'s words ([`Self::UNK`] for unknown words).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        words(text).iter().map(|w| self.index.get(w).copied().unwrap_or(Self::UNK)).collect()
    }

    /// The word of id `id`.
    pub fn word(&self, id: u32) -> &str {
        self.vocab.get(id as usize).map_or("<unk>", String::as_str)
    }
}

/// A char-level vocabulary: every distinct character of the fitted text, in code-point order.
#[derive(Debug, Clone, PartialEq)]
pub struct CharTokenizer {
    chars: Vec<char>,
    index: HashMap<char, u32>,
}

impl CharTokenizer {
    /// The characters of `text`.
    pub fn fit(text: &str) -> CharTokenizer {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        let index = chars.iter().enumerate().map(|(i, &c)| (c, i as u32)).collect();
        CharTokenizer { chars, index }
    }

    /// The number of distinct characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether it was fitted on an empty text.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The ids of `text`'s characters; `None` if one is not in the vocabulary.
    pub fn encode(&self, text: &str) -> Option<Vec<u32>> {
        text.chars().map(|c| self.index.get(&c).copied()).collect()
    }

    /// The text of `ids` (ids out of range become U+FFFD).
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter().map(|&i| self.chars.get(i as usize).copied().unwrap_or('\u{fffd}')).collect()
    }
}

/// Token sequences padded to one length: `ids` is `[batch, len]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Padded {
    /// `batch * len` ids, each row a sequence followed by the pad id.
    pub ids: Vec<u32>,
    /// The real length of each sequence (at least 1: an empty sequence is one pad token).
    pub lengths: Vec<usize>,
    /// The padded length: the longest sequence, at most the cap.
    pub len: usize,
}

impl Padded {
    /// `[batch, len]` with 1.0 at real tokens and 0.0 at padding.
    pub fn mask(&self) -> Vec<f32> {
        self.lengths.iter().flat_map(|&l| (0..self.len).map(move |t| if t < l { 1.0 } else { 0.0 })).collect()
    }

    /// The row of each sequence's last real token in the `[batch * len]` flattening.
    pub fn last_positions(&self) -> Vec<u32> {
        self.lengths.iter().enumerate().map(|(b, &l)| (b * self.len + l - 1) as u32).collect()
    }
}

/// Pads `seqs` with `pad` to the longest one, cutting each to `cap` tokens first if given.
pub fn pad(seqs: &[&[u32]], cap: Option<usize>, pad: u32) -> Padded {
    let cut = |s: &[u32]| cap.map_or(s.len(), |c| s.len().min(c.max(1)));
    let len = seqs.iter().map(|s| cut(s)).max().unwrap_or(0).max(1);
    let mut ids = Vec::with_capacity(seqs.len() * len);
    let mut lengths = Vec::with_capacity(seqs.len());
    for s in seqs {
        let l = cut(s);
        ids.extend_from_slice(&s[..l]);
        ids.extend(std::iter::repeat_n(pad, len - l));
        lengths.push(l.max(1));
    }
    Padded { ids, lengths, len }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ground_truth_parses_and_rejects_malformed_lines() {
        let path = Path::new("reviews.txt");
        let text = "1\t2.5\tA ''great'' film.\r\n2\t-0.6\tToo tepid\r\n\n3\t0\tNeutral";
        let s = parse_ground_truth(text, path).unwrap();
        assert_eq!(s.texts, ["A ''great'' film.", "Too tepid", "Neutral"]);
        assert_eq!(s.labels, [1, 0, 0]);
        assert_eq!(s.scores, [2.5, -0.6, 0.0]);
        for (bad, what) in [
            ("1\t2.5\n", "line 1: expected"),
            ("1\t2.5\tok\n2\tabc\tno", "line 2: score `abc`"),
            ("1\t9\tx", "outside [-4, 4]"),
            ("", "no sentences"),
        ] {
            let msg = parse_ground_truth(bad, path).unwrap_err().to_string();
            assert!(msg.contains("reviews.txt") && msg.contains(what), "{msg}");
        }
    }

    #[test]
    fn split_is_seeded_and_disjoint() {
        let n = 50;
        let s = Sentences { texts: (0..n).map(|i| i.to_string()).collect(), scores: vec![1.0; n], labels: vec![1; n] };
        let (train, test) = s.split(0.2, 3);
        assert_eq!((train.len(), test.len()), (40, 10));
        assert_eq!(s.split(0.2, 3), (train.clone(), test.clone()));
        assert_ne!(s.split(0.2, 4).1, test);
        let mut all: Vec<usize> = train.texts.iter().chain(&test.texts).map(|t| t.parse().unwrap()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn words_split_and_keep_apostrophes() {
        assert_eq!(words("The Rock's ''Conan'' -- don't, 21st!"), ["the", "rock's", "conan", "don't", "21st"]);
        assert!(words(" ... ''").is_empty());
    }

    #[test]
    fn word_tokenizer_fits_top_words_on_train_only() {
        let tok = WordTokenizer::fit(["b a b c", "a b d"], 2);
        // b:3, a:2, c:1, d:1 -> top 2 are b, a.
        assert_eq!(tok.len(), 4);
        assert_eq!((tok.word(0), tok.word(1), tok.word(2), tok.word(3)), ("<pad>", "<unk>", "b", "a"));
        assert_eq!(tok.encode("A b, zebra c"), [3, 2, WordTokenizer::UNK, WordTokenizer::UNK]);
        // Ties break alphabetically, so the vocabulary does not depend on hash order.
        assert_eq!(WordTokenizer::fit(["z y x"], 2).encode("x y z"), [2, 3, 1]);
    }

    #[test]
    fn char_tokenizer_round_trips() {
        let tok = CharTokenizer::fit("hello, world");
        assert_eq!(tok.len(), 9);
        let ids = tok.encode("world, hello").unwrap();
        assert_eq!(tok.decode(&ids), "world, hello");
        assert_eq!(tok.encode("hex"), None);
        assert_eq!(tok.encode(" ").unwrap(), [0], "space sorts first");
    }

    #[test]
    fn padding_lengths_masks_and_last_positions() {
        let p = pad(&[&[5, 6, 7], &[8], &[]], None, 0);
        assert_eq!(p.len, 3);
        assert_eq!(p.ids, [5, 6, 7, 8, 0, 0, 0, 0, 0]);
        assert_eq!(p.lengths, [3, 1, 1]);
        assert_eq!(p.mask(), [1., 1., 1., 1., 0., 0., 1., 0., 0.]);
        assert_eq!(p.last_positions(), [2, 3, 6]);
        let capped = pad(&[&[1, 2, 3, 4], &[9, 9]], Some(3), 0);
        assert_eq!((capped.len, capped.ids.clone(), capped.lengths.clone()), (3, vec![1, 2, 3, 9, 9, 0], vec![3, 2]));
    }
}
