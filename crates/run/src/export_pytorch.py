"""Continue an rnnplay run on PyTorch: __DESCRIBE__.

Written by `rnnplay export --pytorch` from __CHECKPOINT_NAME__ (__EPOCHS__ epoch(s) trained). The
same model (torch.nn, the checkpoint's parameter names), data pipeline (d2l's cleaning and
tokenization, the run's vocabulary, sampling, validation split), mean cross-entropy,
global-norm clipping, optimizer and learning-rate schedule as the rnnplay run, in the style of
d2l's `train_ch8`; it loads the checkpoint's weights and trains on.

    python3 run.py                              # on from the checkpoint, CPU or one GPU
    python3 run.py --check "the time traveller" # the loaded model's perplexity on a text
    torchrun --nproc_per_node 4 run.py --ddp    # DistributedDataParallel, one GPU per process

--save F.safetensors writes the weights with the checkpoint's metadata, so `rnnplay predict`
and `rnnplay inspect` read them. Needs only torch.
"""

__COMMON__

# The language model's: the vocabulary it trained with, and whether its tokens are characters or
# words.
VOCAB = json.loads(__VOCAB__)
TOKENS = __TOKENS__
# A generated corpus (the recall task) is carried here; any other is read from its file.
TEXT = json.loads(__TEXT__)


def load_corpus(path):
    """d2l's read_time_machine + tokenize, mapped through the run's vocabulary (unknown
    tokens are <unk>, index 0), the first max_tokens kept."""
    text = TEXT if TEXT is not None else pathlib.Path(path).read_text()
    lines = [re.sub("[^A-Za-z]+", " ", line).strip().lower() for line in text.splitlines()]
    tokens = [t for line in lines for t in (line.split() if TOKENS == "word" else list(line))]
    index = {t: i for i, t in enumerate(VOCAB)}
    corpus = [index.get(t, 0) for t in tokens]
    if SPEC["max_tokens"] > 0:
        corpus = corpus[: SPEC["max_tokens"]]
    valid_len = round(len(corpus) * SPEC["valid_fraction"])
    return corpus[: len(corpus) - valid_len], corpus[len(corpus) - valid_len :]


