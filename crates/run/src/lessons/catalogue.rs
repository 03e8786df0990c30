//! Every lesson, in the book's order: its text, its runs and its claim. Each run is small
//! enough to train in a minute or two in the page's CPU fallback, and each claim holds for seeds
//! 0–4 (`rnnplay lessons --check NAME --seeds 0,1,2,3,4`; the figures are in docs/LESSONS.md).

use super::claim::Stat::{
    Accuracy, BestValid, ExactFromLength, Final, FinalValid, First, GradientBack, Peak, PositionAccuracy, Score,
};
use super::claim::{above, below, of, Bound, Claim};
use super::{Lesson, LessonRun};

/// Every lesson, in the book's order.
pub const LESSONS: &[Lesson] = &[
    Lesson {
        name: "language-model",
        title: "A language model from scratch",
        section: "9.5 RNN from scratch",
        text: "d2l's RNN from scratch reads the first 30 000 characters of The Time Machine one at a time: one-hot input, a tanh hidden state of 256 units, SGD with learning rate 1 and gradient clipping at θ = 1. \
A uniform guess among the 28 characters has perplexity 28; certainty has perplexity 1. \
Watch the perplexity fall: by the last epoch it is below half the first epoch's. \
Watch the free-running continuation of \"time traveller\" and the teacher-forced passage change as it trains, and inside the network look for units that switch at spaces.",
        shared: &[("preset", "d2l-rnn-scratch"), ("hidden", "256"), ("max_tokens", "30000"), ("epochs", "40")],
        runs: &[LessonRun { label: "RNN from scratch", settings: &[] }],
        claim: Claim {
            says: "the final perplexity is below half the first epoch's",
            conditions: &[below(of(0, Final), Bound::Times(0.5, of(0, First)))],
            if_not: "the model learns too slowly at this learning rate; train more epochs",
        },
    },
    Lesson {
        name: "clipping",
        title: "Exploding gradients and clipping",
        section: "9.5.3 gradient clipping",
        text: "The scratch RNN twice, with a learning rate of 4 — four times d2l's — so that one large gradient throws the weights far: clipped at θ = 0.5, about the size of a typical minibatch's gradient, and with θ so large (10⁶) that it never clips. \
Watch the pre-clip gradient-norm chart: whenever the norm is above θ, clipping scales the step back to length θ. \
You should see the unclipped run's perplexity shoot up to more than three times where the clipped run ends (or the run stop as diverged), while the clipped run ends below a perplexity of 10. \
A gradient that explodes does so on a few minibatches, which is why clipping those few is enough.",
        shared: &[("preset", "d2l-rnn-scratch"), ("hidden", "128"), ("max_tokens", "10000"), ("epochs", "30"), ("lr", "4")],
        runs: &[
            LessonRun { label: "θ = 0.5", settings: &[("clip", "0.5")] },
            LessonRun { label: "no clipping (θ = 10⁶)", settings: &[("clip", "1000000")] },
        ],
        claim: Claim {
            says: "the unclipped run's perplexity rises above 3× the clipped run's final one (or diverges); the clipped run ends below 10",
            conditions: &[above(of(1, Peak), Bound::Times(3.0, of(0, Final))), below(of(0, Final), Bound::Value(10.0))],
            if_not: "no minibatch's gradient exploded this time; a longer run or a higher learning rate makes it likelier",
        },
    },
    Lesson {
        name: "sampling",
        title: "Sequential partitioning against random sampling",
        section: "9.3 reading long sequences",
        text: "Minibatches of 35-character windows, taken two ways. \
Sequential partitioning lays the windows end to end, so the hidden state is carried from one minibatch to the next (detached: truncated backpropagation through time). \
Random sampling draws windows from anywhere and starts each from a zero state. \
As d2l notes, the two train about equally well: you should see final perplexities within 5% of each other, because 35 characters already hold most of what a character model uses and the carried state gets no gradient from the window before.",
        shared: &[("preset", "d2l-rnn-scratch"), ("hidden", "128"), ("max_tokens", "10000"), ("epochs", "30")],
        runs: &[
            LessonRun { label: "sequential", settings: &[] },
            LessonRun { label: "random", settings: &[("sampling", "random")] },
        ],
        claim: Claim {
            says: "the two final perplexities are within 5% of each other",
            conditions: &[
                below(of(0, Final), Bound::Times(1.05, of(1, Final))),
                below(of(1, Final), Bound::Times(1.05, of(0, Final))),
            ],
            if_not: "one of the two runs got a luckier start; compare over more epochs",
        },
    },
    Lesson {
        name: "rnn-gru-lstm",
        title: "Vanishing gradients: RNN, GRU and LSTM",
        section: "9.7 backpropagation through time, 10.1 GRU, 10.2 LSTM",
        text: "The recall task: records like \"c xxxxxxxxxxxxxxx z c\" — a key letter, fifteen x's, the marker z, and the key again — so the letter after each z can only be predicted by remembering the key for 16 steps. \
Three models of 64 units learn it with the same settings: a plain RNN, a GRU and an LSTM. \
In a plain RNN the gradient from the recall back to the key is multiplied by the recurrent weights once per step and vanishes; gates give it a path that keeps it. \
You should see the GRU recall more than 90% of held-out keys and the LSTM more than 40% (it learns more slowly, and is still improving at the end), while the RNN stays below 30% — near the 12.5% of a guess among the eight keys. \
The gradient's reach shows why (choose it in the comparison chart to overlay the three runs): it follows the gradient of the recall's loss back k steps — in the GRU it is larger at the key, 16 steps back, than at the recall itself, since the key is what the recall needs, while in the RNN it falls by a factor at every step and arrives with less than a tenth of the GRU's share (on most seeds a thousandth or less), too little to learn the key from.",
        shared: &[
            ("data", "recall-15"),
            ("hidden", "64"),
            ("optimizer", "adam"),
            ("lr", "0.01"),
            ("num_steps", "24"),
            ("epochs", "150"),
        ],
        runs: &[
            LessonRun { label: "RNN", settings: &[("preset", "d2l-rnn")] },
            LessonRun { label: "GRU", settings: &[("preset", "d2l-gru")] },
            LessonRun { label: "LSTM", settings: &[("preset", "d2l-lstm")] },
        ],
        claim: Claim {
            says: "held-out recall: GRU above 90%, LSTM above 40%, RNN below 30%; the recall's gradient is larger at the key, 16 steps back, than at the recall itself in the GRU, and under a tenth of the GRU's share in the RNN",
            conditions: &[
                above(of(1, Accuracy), Bound::Value(0.9)),
                above(of(2, Accuracy), Bound::Value(0.4)),
                below(of(0, Accuracy), Bound::Value(0.3)),
                above(of(1, GradientBack(16)), Bound::Value(1.0)),
                below(of(0, GradientBack(16)), Bound::Times(0.1, of(1, GradientBack(16)))),
            ],
            if_not: "a gated model had not found the key's path yet; it needs more epochs on this seed",
        },
    },
    Lesson {
        name: "deep-dropout",
        title: "Deep RNNs, overfitting and dropout",
        section: "10.3 deep recurrent networks",
        text: "A two-layer LSTM of 192 units trained with Adam on only 12 000 characters, a fifth of them held out for validation, without and with dropout 0.5 between the layers. \
A model this large memorizes a text this short: without dropout you should see the validation perplexity turn upward and end more than 10% above its best, while the training perplexity keeps falling. \
With dropout the validation perplexity ends lower than without it. \
Inside the network, the layer choice shows both layers' states.",
        shared: &[
            ("preset", "d2l-deep-lstm"),
            ("hidden", "192"),
            ("max_tokens", "12000"),
            ("valid_fraction", "0.2"),
            ("optimizer", "adam"),
            ("lr", "0.01"),
            ("epochs", "40"),
        ],
        runs: &[
            LessonRun { label: "no dropout", settings: &[] },
            LessonRun { label: "dropout 0.5", settings: &[("dropout", "0.5")] },
        ],
        claim: Claim {
            says: "without dropout the validation perplexity ends over 10% above its best; with dropout it ends lower than without",
            conditions: &[
                above(of(0, FinalValid), Bound::Times(1.1, of(0, BestValid))),
                below(of(1, FinalValid), Bound::Times(1.0, of(0, FinalValid))),
            ],
            if_not: "the model had not begun to memorize by the last epoch; train more epochs",
        },
    },
    Lesson {
        name: "bidirectional",
        title: "Why a bidirectional RNN is no language model",
        section: "10.4 bidirectional recurrent neural networks",
        text: "The recall task of the vanishing-gradient lesson (\"c xxxxxxxxxxxxxxx z c\": the letter after each z is the key from 17 letters before), learned by a GRU that reads its window forwards and by one that also reads it backwards. \
At every step a bidirectional layer joins a forward state, which has read the letters so far, and a reverse state, which has read the rest of the window — including the next letter, the one a language model is asked for. \
So it learns to copy that letter: you should see its training perplexity fall below 1.05, lower than any model that reads only the past can reach on this text (about 1.12, since the keys are random). \
Asked to predict each held-out key from the letters before it, as a language model must, it recalls fewer than half as many as the one-direction GRU, which recalls more than 80%. \
(It does better than the 12.5% of a guess among the eight keys because a few training windows end right at a marker, where even its reverse direction cannot see the key, and those teach its forward direction a little.) \
Generating text is predicting from the past too: compare the two runs' generated text. \
Bidirectional layers belong where the whole input is known before any output, as in an encoder (the attention lesson's encoder–decoder can use one).",
        shared: &[
            ("preset", "d2l-gru"),
            ("data", "recall-15"),
            ("hidden", "64"),
            ("optimizer", "adam"),
            ("lr", "0.01"),
            ("num_steps", "48"),
            ("epochs", "150"),
        ],
        runs: &[
            LessonRun { label: "one direction", settings: &[] },
            LessonRun { label: "bidirectional", settings: &[("bidirectional", "yes")] },
        ],
        claim: Claim {
            says: "the bidirectional GRU's training perplexity ends below 1.05 and the one-direction GRU's above 1.1; predicting held-out keys from the letters before them, the one-direction GRU recalls over 80% and the bidirectional GRU under half as many",
            conditions: &[
                below(of(1, Final), Bound::Value(1.05)),
                above(of(0, Final), Bound::Value(1.1)),
                above(of(0, Accuracy), Bound::Value(0.8)),
                below(of(1, Accuracy), Bound::Times(0.5, of(0, Accuracy))),
            ],
            if_not: "the one-direction GRU had not found the key's path yet, or the windows that end at a marker taught the bidirectional GRU more recall than usual on this seed",
        },
    },
    Lesson {
        name: "learning-rate",
        title: "Learning rate and StepLR",
        section: "12.11 learning rate scheduling",
        text: "A GRU of 64 units trained with Adam at a learning rate of 0.05 — too high to settle — once at that constant rate, and once with PyTorch's StepLR multiplying it by 0.3 every 5 epochs. \
The constant rate makes fast progress and then stalls: its steps stay too large to reach the bottom of the valley. \
You should see the decayed rate end at least 5% lower. \
The progress line shows the rate each epoch trains with.",
        shared: &[
            ("preset", "d2l-gru"),
            ("hidden", "64"),
            ("max_tokens", "40000"),
            ("optimizer", "adam"),
            ("lr", "0.05"),
            ("epochs", "15"),
        ],
        runs: &[
            LessonRun { label: "constant lr 0.05", settings: &[] },
            LessonRun { label: "StepLR 5 × 0.3", settings: &[("lr_schedule", "step:5:0.3")] },
        ],
        claim: Claim {
            says: "the StepLR run's final perplexity is at least 5% below the constant rate's",
            conditions: &[below(of(1, Final), Bound::Times(0.95, of(0, Final)))],
            if_not: "the constant rate happened to settle well on this seed",
        },
    },
    Lesson {
        name: "temperature",
        title: "Temperature: greedy against sampled text",
        section: "9.5 prediction",
        text: "One GRU, trained once on the first 30 000 characters; the lesson is in how its predictions are read, and the claim is only that it learns (its perplexity ends below half the first epoch's). \
Greedy decoding (temperature 0) always takes the most likely character, so from one state it always writes the same text. \
Sampling from softmax(logits / T) draws the next character at random: T = 1 keeps the model's probabilities, T = 2 flattens them toward a uniform guess, T = 0.5 sharpens them toward greedy. \
Set the free-running temperature and press Predict now, and slide the temperature under a picked position to see its bars reshape.",
        shared: &[("preset", "d2l-gru"), ("max_tokens", "30000"), ("epochs", "30")],
        runs: &[LessonRun { label: "GRU", settings: &[] }],
        claim: Claim {
            says: "the final perplexity is below half the first epoch's",
            conditions: &[below(of(0, Final), Bound::Times(0.5, of(0, First)))],
            if_not: "the model learns too slowly at this learning rate; train more epochs",
        },
    },
    Lesson {
        name: "teacher-forcing",
        title: "Teacher forcing against scheduled sampling",
        section: "10.7 sequence to sequence (teacher forcing)",
        text: "An encoder–decoder learns to reverse strings of 10 letters, trained first with teacher forcing — the decoder is always fed the true previous letter — then with scheduled sampling, which feeds it its own previous guess instead, more and more often: never in the first epoch, always in the last. \
When it translates, the decoder is fed its own guesses. The teacher-forced decoder never saw one in training, so a wrong letter can lead it further astray, and its mistakes pile up toward the end of the string (exposure bias); the scheduled-sampling decoder was trained on its own mistakes. \
You should see, in the comparison of accuracy at each output position, the teacher-forced decoder's accuracy fall from about 100% at the first letter to 88–96% at the tenth, and the scheduled-sampling decoder's end higher (96–100%). (In the middle of the string scheduled sampling is sometimes the weaker: it was fed worse inputs while it learned.) \
For a language model the same gap shows in the prediction panel: the teacher-forced passage against the free-running one.",
        shared: &[("preset", "toy-reverse"), ("data", "reverse-10-10"), ("num_steps", "12"), ("epochs", "10")],
        runs: &[
            LessonRun { label: "teacher forcing", settings: &[] },
            LessonRun { label: "scheduled sampling 0 → 1", settings: &[("scheduled_sampling", "1")] },
        ],
        claim: Claim {
            says: "the teacher-forced decoder's accuracy at the 10th letter is at least 3% below its accuracy at the 1st, and the scheduled-sampling decoder's at the 10th is higher than teacher forcing's",
            conditions: &[
                below(of(0, PositionAccuracy(10)), Bound::Times(0.97, of(0, PositionAccuracy(1)))),
                above(of(1, PositionAccuracy(10)), Bound::Times(1.0, of(0, PositionAccuracy(10)))),
            ],
            if_not: "with 200 held-out strings a position's accuracy moves by a few percent from seed to seed; both decoders may have learned the end of the string equally well this time",
        },
    },
    Lesson {
        name: "seq2seq",
        title: "Sequence to sequence",
        section: "10.7 sequence to sequence learning",
        text: "d2l's GRU encoder–decoder translates English to French on the fra-eng pairs. \
The encoder reads the source; its final state starts the decoder and is fed to it at every step as the context. \
The decoder is trained on <bos> followed by the target without its last word, and the loss is masked so padding counts for nothing. \
You should see the per-token cross-entropy end below a quarter of its first epoch's; watch the BLEU of each example, and inside the encoder–decoder pick a target word to see which source words it depends on.",
        shared: &[("preset", "d2l-seq2seq")],
        runs: &[
            LessonRun { label: "GRU encoder–decoder", settings: &[] },
        ],
        claim: Claim {
            says: "the final per-token cross-entropy is below a quarter of the first epoch's",
            conditions: &[below(of(0, Final), Bound::Times(0.25, of(0, First)))],
            if_not: "the model learns too slowly at this learning rate; train more epochs",
        },
    },
    Lesson {
        name: "beam-search",
        title: "Greedy decoding against beam search",
        section: "10.8 beam search",
        text: "d2l's encoder–decoder learns English → French from 2 000 sentence pairs, and then translates the 128 pairs after them twice: greedily — at each step the most probable next word — and by beam search, which keeps the 4 most probable partial translations at each step and picks, among those that ended, the one of highest score (1/L^α)·log P (d2l 10.8, α = 0.75). \
The two runs train the same model with the same seed; only how they translate differs. \
A greedy decoder commits to a word before it sees what follows it; beam search keeps the runners-up. \
You should see beam search's translations score higher on average than greedy's: it finds outputs the model itself finds more probable. \
A more probable translation is not always a better one: over seeds 0–4 the held-out BLEU against the references rose with the beam on two seeds and fell on three (it is 0.03–0.10 either way: a young model). \
In the playground the translate box draws a search as a tree: try a beam of 4 on a sentence of a few words.",
        shared: &[("preset", "d2l-seq2seq"), ("num_examples", "2000"), ("epochs", "30")],
        runs: &[
            LessonRun { label: "greedy", settings: &[] },
            LessonRun { label: "beam of 4", settings: &[("beam", "4")] },
        ],
        claim: Claim {
            says: "beam search's held-out translations score higher on average than greedy's",
            conditions: &[
                above(of(1, Score), Bound::Times(1.0, of(0, Score))),
            ],
            if_not: "the two searches chose the same translations on this seed",
        },
    },
    Lesson {
        name: "attention",
        title: "Attention beats the bottleneck",
        section: "11.4 the Bahdanau attention mechanism",
        text: "Two encoder–decoders learn to reverse strings of 5 to 10 letters, with the same sizes and the same 5 000 examples. \
The plain one (d2l 10.7) squeezes the whole source into the encoder's final state, one vector of 64 numbers that must hold every letter until the decoder needs it. \
The other (d2l 11.4) has additive attention: at every step the decoder's state is a query, scored against the encoder's output at each source position, and the decoder reads the softmax-weighted sum of those outputs — it can look back at any letter. \
You should see, in the comparison of exact match by source length, the plain decoder fall as the strings grow — it reverses only 17–28% of the strings of 8 letters or more exactly — while the attention decoder reverses 86–97% of them. \
Then look at each example's attention map: where does the decoder look while it writes the first letter, and the last? Nobody told it where to look",
        shared: &[
            ("preset", "toy-reverse"),
            ("data", "reverse-5-10"),
            ("num_steps", "12"),
            ("num_examples", "5000"),
        ],
        runs: &[
            LessonRun { label: "no attention", settings: &[] },
            LessonRun { label: "additive attention", settings: &[("attention", "additive")] },
        ],
        claim: Claim {
            says: "the attention decoder's exact match of strings of 8 letters or more is above 80% and above twice the plain decoder's",
            conditions: &[
                above(of(1, ExactFromLength(8)), Bound::Value(0.8)),
                above(of(1, ExactFromLength(8)), Bound::Times(2.0, of(0, ExactFromLength(8)))),
            ],
            if_not: "with about 20 held-out strings per length each share moves by several percent from seed to seed; more examples or epochs make the attention decoder surer",
        },
    },
    Lesson {
        name: "attention-scores",
        title: "Additive against dot-product attention",
        section: "11.3 attention scoring functions",
        text: "The attention lesson's reversal again, with the two ways d2l scores a query against a key. \
Additive attention (Bahdanau's) has parameters of its own: it projects the query and the key, adds them, squashes the sum with tanh and weighs it with a learned vector. \
Dot-product attention (Luong's, scaled) has none: the score is the query's dot product with the key, divided by the square root of their width, so the encoder's outputs and the decoder's state must learn to line up themselves. \
You should see the dot-product decoder do as well as the additive one — above 90% exact from 8 letters on, and at least 95% of the additive decoder's share — while each of its epochs takes less time: it has fewer parameters and no tanh per key. \
Then compare their attention maps: where does each look while it writes the first letter, and the last?",
        shared: &[
            ("preset", "toy-reverse"),
            ("data", "reverse-5-10"),
            ("num_steps", "12"),
            ("num_examples", "5000"),
        ],
        runs: &[
            LessonRun { label: "additive attention", settings: &[("attention", "additive")] },
            LessonRun { label: "dot-product attention", settings: &[("attention", "dot")] },
        ],
        claim: Claim {
            says: "the dot-product decoder's exact match of strings of 8 letters or more is above 90% and at least 95% of the additive decoder's",
            conditions: &[
                above(of(1, ExactFromLength(8)), Bound::Value(0.9)),
                above(of(1, ExactFromLength(8)), Bound::Times(0.95, of(0, ExactFromLength(8)))),
            ],
            if_not: "with about 20 held-out strings per length each share moves by several percent from seed to seed",
        },
    },
];
