"""Continue an rnnplay run on PyTorch: __DESCRIBE__.

Written by `rnnplay export --pytorch` from __CHECKPOINT_NAME__ (__EPOCHS__ epoch(s) trained). d2l's
GRU encoder-decoder (Seq2SeqEncoder, and Seq2SeqDecoder with the encoder's final state as context
or d2l 11.4's Seq2SeqAttentionDecoder with additive or dot-product attention, as the run had)
with the checkpoint's parameter names, the same data pipeline (d2l's preprocess_nmt,
tokenize_nmt and truncate_pad, the run's vocabularies, shuffled minibatches), teacher forcing
(and scheduled sampling when the run used it), d2l's masked cross-entropy, global-norm clipping,
optimizer and learning-rate schedule, in the style of d2l's `train_seq2seq`; it loads the
checkpoint's weights and trains on.

    python3 run.py                       # on from the checkpoint, CPU or one GPU
    python3 run.py --check "go ."        # the loaded model's greedy translation of a sentence
    torchrun --nproc_per_node 4 run.py --ddp    # DistributedDataParallel, one GPU per process

--save F.safetensors writes the weights with the checkpoint's metadata, so `rnnplay translate`
reads them. Needs only torch.
"""

__COMMON__

# The encoder-decoder's: its vocabularies, the sentence length, and (toy tasks) the pairs it
# generated.
SRC_VOCAB = json.loads(__SRC_VOCAB__)
TGT_VOCAB = json.loads(__TGT_VOCAB__)
NUM_STEPS = __NUM_STEPS__
PAIRS = json.loads(__PAIRS__)
PAD, BOS, EOS = (TGT_VOCAB.index(t) for t in ("<pad>", "<bos>", "<eos>"))


def preprocess_nmt(text):
    """d2l's preprocess_nmt: no non-breaking spaces, lower case, a space before , . ! ?"""
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    out = [" " + c if c in ",.!?" and i > 0 and text[i - 1] != " " else c for i, c in enumerate(text)]
    return "".join(out)


def tokenize_nmt(text, num_examples):
    """d2l's tokenize_nmt: lines 0..=num_examples, each exactly source<TAB>target."""
    pairs = []
    for i, line in enumerate(text.split("\n")):
        if num_examples is not None and i > num_examples:
            break
        parts = line.split("\t")
        if len(parts) == 2:
            pairs.append((parts[0].split(" "), parts[1].split(" ")))
    return pairs


def load_pairs(data):
    """The run's sentence pairs: generated (toy tasks, carried in this script), fra-eng.zip, or
    a file of source<TAB>target lines."""
    if PAIRS is not None and data == SPEC["data"]:
        return [(src, tgt) for src, tgt in PAIRS]
    if data == "fra-eng":
        root = pathlib.Path(os.environ.get("RNNPLAY_DATA_DIR", pathlib.Path.home() / ".cache/rnnplay"))
        with zipfile.ZipFile(io.BytesIO((root / "fra-eng.zip").read_bytes())) as archive:
            text = archive.read("fra-eng/fra.txt").decode("utf-8")
    else:
        text = pathlib.Path(data).read_text()
    return tokenize_nmt(preprocess_nmt(text), SPEC["num_examples"])


def truncate_pad(vocab, tokens):
    """d2l's truncate_pad after mapping through the vocabulary (unknown tokens are <unk>, 0) and
    appending <eos>; with the valid length."""
    index = {t: i for i, t in enumerate(vocab)}
    ids = ([index.get(t, 0) for t in tokens] + [vocab.index("<eos>")])[:NUM_STEPS]
    valid = len(ids)
    return ids + [vocab.index("<pad>")] * (NUM_STEPS - valid), valid


def arrays(pairs):
    src = [truncate_pad(SRC_VOCAB, s) for s, _ in pairs]
    tgt = [truncate_pad(TGT_VOCAB, t) for _, t in pairs]
    return (torch.tensor([ids for ids, _ in src]), torch.tensor([valid for _, valid in src]),
            torch.tensor([ids for ids, _ in tgt]), torch.tensor([valid for _, valid in tgt]))


