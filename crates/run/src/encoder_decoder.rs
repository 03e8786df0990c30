//! An encoder–decoder's run: d2l's `train_seq2seq` — sentence pairs from fra-eng, a pair file
//! or a generated toy task, teacher forcing or scheduled sampling, masked cross-entropy — as a
//! [`TaskTraining`].

use super::data::RunData;
use super::shard::Shard;
use super::spec::{toy_held_out, DataSource, RunSpec, ToyLengths};
use super::task::{from_data, invalid, EpochCursor, EpochReport, EpochSettings, TaskFuture, TaskTraining};
use rand_chacha::ChaCha8Rng;
use rnnplay_data::toy::ToyTask;
use rnnplay_data::translation::{
    epoch_rng, pairs_from_file, preprocess_nmt, read_fra_eng, tokenize_nmt, Pair, PairBatch, PairDataset,
};
use rnnplay_engine::backend::Backend;
use rnnplay_engine::beam::{beam_search, BeamSettings, D2L_LENGTH_PENALTY};
use rnnplay_engine::checkpoint::Seq2SeqCheckpoint;
use rnnplay_engine::error::Result;
use rnnplay_engine::nn::Seq2Seq;
use rnnplay_engine::optim::OptimizerState;
use rnnplay_engine::options::EngineOptions;
use rnnplay_engine::param::Param;
use rnnplay_engine::train::Seq2SeqTrainer;
use rnnplay_engine::translate::encode_source;
use std::collections::BTreeMap;
use std::rc::Rc;

/// d2l's example sentences and their references (fra-eng).
pub const D2L_EXAMPLES: [(&str, &str); 4] = [
    ("go .", "va !"),
    ("i lost .", "j'ai perdu ."),
    ("he's calm .", "il est calme ."),
    ("i'm home .", "je suis chez moi ."),
];

/// A model's free-running answers to a toy task's held-out pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldOutScore {
    /// The share translated exactly.
    pub exact: f32,
    /// For each output position, the share of the references that long whose token there the
    /// model wrote: after one wrong token a decoder fed its own output may stay wrong (exposure
    /// bias), so this falls with the position faster than a per-token error rate would.
    pub by_position: Vec<f32>,
    /// For each source length (in tokens) of the held-out pairs: the share of them translated
    /// exactly, and how many there are — where a fixed-size context fails as sources grow.
    pub by_length: Vec<(usize, f32, usize)>,
    /// The mean BLEU (k = 2, d2l's) of the translations against the references.
    pub bleu: f32,
    /// The mean of the translations' scores (1/L^α)·log P (d2l 10.8, α = 0.75): what beam
    /// search maximises, and greedy decoding only approximately.
    pub score: f32,
}

impl HeldOutScore {
    /// (source length, share translated exactly), shortest first.
    pub fn exact_by_length(&self) -> Vec<(usize, f32)> {
        self.by_length.iter().map(|&(length, share, _)| (length, share)).collect()
    }
}

/// An encoder–decoder's run.
pub struct Seq2SeqRun {
    pub model: Seq2Seq,
    /// The pairs and vocabularies trained on.
    pub data: PairDataset,
    /// Example (source, reference) pairs to show: d2l's four for fra-eng, held-out ones for toy
    /// tasks.
    pub examples: Vec<(String, String)>,
    /// Held-out pairs (toy tasks: generated apart from the training ones; fra-eng: the 128 after
    /// them) for the exact-match rate and BLEU after the last epoch.
    pub held_out: Vec<Pair>,
    /// Their score after the run's last epoch, once it is measured.
    pub last_score: Option<HeldOutScore>,
    /// The beam they are translated with (1: greedy).
    pub beam: usize,
    pub(super) trainer: Seq2SeqTrainer,
    batch_size: usize,
    pub(super) rng: ChaCha8Rng,
    cursor: EpochCursor<PairBatch>,
}