def seq_data_iter_random(corpus, batch_size, num_steps):
    """d2l 9.3: random subsequences, a random offset each epoch."""
    corpus = corpus[random.randint(0, num_steps - 1) :]
    starts = list(range(0, (len(corpus) - 1) // num_steps * num_steps, num_steps))
    random.shuffle(starts)
    for i in range(0, len(starts) // batch_size * batch_size, batch_size):
        rows = starts[i : i + batch_size]
        yield torch.tensor([corpus[j : j + num_steps] for j in rows]), torch.tensor([corpus[j + 1 : j + 1 + num_steps] for j in rows])


def seq_data_iter_sequential(corpus, batch_size, num_steps):
    """d2l 9.3: adjacent minibatches continue each other, a random offset each epoch."""
    offset = random.randint(0, num_steps)
    n = (len(corpus) - offset - 1) // batch_size * batch_size
    xs = torch.tensor(corpus[offset : offset + n]).reshape(batch_size, -1)
    ys = torch.tensor(corpus[offset + 1 : offset + 1 + n]).reshape(batch_size, -1)
    for i in range(0, xs.shape[1] // num_steps * num_steps, num_steps):
        yield xs[:, i : i + num_steps], ys[:, i : i + num_steps]


class RNNModel(nn.Module):
    """d2l's RNNModel: an embedding (or one-hot input), stacked nn.RNN/GRU/LSTM layers with
    dropout between them, and a Linear head (`dense`) on every step's output."""

    def __init__(self):
        super().__init__()
        cell = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[CONFIG["cell"]]
        self.vocab_size = CONFIG["vocab_size"]
        embedding = CONFIG.get("embedding_dim")
        if embedding:
            self.embedding = nn.Embedding(self.vocab_size, embedding)
        self.directions = 2 if CONFIG.get("bidirectional") else 1
        self.rnn = cell(embedding or self.vocab_size, CONFIG["hidden_size"], CONFIG["num_layers"],
                        dropout=CONFIG["dropout"], bidirectional=self.directions == 2)
        self.dense = nn.Linear(self.directions * CONFIG["hidden_size"], self.vocab_size)

    def forward(self, x, state):
        x = x.T.long()
        inputs = self.embedding(x) if hasattr(self, "embedding") else F.one_hot(x, self.vocab_size).float()
        y, state = self.rnn(inputs, state)
        return self.dense(y.reshape(-1, y.shape[-1])), state

    def begin_state(self, batch_size, device):
        shape = (self.directions * CONFIG["num_layers"], batch_size, CONFIG["hidden_size"])
        zeros = torch.zeros(shape, device=device)
        return (zeros, zeros.clone()) if CONFIG["cell"] == "lstm" else zeros


class ScratchModel(nn.Module):
    """d2l's from-scratch RNN, GRU or LSTM (chapters 9.5, 10.1, 10.2): one-hot input, one
    layer, the parameters by d2l's names (W_x*, W_h*, b_* per gate, then W_hq, b_q)."""

    GATES = {"rnn": ["h"], "gru": ["z", "r", "h"], "lstm": ["i", "f", "o", "c"]}

    def __init__(self):
        super().__init__()
        self.vocab_size, hidden = CONFIG["vocab_size"], CONFIG["hidden_size"]
        for g in self.GATES[CONFIG["cell"]]:
            self.register_parameter(f"W_x{g}", nn.Parameter(torch.zeros(self.vocab_size, hidden)))
            self.register_parameter(f"W_h{g}", nn.Parameter(torch.zeros(hidden, hidden)))
            self.register_parameter(f"b_{g}", nn.Parameter(torch.zeros(hidden)))
        self.W_hq = nn.Parameter(torch.zeros(hidden, self.vocab_size))
        self.b_q = nn.Parameter(torch.zeros(self.vocab_size))

    def gate(self, g, x, h):
        return x @ getattr(self, f"W_x{g}") + h @ getattr(self, f"W_h{g}") + getattr(self, f"b_{g}")

    def forward(self, x, state):
        inputs = F.one_hot(x.T.long(), self.vocab_size).float()
        cell, outputs = CONFIG["cell"], []
        h, c = (state if cell == "lstm" else (state, None))
        for x in inputs:
            if cell == "rnn":
                h = torch.tanh(self.gate("h", x, h))
            elif cell == "gru":
                z, r = torch.sigmoid(self.gate("z", x, h)), torch.sigmoid(self.gate("r", x, h))
                h_tilde = torch.tanh(x @ self.W_xh + (r * h) @ self.W_hh + self.b_h)
                h = z * h + (1 - z) * h_tilde
            else:
                i, f, o = (torch.sigmoid(self.gate(g, x, h)) for g in "ifo")
                c = f * c + i * torch.tanh(self.gate("c", x, h))
                h = o * torch.tanh(c)
            outputs.append(h @ self.W_hq + self.b_q)
        return torch.cat(outputs, dim=0), ((h, c) if cell == "lstm" else h)

    def begin_state(self, batch_size, device):
        zeros = torch.zeros((batch_size, CONFIG["hidden_size"]), device=device)
        return (zeros, zeros.clone()) if CONFIG["cell"] == "lstm" else zeros


def detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def evaluate(net, corpus, device, batch_size, num_steps):
    """Perplexity of `corpus` with the state carried through it (sequential minibatches)."""
    net.eval()
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for x, y in seq_data_iter_sequential(corpus, batch_size, num_steps):
            state = net.begin_state(x.shape[0], device) if state is None else state
            y_hat, state = net(x.to(device), state)
            total += F.cross_entropy(y_hat, y.T.reshape(-1).to(device), reduction="sum").item()
            count += y.numel()
    net.train()
    return math.exp(total / max(count, 1))


def main():
    args = command_line(None, "the text to train on (default: the run's)", "print the loaded model's perplexity on this text and stop")
    rank, world, device = start_processes(args)
    random.seed(SPEC["seed"] + rank)
    torch.manual_seed(SPEC["seed"])

    net = (ScratchModel() if CONFIG["scratch"] else RNNModel()).to(device)
    tensors, metadata = read_safetensors(args.checkpoint)
    net.load_state_dict({name: tensor for name, tensor in tensors.items()})

    if args.check is not None:
        index = {t: i for i, t in enumerate(VOCAB)}
        text = re.sub("[^A-Za-z]+", " ", args.check).strip().lower()
        ids = [index.get(t, 0) for t in (text.split() if TOKENS == "word" else list(text))]
        net.eval()
        with torch.no_grad():
            x = torch.tensor([ids[:-1]], device=device)
            y_hat, _ = net(x, net.begin_state(1, device))
            loss = F.cross_entropy(y_hat, torch.tensor(ids[1:], device=device)).item()
        print(json.dumps({"check": args.check, "perplexity": math.exp(loss)}))
        return

    data = args.data or SPEC["data"]
    if data == "timemachine":
        data = pathlib.Path(os.environ.get("RNNPLAY_DATA_DIR", pathlib.Path.home() / ".cache/rnnplay")) / "timemachine.txt"
    train, valid = load_corpus(data)
    model = torch.nn.parallel.DistributedDataParallel(net) if args.ddp else net
    batch_size, num_steps = SPEC["batch_size"], SPEC["num_steps"]
    iterate = seq_data_iter_random if SPEC["sampling"] == "random" else seq_data_iter_sequential

    def batches(epoch):
        state = None
        for x, y in iterate(train, batch_size, num_steps):
            # With DDP each process trains its share of the batch's rows.
            x, y = x[rank::world].to(device), y[rank::world].to(device)
            if state is None or SPEC["sampling"] == "random":
                state = net.begin_state(x.shape[0], device)
            else:
                state = detach(state)
            y_hat, state = model(x, state)
            loss = F.cross_entropy(y_hat, y.T.reshape(-1))
            yield loss, loss.item() * y.numel(), y.numel()

    def epoch_line(epoch, mean_loss, grad_norm):
        line = {"epoch": epoch, "perplexity": math.exp(mean_loss), "grad_norm": grad_norm}
        if valid:
            line["valid_perplexity"] = evaluate(net, valid, device, batch_size, num_steps)
        return line

    train_epochs(args, rank, net, batches, epoch_line)
    finish(args, rank, net, metadata)


if __name__ == "__main__":
    main()