BIDIRECTIONAL = CONFIG.get("bidirectional", False)
# The decoder's width: the encoder's outputs', both directions side by side when bidirectional.
DECODER_WIDTH = CONFIG["hidden_size"] * (2 if BIDIRECTIONAL else 1)


class Seq2SeqEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(CONFIG["src_vocab_size"], CONFIG["embed_size"])
        self.rnn = nn.GRU(CONFIG["embed_size"], CONFIG["hidden_size"], CONFIG["num_layers"],
                          dropout=CONFIG["dropout"], bidirectional=BIDIRECTIONAL)

    def forward(self, x):
        """The last layer's outputs (steps, batch, DECODER_WIDTH) and the final state as the
        decoder starts from it: a bidirectional GRU's h_n (2 layers, batch, hidden), directions
        interleaved, becomes (layers, batch, 2 hidden), each layer's directions side by side."""
        outputs, state = self.rnn(self.embedding(x.T))
        if BIDIRECTIONAL:
            state = torch.cat((state[0::2], state[1::2]), -1)
        return outputs, state


class Seq2SeqDecoder(nn.Module):
    """The input at every step is the token's embedding and the context: the encoder's final
    last-layer state, the same at every step."""

    def __init__(self):
        super().__init__()
        embed, hidden = CONFIG["embed_size"], DECODER_WIDTH
        self.embedding = nn.Embedding(CONFIG["tgt_vocab_size"], embed)
        self.rnn = nn.GRU(embed + hidden, hidden, CONFIG["num_layers"], dropout=CONFIG["dropout"])
        self.dense = nn.Linear(hidden, CONFIG["tgt_vocab_size"])

    def init_memory(self, outputs, state, src_valid):
        return state[-1]

    def forward(self, x, state, context):
        x = self.embedding(x.T)
        y, state = self.rnn(torch.cat((x, context.repeat(x.shape[0], 1, 1)), 2), state)
        return self.dense(y).permute(1, 0, 2), state


def masked_softmax(scores, valid):
    """d2l's masked_softmax: keys at or past each source's valid length score -1e6."""
    mask = torch.arange(scores.shape[-1], device=scores.device)[None, None, :] < valid[:, None, None]
    return F.softmax(scores.masked_fill(~mask, -1e6), dim=-1)


class AdditiveAttention(nn.Module):
    """d2l's AdditiveAttention (Bahdanau): w_v . tanh(W_q q + W_k k), no biases; in training the
    weights are dropped out before the weighted sum, as in d2l and rnnplay."""

    def __init__(self, hidden, dropout):
        super().__init__()
        self.W_k = nn.Linear(hidden, hidden, bias=False)
        self.W_q = nn.Linear(hidden, hidden, bias=False)
        self.w_v = nn.Linear(hidden, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid):
        features = torch.tanh(self.W_q(queries).unsqueeze(2) + self.W_k(keys).unsqueeze(1))
        self.attention_weights = masked_softmax(self.w_v(features).squeeze(-1), valid)
        return torch.bmm(self.dropout(self.attention_weights), values)


class DotProductAttention(nn.Module):
    """d2l's DotProductAttention: q . k / sqrt(d), its weights dropped out in training."""

    def __init__(self, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid):
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(queries.shape[-1])
        self.attention_weights = masked_softmax(scores, valid)
        return torch.bmm(self.dropout(self.attention_weights), values)