impl RunSpec {
    pub(super) fn seq2seq_run(&self, backend: &Rc<dyn Backend>, data: RunData) -> Result<Seq2SeqRun> {
        let (pairs, held_out) = match (self.source(), data) {
            (DataSource::FraEng, RunData::FraEngZip(zip)) => {
                let text = preprocess_nmt(&from_data(read_fra_eng(zip))?);
                let pairs = tokenize_nmt(&text, Some(self.num_examples));
                // The pairs after the training ones, as d2l's MTFraEng holds out num_val.
                let mut held_out = tokenize_nmt(&text, Some(self.num_examples + FRA_ENG_HELD_OUT));
                held_out.drain(..pairs.len().min(held_out.len()));
                (pairs, held_out)
            }
            (DataSource::Toy(task, lengths), _) => toy_pairs(task, lengths, self.num_examples, self.seed)?,
            (DataSource::Text(name), RunData::Text(text)) => {
                (from_data(pairs_from_file(text, &name, self.num_examples))?, Vec::new())
            }
            (source, _) => return Err(invalid(format!("the data loaded does not fit {source:?}"))),
        };
        let examples = match self.source() {
            DataSource::FraEng => D2L_EXAMPLES.iter().map(|(s, t)| (s.to_string(), t.to_string())).collect(),
            _ if !held_out.is_empty() => held_out.iter().take(4).map(|(s, t)| (s.join(" "), t.join(" "))).collect(),
            _ => pairs.iter().take(4).map(|(s, t)| (s.join(" "), t.join(" "))).collect(),
        };
        let dataset = from_data(PairDataset::new(&pairs, self.num_steps, self.min_freq))?;
        let config = self.seq2seq_config(dataset.src_vocab.len(), dataset.tgt_vocab.len());
        Ok(Seq2SeqRun {
            model: Seq2Seq::new(backend, &config, self.seed)?,
            trainer: Seq2SeqTrainer::new(backend, self.optimizer()?, self.clip)?,
            data: dataset,
            examples,
            held_out,
            last_score: None,
            beam: self.beam,
            batch_size: self.batch_size,
            rng: epoch_rng(self.seed),
            cursor: EpochCursor::new(),
        })
    }
}

/// fra-eng pairs held out after the training pairs for the validation BLEU and exact match, as
/// many as d2l's `MTFraEng(num_val=128)` holds out (its vocabularies also count their words;
/// rnnplay's count only the training pairs').
pub const FRA_ENG_HELD_OUT: usize = 128;

/// A note when most words of either side became `<unk>` for being rarer than `min_freq`.
pub(super) fn unknown_words_note(data: &PairDataset, min_freq: usize) -> Option<String> {
    let unknown = |rows: &[Vec<u32>], valid: &[usize]| -> (usize, usize) {
        let tokens = rows.iter().zip(valid).flat_map(|(row, &n)| &row[..n.saturating_sub(1)]);
        tokens.fold((0, 0), |(unk, all), &id| (unk + usize::from(id == rnnplay_data::vocab::UNK), all + 1))
    };
    let (src, tgt) = (unknown(&data.src, &data.src_valid), unknown(&data.tgt, &data.tgt_valid));
    let (side, (unk, all)) = if src.0 * tgt.1 >= tgt.0 * src.1 { ("source", src) } else { ("target", tgt) };
    (unk * 2 > all).then(|| {
        format!(
            "{unk} of the {all} {side} words occur fewer than min_freq = {min_freq} times and became <unk>: the model \
             cannot learn them; give more pairs, or a lower --min-freq"
        )
    })
}

/// A toy task's training pairs and held-out pairs that share no source with them.
pub(crate) fn toy_pairs(
    task: ToyTask,
    (min, max): ToyLengths,
    count: usize,
    seed: u64,
) -> Result<(Vec<Pair>, Vec<Pair>)> {
    let pairs = from_data(task.pairs(count, min, max, seed, &[]))?;
    let held_out = from_data(task.pairs(toy_held_out((min, max)), min, max, seed.wrapping_add(1_000_003), &pairs))?;
    Ok((pairs, held_out))
}

