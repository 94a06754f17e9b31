"""Fixtures for the core pipeline tests: a small real fallback model trained in-process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from plugin.taxonomy import Taxonomy
from tflite_fallback.model import HashBagClassifier

sys.path.insert(0, str(Path(__file__).parent))  # for `import pii_corpus`

# A few hand-written tickets per category on top of the taxonomy's own examples, enough for a
# tiny model that is confident on clear tickets and unsure on vague ones.
EXTRA = {
    "billing": ["I was charged twice this month", "my card payment failed", "the invoice amount is wrong",
                "why is there an extra fee on my bill", "double charge on my credit card"],
    "refund": ["I want a refund", "refund my money please", "where is my refund", "I returned it, refund me",
               "money back for the damaged product"],
    "delivery": ["my package has not arrived", "where is my parcel", "delivery is late", "the courier lost my parcel",
                 "change the shipping address"],
    "order": ["cancel my order", "I want to change my order", "add an item to my order", "order status please",
              "modify the order I placed"],
    "account": ["I cannot log in", "reset my password", "delete my account", "change my email on my profile",
                "unsubscribe me from the newsletter"],
    "technical": ["the app keeps crashing", "error message when I open the website", "my card is not working",
                  "the page does not load", "the checkout button is broken"],
    "feedback": ["your service is terrible", "I want to complain", "great product, five stars",
                 "leave a review", "very unhappy with the support"],
    "contact": ["let me talk to a human", "I need a customer service agent", "what is your phone number",
                "connect me with a person", "how do I contact support"],
    "other": ["what is the weather", "tell me a joke", "do you sell gift cards in stores", "hello",
              "random question about nothing"],
}


@pytest.fixture(scope="session")
def tiny_fallback(tmp_path_factory: pytest.TempPathFactory) -> HashBagClassifier:
    from plugin.taxonomy import load_taxonomy

    tax = load_taxonomy()
    texts, labels = [], []
    for c in tax.categories:
        for t in [*c.examples, *EXTRA[c.name]]:
            texts.append(t)
            labels.append(c.name)
    model = HashBagClassifier(n_buckets=1 << 14, dim=16, epochs=60, calib_fraction=0.0, seed=0)
    return model.fit(texts * 3, labels * 3, classes=tax.names)


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_fallback: HashBagClassifier, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tiny-model")
    tiny_fallback.save(d)
    return d


@pytest.fixture
def default_taxonomy() -> Taxonomy:
    from plugin.taxonomy import load_taxonomy

    return load_taxonomy()