class Seq2SeqAttentionDecoder(nn.Module):
    """d2l 11.4's: at every step the previous top-layer state queries the encoder's outputs, and
    the context is concatenated before the token's embedding."""

    def __init__(self):
        super().__init__()
        embed, hidden = CONFIG["embed_size"], DECODER_WIDTH
        dropout = CONFIG["dropout"]
        additive = CONFIG["attention"] == "additive"
        self.attention = AdditiveAttention(hidden, dropout) if additive else DotProductAttention(dropout)
        self.embedding = nn.Embedding(CONFIG["tgt_vocab_size"], embed)
        self.rnn = nn.GRU(embed + hidden, hidden, CONFIG["num_layers"], dropout=CONFIG["dropout"])
        self.dense = nn.Linear(hidden, CONFIG["tgt_vocab_size"])

    def init_memory(self, outputs, state, src_valid):
        return outputs.permute(1, 0, 2), src_valid

    def forward(self, x, state, memory):
        enc_outputs, src_valid = memory
        outputs = []
        for x_t in self.embedding(x.T):
            query = state[-1].unsqueeze(1)
            context = self.attention(query, enc_outputs, enc_outputs, src_valid)
            y, state = self.rnn(torch.cat((context, x_t.unsqueeze(1)), -1).permute(1, 0, 2), state)
            outputs.append(y)
        return self.dense(torch.cat(outputs, 0)).permute(1, 0, 2), state


class EncoderDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Seq2SeqEncoder()
        self.decoder = Seq2SeqAttentionDecoder() if CONFIG.get("attention") else Seq2SeqDecoder()

    def forward(self, src, src_valid, dec_in, sampling=0.0):
        """Teacher forcing (`sampling` 0): the decoder reads <bos> and the true target; with
        scheduled sampling each later position reads the model's own previous prediction with
        probability `sampling`."""
        outputs, state = self.encoder(src)
        memory = self.decoder.init_memory(outputs, state, src_valid)
        if sampling == 0.0:
            return self.decoder(dec_in, state, memory)[0]
        outputs, x = [], dec_in[:, :1]
        for t in range(dec_in.shape[1]):
            if t > 0:
                own = outputs[-1].argmax(dim=2)
                coins = torch.rand(own.shape, device=own.device) < sampling
                x = torch.where(coins, own, dec_in[:, t : t + 1])
            y, state = self.decoder(x, state, memory)
            outputs.append(y)
        return torch.cat(outputs, dim=1)


def masked_ce(logits, labels, valid):
    """d2l's MaskedSoftmaxCELoss summed over the batch (what `l.sum().backward()` minimises),
    and the Σ cross-entropy of the valid tokens (for the per-token figure)."""
    ce = F.cross_entropy(logits.permute(0, 2, 1), labels, reduction="none")
    mask = (torch.arange(labels.shape[1], device=labels.device)[None, :] < valid[:, None]).float()
    total = (ce * mask).sum()
    return total / labels.shape[1], total.item()


def translate(net, sentence, device):
    """Greedy decoding as `rnnplay translate`: <bos>, then the model's own argmax, until <eos>
    or num_steps tokens."""
    ids, valid = truncate_pad(SRC_VOCAB, [t for t in preprocess_nmt(sentence.strip()).split(" ") if t])
    net.eval()
    with torch.no_grad():
        outputs, state = net.encoder(torch.tensor([ids], device=device))
        memory = net.decoder.init_memory(outputs, state, torch.tensor([valid], device=device))
        x, out = torch.tensor([[BOS]], device=device), []
        for _ in range(NUM_STEPS):
            y, state = net.decoder(x, state, memory)
            x = y.argmax(dim=2)
            if x.item() == EOS:
                break
            out.append(TGT_VOCAB[x.item()])
    net.train()
    return " ".join(out)


