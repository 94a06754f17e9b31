import pytest

import pii_corpus
from plugin.redact import iban_valid, luhn_valid, redact

# Thresholds the generated corpus must meet; the bench prints the exact figures.
MIN_RECALL = 0.98
MAX_FP_RATE = 0.01


@pytest.fixture(scope="module")
def corpus_scores():
    pos, neg = pii_corpus.corpus(seed=7, per_kind=250, n_negative=1000)
    assert len(pos) + len(neg) >= 2500
    return pii_corpus.score(pos, neg, redact)


@pytest.mark.parametrize("kind", pii_corpus.PII_KINDS)
def test_recall_per_kind_on_generated_corpus(corpus_scores, kind):
    misses = [m for m in corpus_scores["misses"] if m[0] == kind][:5]
    assert corpus_scores["recall"][kind] >= MIN_RECALL, misses


def test_false_positive_rate_on_hard_negatives(corpus_scores):
    assert corpus_scores["fp_rate"] <= MAX_FP_RATE, corpus_scores["false_positives"][:5]


def test_issue_example():
    r = redact("I was charged twice for my order, card 4111 1111 1111 1111, call me on +1 415 555 0100")
    assert r.text == "I was charged twice for my order, card [CARD_1], call me on [PHONE_1]"
    assert r.counts == {"card": 1, "phone": 1}
    assert r.total == 2


def test_order_numbers_amounts_dates_survive():
    text = ("order #123456789 cost $1,200.50, order 113542617735902 shipped 2024-03-15 with tracking "
            "1Z999AA10123456784, app version 10.0.19045.3803, invoice INV-2024-00123")
    r = redact(text)
    assert r.text == text and r.counts == {}


def test_checksums_decide():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert redact("card 4111 1111 1111 1112").counts == {}
    assert iban_valid("DE89370400440532013000") and not iban_valid("DE89370400440532013001")
    assert redact("IBAN DE89 3704 0044 0532 0130 01").counts == {}
    assert redact("IBAN DE89 3704 0044 0532 0130 00 thanks").text == "IBAN [IBAN_1] thanks"


def test_each_kind_placeholder():
    r = redact("mail a.b@example.com, ssn 123-45-6789, ip 10.0.0.1 and fe80::1, key AKIAIOSFODNN7EXAMPLE, "
               "password: hunter22")
    assert r.text == "mail [EMAIL_1], ssn [SSN_1], ip [IP_1] and [IP_2], key [SECRET_1], password: [SECRET_2]"
    assert r.counts == {"email": 1, "ssn": 1, "ip": 2, "secret": 2}


def test_complaints_about_passwords_are_not_secrets():
    for text in ("my password is wrong", "the token expired yesterday", "Password reset is not working"):
        assert redact(text).text == text


def test_phone_regions_are_configurable():
    german = "Rufen Sie mich unter 030 1234567 an"
    assert redact(german, phone_regions=("DE",)).counts.get("phone") == 1
    assert "phone" not in redact(german, phone_regions=("US",)).counts


@pytest.mark.parametrize("text, number", [
    ("Please have the manager call me at 413 4270 today", "413 4270"),  # 7-digit local number
    ("How can we reach you? You can call 21 12 34", "21 12 34"),
    ("They're not answering at 5720745606", "5720745606"),  # unformatted, cued by the sentence
    ("Mobile: 39310532238", "39310532238"),
    ("02.64.62.52.37-Office", "02.64.62.52.37"),  # signature lines: the label follows the number
    ("66 65 76 fax", "66 65 76"),
    ("You can call +1-992-625-7005x7345", "7345"),  # the extension goes with the number
])
def test_phone_numbers_next_to_a_phone_cue_are_redacted_whatever_their_shape(text, number):
    out = redact(text)
    assert number not in out.text and out.counts.get("phone") == 1, out.text


@pytest.mark.parametrize("text", [
    "call me about order 12345 please",  # the cue is not next to the number
    "Your ticket 556677 was updated",
    "I was charged twice on 2024-03-15",
    "version 10 20 30 fixed it",
])
def test_short_numbers_without_an_adjacent_phone_cue_are_kept(text):
    assert redact(text).text == text


@pytest.mark.parametrize("text, value", [
    ("My NI number is AB 12 34 56 C", "34 56"),  # UK National Insurance number, any grouping
    ("codice fiscale RSSMRA85T10A562S", "RSSMRA85T10A562S"),
    ("CPF 529.982.247-25 no cadastro", "529.982.247-25"),  # check digits valid
    ("Mi DNI es 12345678Z", "12345678Z"),  # check letter valid
    ("His social security number is 142068212137514", "142068212137514"),  # French NIR after a keyword
    ("Here's my SSN: 952-84-1276", "952-84-1276"),  # not a valid US area, but the keyword says so
])
def test_national_ids_are_redacted(text, value):
    out = redact(text)
    assert value not in out.text and out.counts.get("ssn") == 1, out.text


@pytest.mark.parametrize("text", [
    "CPF 529.982.247-26 no cadastro",  # wrong check digit: not a CPF (nor anything else here)
    "Order 12345678A was split",  # wrong DNI letter
    "SKU ABCDEF12G34H567",  # not a codice fiscale shape
])
def test_id_lookalikes_with_failing_checks_are_kept(text):
    assert "ssn" not in redact(text).counts