impl Seq2SeqRun {
    /// How well the model translates the held-out pairs (toy tasks, fra-eng), free-running:
    /// greedily, or by beam search with the run's beam (k = 1 is greedy decoding, token for
    /// token).
    pub async fn held_out_score(&self) -> Result<HeldOutScore> {
        let (mut exact, mut bleu, mut score) = (0, 0.0, 0.0);
        let settings =
            BeamSettings { beam: self.beam, length_penalty: D2L_LENGTH_PENALTY, max_len: self.data.num_steps };
        // The most words the decoder writes before its <eos>.
        let longest = self.data.num_steps.saturating_sub(1).max(1);
        // Per output position: (tokens right, references that long).
        let mut positions: Vec<(usize, usize)> = Vec::new();
        // Per source length: (exactly right, all).
        let mut lengths: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
        for (src, tgt) in &self.held_out {
            let source = encode_source(&self.data.src_vocab, &src.join(" "), self.data.num_steps);
            let found = beam_search(&self.model, &self.data.tgt_vocab, &source.ids, &[], settings).await?;
            score += found.score;
            let output = found.tokens;
            let reference: Vec<u32> = tgt.iter().map(|t| self.data.tgt_vocab.index(t)).collect();
            exact += usize::from(output == reference);
            let words = |ids: &[u32]| ids.iter().map(|&i| self.data.tgt_vocab.token(i)).collect::<Vec<_>>().join(" ");
            bleu += rnnplay_data::translation::bleu(&words(&output), &tgt.join(" "), 2);
            // Keyed by the length the encoder saw (a longer fra-eng sentence is cut to fit).
            let at_length = lengths.entry(src.len().min(longest)).or_default();
            (at_length.0, at_length.1) = (at_length.0 + usize::from(output == reference), at_length.1 + 1);

            let reference = &reference[..reference.len().min(longest)];
            if positions.len() < reference.len() {
                positions.resize(reference.len(), (0, 0));
            }
            for (at, &token) in reference.iter().enumerate() {
                positions[at].0 += usize::from(output.get(at) == Some(&token));
                positions[at].1 += 1;
            }
        }
        Ok(HeldOutScore {
            exact: exact as f32 / self.held_out.len().max(1) as f32,
            by_position: positions.iter().map(|&(right, all)| right as f32 / all as f32).collect(),
            by_length: lengths.into_iter().map(|(len, (right, all))| (len, right as f32 / all as f32, all)).collect(),
            bleu: (bleu / self.held_out.len().max(1) as f64) as f32,
            score: (score / self.held_out.len().max(1) as f64) as f32,
        })
    }

    /// The next minibatch of pairs, the epoch begun first (its scheduled-sampling coins seeded
    /// with `coin_seed`) when one ended.
    fn next_batch(&mut self, epoch: &EpochSettings, coin_seed: u64) -> Result<PairBatch> {
        if self.cursor.between_epochs() {
            self.cursor.pending = from_data(self.data.epoch(self.batch_size, &mut self.rng))?.into();
            self.trainer.set_lr(epoch.lr)?;
            self.trainer.set_scheduled_sampling(epoch.sampling, coin_seed)?;
            self.trainer.begin_epoch()?;
        }
        self.cursor.next("the data set gives no minibatch")
    }
}

impl TaskTraining for Seq2SeqRun {
    fn params(&self) -> &[Param] {
        self.model.params()
    }

    fn set_execution(&mut self, options: &EngineOptions) {
        self.model.set_fused_layers(options.fused_layers);
        self.trainer.set_plan_replay(options.plan_replay);
    }

    fn progress(&self) -> (usize, usize) {
        self.cursor.progress()
    }

    fn drop_epoch(&mut self) {
        self.cursor.clear();
    }

    fn train_next(&mut self, epoch: &EpochSettings) -> Result<usize> {
        let batch = self.next_batch(epoch, epoch.coin_seed)?;
        self.trainer.train_batch(&self.model, &self.data.tgt_vocab, &batch)?;
        Ok(batch.target_tokens())
    }

