"""Rebuild the bundled default model: ``python -m tflite_fallback.build_default [SHARED_DATA]``.

Training data (both licences allow shipping a model trained on them, with attribution):

* Bitext customer-support intents (CDLA-Sharing-1.0), ``category`` column mapped onto the default
  taxonomy through its ``source_labels``.
* ``other``: HWU64 home-assistant utterances (CC BY 4.0), i.e. off-topic requests, minus the
  scenarios that overlap support topics (takeaway orders, e-mail, currency). Without an ``other``
  class the softmax would have to spread off-topic text over real categories; with it, off-topic
  text gets a label the taxonomy already routes to review (``auto_apply = false``).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np

from plugin.datasets import Item, load_labelled, map_to_taxonomy
from plugin.taxonomy import load_taxonomy

from .calibration import expected_calibration_error
from .model import HashBagClassifier
from .vectors import VECTORS_FILE, build_vectors, write_vectors

DEFAULT_MODEL_DIR = Path(__file__).parent / "models" / "default"
OTHER_EXCLUDED_PREFIXES = ("takeaway_", "email_", "qa_currency", "lists_")
OTHER_TRAIN_ROWS = 1000
OTHER_VAL_ROWS = 200
DEFAULT_PARAMS = dict(n_buckets=1 << 14, dim=32, hidden=0, max_len=512, char_ngrams=(2, 5),
                      epochs=20, lr=0.02, init_scale=0.1, dropout=0.3, seed=0)


def _other_items(folder: Path, n: int, other: str, seed: int) -> list[Item]:
    items = [it for it in load_labelled(folder) if not it.label.startswith(OTHER_EXCLUDED_PREFIXES)]
    random.Random(seed).shuffle(items)
    return [Item(it.id, it.text, other) for it in items[:n]]


def build(shared_data: Path, out: Path = DEFAULT_MODEL_DIR) -> dict:
    """Train, calibrate, evaluate and save the default model; returns the metrics."""
    tax = load_taxonomy()
    bitext = shared_data / "bitext-customer-support"
    train = map_to_taxonomy(load_labelled(next(bitext.glob("*Training*.csv"))), tax)
    val = map_to_taxonomy(load_labelled(next(bitext.glob("*Validation*.csv"))), tax)
    train += _other_items(shared_data / "hwu64" / "train", OTHER_TRAIN_ROWS, tax.other, 0)
    val += _other_items(shared_data / "hwu64" / "valid", OTHER_VAL_ROWS, tax.other, 1)
    model = HashBagClassifier(**DEFAULT_PARAMS)
    model.fit([it.text for it in train], [it.label for it in train], classes=tax.names)
    probs = model.predict_proba([it.text for it in val])
    y = np.array([model.classes_.index(it.label) for it in val])
    metrics = {
        "validation_set": "Bitext validation split (810) + 200 HWU64 valid rows as `other`",
        "validation_accuracy": round(float((probs.argmax(1) == y).mean()), 4),
        "validation_ece": round(expected_calibration_error(probs, y), 4),
        "share_at_or_above_0.6": round(float((probs.max(1) >= 0.6).mean()), 4),
        "accuracy_at_or_above_0.6": round(float((probs.argmax(1) == y)[probs.max(1) >= 0.6].mean()), 4),
        "n_train": len(train),
    }
    model.save(out, metrics)
    vectors = build_vectors(model.featurizer.ids, model.predict_proba, model.classes_,
                            model.featurizer.to_dict(), model.version)
    write_vectors(out / VECTORS_FILE, vectors)
    (out / "MODEL_CARD.md").write_text(MODEL_CARD.format(model=model, m=metrics, p=DEFAULT_PARAMS,
                                                         n_other=OTHER_TRAIN_ROWS),
                                       "utf-8")
    return metrics


MODEL_CARD = """# Model card — bundled default fallback model

- Version: `{model.version}` (trained {model.trained_at_}; `config.json` → `version`)
- Task: classify a helpdesk ticket into the default taxonomy (`plugin/defaults/taxonomy.toml`):
  {model.classes_} (column order of `predict_proba`, `labels.txt`, `model.tflite` output).
- Architecture: hashed embedding bag (`{p[n_buckets]}` buckets × `{p[dim]}` dims, mean pooling of word
  uni/bigrams + char {p[char_ngrams]}-grams, featurizer `hashbag-v1`, see `../../FEATURIZER_SPEC.md`)
  → linear → softmax with temperature `{model.temperature_:.4f}` (fitted on a held-out 10 %).
- Rebuild: `python -m tflite_fallback.build_default ../shared/data` (seeded, deterministic
  except the date in the version), then `triage export --model tflite_fallback/models/default --format tflite`
  (writes `model.tflite` fp32, `model_int8.tflite`, `labels.txt`, `vectors.json`, `export.json`).

## Training data and licences
- Bitext customer-support intent dataset, training split (6,480 rows), `category` mapped through the
  taxonomy's `source_labels`. Licence: CDLA-Sharing-1.0 (github.com/bitext/customer-support-intent-detection-training-dataset @ e970229).
  CDLA-Sharing lets us publish results (a trained model) freely; redistributing the *data* would
  have to stay under CDLA-Sharing, and the data is not shipped.
- `other`: {n_other} HWU64 training utterances (home-assistant requests; licence CC BY 4.0, Liu et al.
  2019, github.com/xliuhw/NLU-Evaluation-Data), excluding scenarios that overlap support topics
  (takeaway, email, lists, qa_currency).

## Metrics (validation data never seen in training)
- {m[validation_set]}: accuracy **{m[validation_accuracy]}**, expected calibration error {m[validation_ece]}.
- Share with score ≥ 0.6: {m[share_at_or_above_0.6]}; accuracy on those: {m[accuracy_at_or_above_0.6]}.

## Limits
- Bitext is synthetic, English-only and easy (TF-IDF+LR scores ~100 % on it); real tickets are longer,
  noisier and multilingual, so expect lower accuracy in production. Retrain on your own labelled or
  LLM-labelled tickets (`triage label` → `triage train --soft`), see `docs/fallback.md`.
- `other` is learned from off-topic assistant commands, not from real "other" support tickets.
"""


if __name__ == "__main__":
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data"
    print(build(data))
