"""Adapt the rubric's sentence encoder (all-MiniLM-L6-v2) to the rubric's items: low-rank adapters.

    make train        # builds the training venv, exports the sentences, runs this, retrains the rubric
    .venv-train/bin/python scripts/train_encoder.py --sentences S.jsonl --model-dir DIR --out F.npz

Frozen MiniLM places "I won't ask you to calm down" next to "calm down" and a brush-off next to a
reassurance: its vectors were trained to say what a sentence is about, not what it does to the
customer. This script trains LoRA adapters (rank ``RANK``) on the query, value and feed-forward
matrices of its top layers (``ADAPTED``) at the sentence level, where the items live: each labelled sentence
(scripts/train_rubric.py --export-sentences: the units of the labelled answers, the contrast
pairs, the rubric's examples and counter-examples) through a temporary sigmoid head, one output
per item, with a binary cross-entropy over the items the sentence is known to carry or not carry;
and, SetFit-style, the cosine similarity of every two sentences in a batch pulled towards 1 when
they carry the same item and towards 0 when one carries an item the other is known not to. The
head is thrown away: the kiosk's nearest-neighbour matcher and learned layer read the adapted
vectors. Only the adapters are written (float16, a few hundred kB), merged into the packaged weights
at load time by analysis/semantic.py, which runs them in numpy: no torch at run time.

It needs PyTorch (CPU), which the kiosk does not: run it in its own venv (`make train`). Seeds
are fixed, so a rerun on the same data and threads gives the same file up to float rounding.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer

RANK = 8
"""Adapter rank: about 300 k trainable numbers against MiniLM's 22 M, enough to move the few
directions the items need without forgetting what the examples' nearness rests on."""
ALPHA = 16.0
"""LoRA scale numerator: the update is (ALPHA / RANK) · B A."""
TARGETS = ("attention.self.query", "attention.self.value", "intermediate.dense", "output.dense")
"""The matrices adapted in each layer (``output.dense`` is the feed-forward's second matrix)."""
ADAPTED = (4, 5)
"""The layers given adapters: the top two of six. The four below are unchanged, so each
sentence's states after them are computed once, and an epoch costs about a third of tuning the
whole model (adapters on all six layers needed about 4 s of CPU per batch of 32 here: 40 minutes
for three epochs on the kiosk's two cores, most of the time budget)."""
EPOCHS = 2
BATCH = 32
LEARNING_RATE = 5e-4
CONTRAST_WEIGHT = 1.0
"""Weight of the pairwise cosine term against the head's cross-entropy."""
HEAD_SCALE = 20.0
"""The head reads the unit vector times this (cosine-like logits, as the kiosk compares them)."""
MAX_TOKENS = 128
LAYERS, HEADS, WIDTH = 6, 12, 384