def beam_search(net, sentence, device, k, alpha):
    """d2l 10.8's beam search as `rnnplay translate --beam K --length-penalty A`: every step
    extends each kept hypothesis by every token and keeps the k most probable extensions (ties:
    the earlier hypothesis, then the lower token); one that ends with <eos> is finished and
    leaves the beam. The answer is the candidate (finished, or open after num_steps tokens) of
    highest log P / L^alpha, L its length counting its <eos>; the first of equal scores. With
    k = 1 this is `translate`. Returns (translation, score, log P)."""
    ids, valid = truncate_pad(SRC_VOCAB, [t for t in preprocess_nmt(sentence.strip()).split(" ") if t])
    net.eval()
    with torch.no_grad():
        outputs, state = net.encoder(torch.tensor([ids], device=device))
        memory = net.decoder.init_memory(outputs, state, torch.tensor([valid], device=device))

        def step(token, state):
            y, state = net.decoder(torch.tensor([[token]], device=device), state, memory)
            return F.log_softmax(y[0, -1].double(), -1).tolist(), state

        log_p, state = step(BOS, state)
        beam = [([], 0.0, state, log_p)]  # tokens, log P, decoder state, log P of the next token
        candidates = []  # tokens, log P, length
        for t in range(NUM_STEPS):
            extensions = [(lp + hyp[1], i, v) for i, hyp in enumerate(beam) for v, lp in enumerate(hyp[3])]
            extensions.sort(key=lambda e: (-e[0], e[1], e[2]))
            kept = []
            for lp, i, v in extensions[:k]:
                tokens = beam[i][0]
                if v == EOS:
                    candidates.append((tokens, lp, len(tokens) + 1))
                else:
                    kept.append((tokens + [v], lp, i))
            if not kept or t + 1 == NUM_STEPS:
                beam = kept
                break
            beam = [(tokens, lp, *step(tokens[-1], beam[i][2])[::-1]) for tokens, lp, i in kept]
        candidates += [(hyp[0], hyp[1], max(len(hyp[0]), 1)) for hyp in beam]
    net.train()
    best = None
    for tokens, lp, length in candidates:
        score = lp / length**alpha
        if best is None or score > best[1]:
            best = (tokens, score, lp)
    return " ".join(TGT_VOCAB[v] for v in best[0]), best[1], best[2]


def search_flags(parser):
    parser.add_argument("--beam", type=int, default=1, help="with --check: beam search keeping this many hypotheses (d2l 10.8; 1: greedy)")
    parser.add_argument("--length-penalty", type=float, default=0.75, help="with --check: alpha of beam search's score log P / L^alpha")


def main():
    args = command_line(SPEC["data"], "fra-eng, or a file of source<TAB>target lines (default: the run's)",
                        "print the loaded model's translation of this sentence and stop", search_flags)
    rank, world, device = start_processes(args)
    random.seed(SPEC["seed"])
    torch.manual_seed(SPEC["seed"] + rank)

    net = EncoderDecoder().to(device)
    tensors, metadata = read_safetensors(args.checkpoint)
    net.load_state_dict(tensors)
    if args.check is not None:
        if args.beam > 1:
            translation, score, log_p = beam_search(net, args.check, device, args.beam, args.length_penalty)
            print(json.dumps({"check": args.check, "translation": translation, "beam": args.beam,
                              "length_penalty": args.length_penalty, "score": score, "log_p": log_p}))
        else:
            print(json.dumps({"check": args.check, "translation": translate(net, args.check, device)}))
        return

    src, src_valid, tgt, valid = arrays(load_pairs(args.data))
    model = torch.nn.parallel.DistributedDataParallel(net) if args.ddp else net
    batch_size = SPEC["batch_size"]

    def batches(epoch):
        # rnnplay's ramp: from 0 in the first epoch to the spec's probability in the last.
        sampling = SPEC["scheduled_sampling"] * epoch / max(args.epochs - 1, 1)
        order = list(range(len(src)))
        random.shuffle(order)  # d2l's DataLoader(shuffle=True); the last batch may be smaller
        for i in range(0, len(order), batch_size):
            # With DDP each process trains its share of the batch's rows.
            if len(order[i : i + batch_size]) < world:
                continue  # too few rows to give every process one (all skip it alike)
            rows = torch.tensor(order[i : i + batch_size][rank::world])
            x, x_valid = src[rows].to(device), src_valid[rows].to(device)
            y, y_valid = tgt[rows].to(device), valid[rows].to(device)
            dec_in = torch.cat((torch.full((len(rows), 1), BOS, device=device), y[:, :-1]), 1)
            loss, ce = masked_ce(model(x, x_valid, dec_in, sampling), y, y_valid)
            yield loss, ce, y_valid.sum().item()

    def epoch_line(epoch, per_token_ce, grad_norm):
        return {"epoch": epoch, "per_token_ce": per_token_ce, "grad_norm": grad_norm}

    train_epochs(args, rank, net, batches, epoch_line)
    finish(args, rank, net, metadata)


if __name__ == "__main__":
    main()