    fn end_batch(&mut self, epoch: EpochSettings, tokens: usize) -> TaskFuture<'_, Option<EpochReport>> {
        Box::pin(async move {
            let Some((batches, tokens)) = self.cursor.trained(tokens) else {
                return Ok(None);
            };
            let metrics = self.trainer.finish_epoch(batches, tokens, self.data.num_steps).await?;
            let score = match epoch.last && !self.held_out.is_empty() {
                true => Some(self.held_out_score().await?),
                false => None,
            };
            self.last_score.clone_from(&score);
            Ok(Some(EpochReport {
                epoch: 0,
                lr: epoch.lr,
                value: metrics.per_token_ce,
                grad_norm: metrics.grad_norm,
                reach: Vec::new(),
                tokens,
                batches,
                valid_perplexity: None,
                accuracy: score.as_ref().map(|s| s.exact),
                bleu: score.as_ref().map(|s| s.bleu),
                score: score.as_ref().map(|s| s.score),
                exact_by_length: score.as_ref().map(|s| s.exact_by_length()).unwrap_or_default(),
                accuracy_by_position: score.map(|s| s.by_position).unwrap_or_default(),
                d2l_loss: Some(metrics.d2l_loss),
                scheduled_sampling: Some(epoch.sampling),
            }))
        })
    }

    fn share(&mut self, epoch: EpochSettings, shard: Shard) -> TaskFuture<'_, (Vec<f32>, usize)> {
        Box::pin(async move {
            // Each worker draws its own scheduled-sampling coins.
            let coin_seed = epoch.coin_seed.wrapping_add((shard.index as u64) << 32);
            let batch = self.next_batch(&epoch, coin_seed)?;
            let rows = batch.rows(shard.rows(batch.batch_size));
            self.trainer.backward_share(&self.model, &self.data.tgt_vocab, &rows, &|step| shard.seed(step))?;
            // The loss sums over target tokens: the workers' shares add up as they are.
            let share = self.trainer.core_mut().read_share(self.model.params(), 1.0).await?;
            Ok((share, batch.target_tokens()))
        })
    }

    fn apply_sum(&mut self, sum: &[f32]) -> Result<()> {
        self.trainer.core_mut().apply_sum(self.model.params(), sum)
    }

    fn share_len(&mut self) -> Result<usize> {
        self.trainer.core_mut().share_len(self.model.params())
    }

    fn checkpoint<'a>(
        &'a self,
        spec: &'a RunSpec,
        mut extra: BTreeMap<String, String>,
        last: Option<&'a EpochReport>,
    ) -> TaskFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let data = &self.data;
            let mut checkpoint =
                Seq2SeqCheckpoint::capture(&self.model, &data.src_vocab, &data.tgt_vocab, data.num_steps).await?;
            extra.insert("data".into(), spec.data.clone());
            if let Some(last) = last {
                extra.insert("per_token_ce".into(), last.value.to_string());
            }
            checkpoint.extra = extra;
            checkpoint.to_bytes()
        })
    }

    fn position(&self) -> (u32, usize) {
        self.trainer.core().position()
    }

    fn optimizer_state(&self) -> TaskFuture<'_, OptimizerState> {
        Box::pin(self.trainer.core().optimizer().state())
    }

    fn restore(&mut self, optimizer: &OptimizerState, position: (u32, usize)) -> Result<()> {
        let params = self.model.params().to_vec();
        self.trainer.core_mut().restore(&params, optimizer, position)
    }

    fn streams(&self) -> (u128, Option<u128>) {
        (self.rng.get_word_pos(), None)
    }

    fn set_streams(&mut self, data: u128, valid: Option<u128>) -> Result<()> {
        if valid.is_some() {
            return Err(invalid("an encoder-decoder's run has no validation split"));
        }
        self.rng.set_word_pos(data);
        Ok(())
    }
}
