//! The movie-review sentences as token ids for the text demos: the seeded 80/20 split, a
//! word vocabulary fitted on the training part, and shuffled padded batches prepared on a
//! background thread.

use super::CommonArgs;
use anyhow::Result;
use std::sync::Arc;
use wgrad_data::batch::Prefetch;
use wgrad_data::text::{self, Padded, WordTokenizer};
use wgrad_data::{DataLoader, Dataset, Shard};

/// One split: token ids and 0/1 labels per sentence.
#[derive(Clone)]
pub struct Encoded {
    /// The word ids of each sentence.
    pub ids: Arc<Vec<Vec<u32>>>,
    /// 1 for positive sentences.
    pub labels: Arc<Vec<u32>>,
}

impl Encoded {
    /// The number of sentences.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// The batches of one pass: shuffled with `seed` (or in stored order), each padded to
    /// its longest sentence (at most `cap` words), assembled on a background thread.
    pub fn batches(&self, batch_size: usize, cap: usize, seed: Option<u64>) -> Prefetch<(Padded, Vec<u32>)> {
        self.shard_batches(batch_size, cap, seed, Shard { rank: 0, world_size: 1 })
    }

    /// [`Encoded::batches`] of one rank's shard of the (shuffled) order (`--distributed`).
    pub fn shard_batches(
        &self,
        batch_size: usize,
        cap: usize,
        seed: Option<u64>,
        shard: Shard,
    ) -> Prefetch<(Padded, Vec<u32>)> {
        let loader = DataLoader::new(self.clone(), batch_size).shard(shard.rank, shard.world_size);
        let loader = loader.collate(move |samples: Vec<(Vec<u32>, u32)>| {
            let seqs: Vec<&[u32]> = samples.iter().map(|(ids, _)| ids.as_slice()).collect();
            (text::pad(&seqs, Some(cap), WordTokenizer::PAD), samples.iter().map(|&(_, label)| label).collect())
        });
        match seed {
            Some(seed) => loader.shuffle(seed).epoch(0),
            None => loader.epoch(0),
        }
    }
}

/// A sentence's samples are (word ids, label).
impl Dataset for Encoded {
    type Item = (Vec<u32>, u32);
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn get(&self, index: usize) -> (Vec<u32>, u32) {
        (self.ids[index].clone(), self.labels[index])
    }
}

/// `--vocab` and `--max-len`, the flags of the demos on sentences; flatten into a demo's
/// clap struct.
#[derive(clap::Args, Debug, Clone)]
pub struct SentenceArgs {
    /// Vocabulary: this many most frequent training words (plus <pad> and <unk>)
    #[arg(long, default_value_t = 8000)]
    pub vocab: usize,
    /// Sentences are cut to this many words
    #[arg(long, default_value_t = 50)]
    pub max_len: usize,
}

/// Loads the sentences (fetching them on first use), holds out a seeded 20% as the test
/// set, applies `--limit` to both parts, and encodes them with a vocabulary of the
/// `vocab` most frequent training words; prints what it loaded.
pub fn load(args: &CommonArgs, vocab: usize) -> Result<(WordTokenizer, Encoded, Encoded)> {
    let (tok, train, _, test) = load_with_validation(args, vocab, 0.0)?;
    Ok((tok, train, test))
}

/// As [`load`], and also holds out a seeded `val_fraction` of the training sentences as
/// a validation set (for choosing an epoch or a recipe without looking at the test set);
/// the vocabulary is fitted on the remaining training sentences only.
pub fn load_with_validation(
    args: &CommonArgs,
    vocab: usize,
    val_fraction: f64,
) -> Result<(WordTokenizer, Encoded, Encoded, Encoded)> {
    let dir = args.data_dir(&wgrad_data::sources::SENTIMENT)?;
    let (train, test) = text::load_movie_reviews(&dir)?.split(0.2, 1234);
    let (train, test) = (train.subset(&args.limited(train.len())), test.subset(&args.limited(test.len())));
    let (train, val) = train.split(val_fraction, 4321);
    let tok = WordTokenizer::fit(train.texts.iter().map(String::as_str), vocab);
    let encode = |s: &text::Sentences| Encoded {
        ids: Arc::new(s.texts.iter().map(|t| tok.encode(t)).collect()),
        labels: Arc::new(s.labels.clone()),
    };
    let (train, val, test) = (encode(&train), encode(&val), encode(&test));
    let held = match val.len() {
        0 => String::new(),
        n => format!(", {n} validation"),
    };
    println!(
        "movie reviews: {} training{held} and {} test sentences, vocabulary {} words",
        train.len(),
        test.len(),
        tok.len()
    );
    Ok((tok, train, val, test))
}