def test_real_complaints_keep_amounts(shared_data):
    import csv

    path = shared_data / "cfpb-complaints-sample" / "complaints_small.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r["Consumer complaint narrative"] for r in csv.DictReader(fh) if r["Consumer complaint narrative"]][:300]
    changed = 0
    for text in rows:
        r = redact(text)
        changed += bool(r.counts)
        # Dollar amounts in the narratives ({$850.00}) are never redacted.
        for amount in [w for w in text.split() if w.startswith("{$")]:
            assert amount in r.text
    # CFPB already masks PII as XXXX, so what is redacted is over-redaction: company names the NER
    # model, the capitalised-name rule or the tagger's proper nouns take for people (Equifax,
    # Experian): the price of catching names the model misses (person recall 80 -> 90 % on public
    # text for 32 -> 36 % of these narratives touched). It must not grow.
    assert changed <= len(rows) * 0.38


def test_dotted_card_groups_are_cards_but_dotted_numbers_are_not():
    assert redact("card 4111.1111.1111.1111 was declined").counts == {"card": 1}
    assert redact("card 4111.1111.1111.1112 was declined").counts == {}  # fails Luhn
    for text in ("version 2024.1101.0001.0002", "total 1.234.567,89 EUR", "build 4111.1111.1111"):
        assert redact(text).text == text


# Address formats written the ways of many countries (forms from USPS Publication 28, the Universal
# Postal Union's address guides, and the FakeNameGenerator records shipped in presidio-evaluator).
ADDRESSES = [
    ("Send it to 4532 Drake Stream Suite 036, Lake Charleschester, NS L3X 2A4 please", "4532 Drake Stream Suite 036, Lake Charleschester, NS L3X 2A4"),
    ("It arrived at Dašická 855, Chrudim 3, PA 537 03 last night.", "Dašická 855, Chrudim 3, PA 537 03"),
    ("It is in Aðalstræti 49, Stokkseyri, 825", "Aðalstræti 49, Stokkseyri, 825"),
    ("write to rue de Normand, 81557 Saint Thibault. Thanks", "rue de Normand, 81557 Saint Thibault"),
    ("Address: Via Roma 41, Dusino San Michele, AT 14010", "Via Roma 41, Dusino San Michele, AT 14010"),
    ("new address: Viale Panfilo, 166, 25024, Porzano (BS)", "Viale Panfilo, 166, 25024, Porzano (BS)"),
    ("Please return to ul. Nad Jarem 22, Gdańsk, 80-148 in case", "ul. Nad Jarem 22, Gdańsk, 80-148"),
    ("Meet me at H.No. 99, Pai, Indore-561711", "H.No. 99, Pai, Indore-561711"),
    ("Please return to Grazer Strasse 96, HAREDING, OO 4741 in case", "Grazer Strasse 96, HAREDING, OO 4741"),
    ("> Mary\n> 36 Thingvallastraeti\n> Apt. 035\n> Akureyri", "36 Thingvallastraeti\n> Apt. 035\n> Akureyri"),
    ("the corner of Michaelkirchstr. and the park", "Michaelkirchstr."),
]


@pytest.mark.parametrize("text, address", ADDRESSES)
def test_addresses_of_many_countries_are_redacted_with_their_city_and_postcode(text, address):
    out = redact(text, entities=["address"])
    assert out.counts.get("address") == 1, out.text
    assert out.text == text.replace(address, "[ADDRESS_1]")


def test_a_city_named_in_an_address_is_redacted_where_it_appears_again():
    out = redact("Send a new card to Spittelwiese 77, Vierhöfen, NO 4193? I am in Vierhöfen now", entities=["address"])
    assert "Vierhöfen" not in out.text and out.text.endswith("I am in [ADDRESS_2] now")


@pytest.mark.parametrize("text", [
    "under 15 USC 1692 et seq. they must validate", "a check from my employer of 20 years at Wells Fargo",
    "Invoice 2231, Amount 500", "I had 2 tests to run", "version 5 String parse error",
    "they route 3 calls a day to me", "sent via DHL 12345 yesterday", "6 months is close to 30 %",
    "Order 12345, shipped 2023-04-01", "12 CFR Part 1022, App. B",
])
def test_numbers_next_to_words_that_look_like_streets_are_kept(text):
    assert redact(text, entities=["address"]).text == text


@pytest.mark.parametrize("text, name", [
    ("Ksenia, can I please speak to your boss?", "Ksenia"),  # the NER model calls her a place
    ("Why is Pierpaolo so impulsive?", "Pierpaolo"),
    ("Korneli shouted at the courier again", "Korneli"),  # a capital at a sentence start
])
def test_proper_nouns_the_ner_model_misses_are_names(text, name):
    out = redact(text, entities=["person"])
    assert name not in out.text and out.counts == {"person": 1}


@pytest.mark.parametrize("text", [
    "Barcode 4.10.89 on the box does not match", "Barcode $565.42 on the box does not match",
    "Order ORD-1234 has not arrived", "Delivery was promised for Monday", "Payment failed twice",
    "My iPhone will not sync with Outlook", "I use Chrome on Linux",
])
def test_labels_dates_and_english_proper_nouns_are_not_names(text):
    assert redact(text, entities=["person"]).text == text