class Lora(torch.nn.Module):
    """A frozen linear layer plus a trainable low-rank update (B starts at zero: step 0 is MiniLM)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.weight, self.bias = weight, bias
        self.a = torch.nn.Parameter(torch.randn(RANK, weight.shape[1]) * (1.0 / weight.shape[1]) ** 0.5)
        self.b = torch.nn.Parameter(torch.zeros(weight.shape[0], RANK))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.T + self.bias + (x @ self.a.T) @ self.b.T * (ALPHA / RANK)


class MiniLM(torch.nn.Module):
    """BERT as analysis/semantic.py runs it (mean pooling, unit length), with adapters."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.t = tensors
        self.adapters = torch.nn.ModuleDict()
        for i in ADAPTED:
            for name in TARGETS:
                key = f"encoder.layer.{i}.{name}"
                self.adapters[key.replace(".", "_")] = Lora(tensors[key + ".weight"], tensors[key + ".bias"])

    def _linear(self, key: str, x: torch.Tensor) -> torch.Tensor:
        adapter = self.adapters[key.replace(".", "_")] if key.replace(".", "_") in self.adapters else None
        if adapter is not None:
            return adapter(x)
        return x @ self.t[key + ".weight"].T + self.t[key + ".bias"]

    def _norm(self, key: str, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.layer_norm(x, (WIDTH,), self.t[key + ".weight"], self.t[key + ".bias"], 1e-12)

    @torch.no_grad()
    def lower(self, ids: torch.Tensor) -> torch.Tensor:
        """One sentence's token states below the first adapted layer (they never change)."""
        t, n = self.t, ids.shape[1]
        x = (
            t["embeddings.word_embeddings.weight"][ids]
            + t["embeddings.position_embeddings.weight"][:n]
            + t["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm("embeddings.LayerNorm", x)
        return self._layers(x, torch.ones(ids.shape), range(ADAPTED[0]))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unit sentence vectors from the padded lower states ``x`` (batch, tokens, width)."""
        x = self._layers(x, mask, range(ADAPTED[0], LAYERS))
        v = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
        return torch.nn.functional.normalize(v, dim=1)

    def _layers(self, x: torch.Tensor, mask: torch.Tensor, layers: range) -> torch.Tensor:
        n = x.shape[1]
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        d = WIDTH // HEADS
        for i in layers:
            p = f"encoder.layer.{i}."
            q, k, v = (self._linear(p + f"attention.self.{m}", x) for m in ("query", "key", "value"))
            q, k, v = (m.view(m.shape[0], n, HEADS, d).transpose(1, 2) for m in (q, k, v))
            s = torch.softmax(q @ k.transpose(-1, -2) / d**0.5 + bias, dim=-1)
            ctx = (s @ v).transpose(1, 2).reshape(x.shape[0], n, WIDTH)
            x = self._norm(p + "attention.output.LayerNorm", x + self._linear(p + "attention.output.dense", ctx))
            h = torch.nn.functional.gelu(self._linear(p + "intermediate.dense", x), approximate="tanh")
            x = self._norm(p + "output.LayerNorm", x + self._linear(p + "output.dense", h))
        return x


def load_sentences(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r["pos"] or r["neg"]]


def batches(rows: list[dict], rng: random.Random) -> list[list[dict]]:
    order = rows[:]
    rng.shuffle(order)
    return [order[i : i + BATCH] for i in range(0, len(order), BATCH)]


def tensors_for(batch: list[dict], states: dict[str, torch.Tensor], items: list[str]) -> tuple[torch.Tensor, ...]:
    """The batch's lower states padded into one tensor, its mask, and the item targets with the
    mask of which targets are known."""
    lower = [states[r["text"]] for r in batch]
    n = max(len(e) for e in lower)
    x = torch.zeros(len(batch), n, WIDTH)
    mask = torch.zeros(len(batch), n)
    for i, e in enumerate(lower):
        x[i, : len(e)] = e
        mask[i, : len(e)] = 1.0
    column = {item: k for k, item in enumerate(items)}
    target = torch.zeros(len(batch), len(items))
    known = torch.zeros(len(batch), len(items))
    for i, r in enumerate(batch):
        for item in r["pos"]:
            target[i, column[item]], known[i, column[item]] = 1.0, 1.0
        for item in r["neg"]:
            known[i, column[item]] = 1.0
    return x, mask, target, known


def pair_loss(vectors: torch.Tensor, target: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """SetFit's cosine loss over every pair in the batch that the labels decide: 1 when the two
    carry an item in common, 0 when one carries an item the other is known not to carry."""
    cos = vectors @ vectors.T
    shared = (target @ target.T) > 0
    lacks = known * (1 - target)
    opposed = ((target @ lacks.T) + (lacks @ target.T) > 0) & ~shared
    eye = torch.eye(len(vectors), dtype=torch.bool)
    pos, neg = shared & ~eye, opposed & ~eye
    if not pos.any() and not neg.any():
        return vectors.sum() * 0.0
    terms = []
    if pos.any():
        terms.append(((1 - cos[pos]) ** 2).sum())
    if neg.any():
        terms.append((cos[neg].clamp(min=0) ** 2).sum())
    return sum(terms) / (pos.sum() + neg.sum())


def save_adapters(model: MiniLM, path: Path) -> None:
    """Per adapted matrix, its B and A (float16) under the matrix's name; the scale rides along."""
    arrays = {"format": np.array(1), "scale": np.array(ALPHA / RANK, np.float32)}
    for key, adapter in model.adapters.items():
        name = key.replace("_", ".")
        arrays[f"{name}.b"] = adapter.b.detach().numpy().astype(np.float16)
        arrays[f"{name}.a"] = adapter.a.detach().numpy().astype(np.float16)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=Path, required=True, help="from scripts/train_rubric.py --export-sentences")
    ap.add_argument("--model-dir", type=Path, required=True, help="the packaged MiniLM folder (model.safetensors)")
    ap.add_argument("--out", type=Path, required=True, help="the adapter file to write (.npz)")
    ap.add_argument("--hold-out", default="", help="comma-separated scenarios to leave out (cross-validation)")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        rows = load_sentences(args.sentences)
        tensors = load_file(str(args.model_dir / "model.safetensors"))
        tokenizer = Tokenizer.from_file(str(args.model_dir / "tokenizer.json"))
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        print(f"error: cannot read the training inputs: {exc}", file=sys.stderr)
        return 2
    held = {s for s in args.hold_out.split(",") if s}
    rows = [r for r in rows if r["scenario"] not in held]
    tensors = {k: v.float() for k, v in tensors.items()}
    # One thread: on a shared 2-core machine torch's second OpenMP thread spins waiting for a
    # core and made each step several times slower, as BLAS threads did for the kiosk's encoder.
    torch.set_num_threads(1)
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    items = sorted({i for r in rows for i in (*r["pos"], *r["neg"])})
    model = MiniLM(tensors)
    started = time.monotonic()
    states = {r["text"]: model.lower(torch.tensor([tokenizer.encode(r["text"]).ids]))[0] for r in rows}
    print(f"  lower layers of {len(states)} sentences: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    head = torch.nn.Linear(WIDTH, len(items))
    params = [*model.adapters.parameters(), *head.parameters()]
    optimiser = torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=0.01)
    plan = [batches(rows, rng) for _ in range(args.epochs)]
    steps, step = sum(len(p) for p in plan), 0
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / 50) * max(0.0, 1 - s / steps))
    for epoch, epoch_batches in enumerate(plan):
        total = 0.0
        for batch in epoch_batches:
            x, mask, target, known = tensors_for(batch, states, items)
            vectors = model(x, mask)
            logits = head(vectors * HEAD_SCALE)
            bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, weight=known, reduction="sum")
            loss = bce / known.sum().clamp(min=1) + CONTRAST_WEIGHT * pair_loss(vectors, target, known)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item()
            step += 1
            if step % 50 == 0:
                print(
                    f"  step {step}/{steps}, loss {total / (step - sum(len(p) for p in plan[:epoch])):.4f}, "
                    f"{time.monotonic() - started:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
        print(f"epoch {epoch + 1}: mean loss {total / len(epoch_batches):.4f}", file=sys.stderr, flush=True)
    save_adapters(model, args.out)
    print(
        f"wrote {args.out}: rank {RANK} adapters on {len(model.adapters)} matrices, "
        f"{len(rows)} sentences, {args.epochs} epochs, {time.monotonic() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
