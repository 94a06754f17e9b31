"""One ticket in, one ``Result`` out: normalize → redact → budget → (llm | fallback) → decide.

The pipeline holds only read-only state (taxonomy, model, index, an HTTP client that is itself
thread-safe), so webhook workers and the HTTP endpoint share one instance across threads.
Whatever goes wrong with the LLM, the fallback answers and ``Result.reason`` says why; the label
is always a taxonomy category.
"""

from __future__ import annotations

import logging
import time
from typing import Literal, Protocol, Sequence

import numpy as np

from .budget import budget_end, count_tokens, truncate
from .config import Settings
from .decide import decide
from .exceptions import ConfigError, LLMError
from .llm import LLMClassifier, LLMOutcome, build_client
from .normalize import normalize_bounded
from .prompting import DEFAULT_TEMPLATE, Example, Prompt, render
from .redact import DEFAULT_ENTITIES, DEFAULT_PHONE_REGIONS, Redaction, check_entities, redact
from .result import ClassifierSource, Decision, LabelScore, Result, ScoreSource
from .taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger(__name__)

Mode = Literal["auto", "llm", "fallback", "cascade"]
SUBJECT_TOKEN_BUDGET = 48  # subjects are short; a pasted body in the subject must not eat the budget
RANKING_SIZE = 5
# Redaction reads this far past the token cut, so a value that straddles the cut (an e-mail address,
# a card number, a name) is seen whole and replaced whole; longer values (private keys) run to the
# end of what is read and are replaced to there.
SCAN_MARGIN_CHARS = 256


class FallbackModel(Protocol):
    """What the pipeline needs from the offline model (``plugin.fallback``)."""

    classes_: list[str]
    version: str

    def assess(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities, and whether each text is like the model's training tickets."""


class Retriever(Protocol):
    """Finds labelled, redacted examples similar to a ticket (``plugin.retrieval``)."""

    def search(self, text: str, k: int) -> list[Example]: ...


class Pipeline:
    """Classify tickets against a taxonomy.

    Args:
        taxonomy: the admin's categories and thresholds.
        fallback: the offline model; its classes outside the taxonomy count as ``taxonomy.other``.
        llm: an LLM classifier, or None when no endpoint is configured.
        mode: ``auto`` (LLM if present), ``llm``, ``fallback`` or ``cascade`` (fallback first,
            LLM only when the fallback's calibrated score is below ``cascade_threshold``).
        template: prompt template name or path.
        token_budget: ticket tokens kept (the start of the ticket).
        retriever: few-shot example source for LLM prompts, optional.
        fewshot_k / fewshot_token_budget: how many retrieved examples, and their total tokens.
    """

    def __init__(self, taxonomy: Taxonomy, fallback: FallbackModel, *, llm: LLMClassifier | None = None,
                 mode: Mode = "auto", template: str = DEFAULT_TEMPLATE, token_budget: int = 512,
                 encoding: str = "cl100k_base", cascade_threshold: float = 0.9,
                 retriever: Retriever | None = None, fewshot_k: int = 12, fewshot_token_budget: int = 1200,
                 phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
                 redact_entities: Sequence[str] = DEFAULT_ENTITIES) -> None:
        if mode == "llm" and llm is None:
            raise ConfigError("classifier = 'llm' needs an LLM endpoint (TRIAGE_LLM_MODEL and a base URL or key)")
        self.taxonomy = taxonomy
        self.fallback = fallback
        self.llm = llm
        self.mode: Mode = mode
        self.template = template
        self.token_budget = token_budget
        self.encoding = encoding
        self.cascade_threshold = cascade_threshold
        self.retriever = retriever
        self.fewshot_k = fewshot_k
        self.fewshot_token_budget = fewshot_token_budget
        self.phone_regions = tuple(phone_regions)
        self.redact_entities = check_entities(redact_entities)
        self._columns = self._map_classes(list(fallback.classes_))
        self._system_tokens: dict[str, int] = {}
        render(template, taxonomy, "")  # fail at start-up, not on the first ticket, if the template is bad

    @classmethod
    def from_settings(cls, settings: Settings, *, taxonomy: Taxonomy | None = None,
                      fallback: FallbackModel | None = None, retriever: Retriever | None = None) -> "Pipeline":
        """Build everything the settings describe; the OpenAI client only if an LLM is configured."""
        taxonomy = taxonomy or load_taxonomy(settings.taxonomy)
        if fallback is None:
            from .fallback import load_fallback  # imported late: loading a model is the slow part

            from .registry import active_model_dir  # a model promoted by `triage retrain`, if any

            fallback = load_fallback(active_model_dir(settings))
        llm = None
        if settings.llm_configured and settings.classifier != "fallback":
            key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
            client = build_client(settings.llm_base_url, key, settings.llm_timeout_s)
            llm = LLMClassifier(client, settings.llm_model or "", taxonomy.names,
                                max_retries=settings.llm_max_retries, use_logprobs=settings.llm_use_logprobs,
                                response_format=settings.llm_response_format)
        if retriever is None and llm is not None and settings.fewshot_k > 0:
            from .retrieval import load_retriever_for  # optional: no index, no few-shot examples

            retriever = load_retriever_for(settings)
        return cls(taxonomy, fallback, llm=llm, mode=settings.classifier, template=settings.prompt_template,
                   token_budget=settings.token_budget, encoding=settings.encoding,
                   cascade_threshold=settings.cascade_threshold, retriever=retriever,
                   fewshot_k=settings.fewshot_k, fewshot_token_budget=settings.fewshot_token_budget,
                   phone_regions=settings.phone_regions, redact_entities=settings.redact_entities)

    # --- the one public operation ----------------------------------------------------------------
    def classify(self, text: str, subject: str | None = None) -> Result:
        """Classify one ticket body (plain text or HTML) with an optional subject line."""
        started = time.perf_counter()
        model_input, ticket, subj_text, query, base = self._prepare(text, subject)
        mode = self.mode if self.mode != "auto" else ("llm" if self.llm else "fallback")

        if mode == "fallback" or self.llm is None:
            why = {"fallback": "fallback (classifier = fallback)", "auto": "fallback: no llm configured"}.get(
                self.mode, f"{self.mode}: no llm configured; fallback answered")
            prompt = render(self.template, self.taxonomy, ticket, subject=subj_text)
            return self._fallback_result(model_input, base, why, self._prompt_tokens(prompt),
                                         None, prompt.version, started)

        assessment = None
        if mode == "cascade":
            assessment = self._fallback_assessment(model_input)
            top, familiar = assessment[0][0], assessment[1]
            if top.score >= self.cascade_threshold and familiar:
                prompt = render(self.template, self.taxonomy, ticket, subject=subj_text)
                why = f"cascade: fallback confident ({top.score:.2f} >= {self.cascade_threshold:.2f})"
                return self._fallback_result(model_input, base, why, self._prompt_tokens(prompt),
                                             assessment, prompt.version, started)

        prompt = render(self.template, self.taxonomy, ticket, subject=subj_text, examples=self._examples(query))
        try:
            outcome = self.llm.classify(prompt)
        except Exception as exc:  # noqa: BLE001 - any LLM trouble must end in the fallback, never a crash
            if not isinstance(exc, LLMError):
                log.exception("unexpected error from the LLM client")
                exc = LLMError("unexpected", repr(exc)[:200])
            prefix = "cascade: fallback unsure, " if mode == "cascade" else ""
            why = f"{prefix}llm failed: {exc.kind} after {exc.attempts} attempt(s); fallback answered"
            log.warning("llm failed (%s); using the fallback", exc.kind)
            result = self._fallback_result(model_input, base, why, exc.prompt_tokens, assessment,
                                           prompt.version, started)
            result.completion_tokens = exc.completion_tokens
            result.llm_called = True  # the request was made; its tokens (if any) were spent
            return result
        why = "llm" if mode != "cascade" else self._cascade_reason(assessment)
        return self._llm_result(outcome, base, why, prompt, started)

    def llm_prompt_tokens(self, text: str, subject: str | None = None) -> int | None:
        """Prompt tokens an LLM call for this ticket would send, retrieved examples included
        (counted locally with tiktoken, plus the chat framing; no request is made). None when no
        LLM is configured.

        Evaluation uses it to estimate what LLM-only classification of the tickets that the
        fallback answered would have cost (``triage eval --classifier cascade``).
        """
        if self.llm is None:
            return None
        _, ticket, subj_text, query, _ = self._prepare(text, subject)
        prompt = render(self.template, self.taxonomy, ticket, subject=subj_text, examples=self._examples(query))
        # + the chat format's framing: about 3 tokens per message and 3 priming the reply (OpenAI's
        # documented count for its chat models), so the estimate matches reported usage closely
        return self._prompt_tokens(prompt) + 3 * len(prompt.messages) + 3

    # --- helpers ---------------------------------------------------------------------------------
    def _prepare(self, text: str, subject: str | None) -> tuple[str, str, str | None, str, dict]:
        """Normalize, redact and truncate: (model input, ticket, subject, retrieval query, Result fields)."""
        clean_body, body_cut = normalize_bounded(text or "")
        clean_subject = normalize_bounded(subject)[0] if subject else ""
        body, ticket, truncated = self._redact_within_budget(clean_body, self.token_budget)
        subj, subj_text, _ = (self._redact_within_budget(clean_subject, SUBJECT_TOKEN_BUDGET)
                              if clean_subject else (None, None, False))
        pii = dict(body.counts)
        for kind, n in (subj.counts if subj else {}).items():
            pii[kind] = pii.get(kind, 0) + n
        base = {"redacted_text": ticket, "pii_counts": pii, "truncated": truncated or body_cut}
        # The fallback runs in-process (and on phones, on raw text), so it sees the unredacted
        # text it was trained on; only what leaves the process (prompt, examples) is redacted.
        model_input = f"{clean_subject}\n{clean_body}" if clean_subject else clean_body
        query = f"{subj_text}\n{ticket}" if subj_text else ticket
        return model_input, ticket, subj_text, query, base

    def _redact_within_budget(self, clean: str, budget: int) -> tuple[Redaction, str, bool]:
        """Redact what the token budget keeps, reading past the cut so no value is split by it.

        Returns the redaction, the text cut to the budget, and whether anything was cut.
        """
        end = budget_end(clean, budget, self.encoding)
        redaction = redact(clean[:end + SCAN_MARGIN_CHARS], self.redact_entities, self.phone_regions,
                           keep_chars=end)
        # Placeholders can cost more tokens than the values they replace: cut again (a cut inside
        # a placeholder leaves no personal data).
        kept, cut_again = truncate(redaction.text, budget, self.encoding)
        return redaction, kept, end < len(clean) or cut_again

    def _prompt_tokens(self, prompt: Prompt) -> int:
        """Tokens the prompt would cost; the static system prefix is counted once per pipeline."""
        system = prompt.messages[0]["content"]
        n = self._system_tokens.get(system)
        if n is None:
            n = self._system_tokens[system] = count_tokens(system, self.encoding)
        return n + sum(count_tokens(m["content"], self.encoding) for m in prompt.messages[1:])

    def _map_classes(self, classes: list[str]) -> list[str]:
        names = set(self.taxonomy.names)
        return [c if c in names else (self.taxonomy.label_for_source(c) or self.taxonomy.other) for c in classes]

    def _fallback_assessment(self, model_input: str) -> tuple[list[LabelScore], bool]:
        """The fallback's ranking in taxonomy labels, and whether its novelty gate finds the ticket
        like the ones it was trained on."""
        proba, familiar = self.fallback.assess([model_input])
        merged: dict[str, float] = {}
        for label, p in zip(self._columns, np.asarray(proba, dtype=float)[0]):
            merged[label] = merged.get(label, 0.0) + float(p)
        ordered = sorted(merged.items(), key=lambda kv: -kv[1])[:RANKING_SIZE]
        return [LabelScore(label=k, score=min(1.0, max(0.0, v))) for k, v in ordered], bool(familiar[0])

    def _cascade_reason(self, assessment: tuple[list[LabelScore], bool]) -> str:
        ranking, familiar = assessment
        if not familiar:
            return "cascade: ticket unlike the fallback's training tickets (novelty gate); llm answered"
        return f"cascade: fallback unsure ({ranking[0].score:.2f} < {self.cascade_threshold:.2f}); llm answered"

    def _fallback_result(self, model_input: str, base: dict, why: str, prompt_tokens: int,
                         assessment: tuple[list[LabelScore], bool] | None, prompt_version: str | None,
                         started: float) -> Result:
        ranking, familiar = assessment or self._fallback_assessment(model_input)
        top = ranking[0]
        decision = decide(top.label, top.score, self.taxonomy)
        if not familiar:
            # a confident label for a ticket unlike every training ticket is a guess: a human decides
            decision, why = Decision.NEEDS_REVIEW, f"{why}; ticket unlike the training tickets (novelty gate)"
        return Result(label=top.label, score=top.score, decision=decision,
                      classifier=ClassifierSource.FALLBACK, score_source=ScoreSource.CALIBRATED,
                      prompt_tokens=prompt_tokens, model_version=str(getattr(self.fallback, "version", "")),
                      prompt_version=prompt_version, ranking=ranking, reason=why,
                      latency_ms=(time.perf_counter() - started) * 1000, **base)

    def _llm_result(self, outcome: LLMOutcome, base: dict, why: str, prompt: Prompt, started: float) -> Result:
        ranking = [r for r in outcome.ranking if r.label in self.taxonomy.names][:RANKING_SIZE]
        return Result(label=outcome.label, score=outcome.score,
                      decision=decide(outcome.label, outcome.score, self.taxonomy),
                      classifier=ClassifierSource.LLM, score_source=outcome.score_source,
                      prompt_tokens=outcome.prompt_tokens, completion_tokens=outcome.completion_tokens,
                      model_version=f"llm:{outcome.model or self.llm.model}", prompt_version=prompt.version,
                      ranking=ranking, reason=why, llm_called=True, reported_score=outcome.reported_score,
                      latency_ms=(time.perf_counter() - started) * 1000, **base)

    def _examples(self, query: str) -> list[Example]:
        """Retrieved few-shot examples, most similar first, within the token budget."""
        if self.retriever is None or self.fewshot_k <= 0 or self.fewshot_token_budget <= 0:
            return []
        chosen, spent = [], 0
        for ex in self.retriever.search(query, self.fewshot_k):
            if ex.label not in self.taxonomy.names:
                continue
            cost = count_tokens(ex.text, self.encoding) + 8  # tags and label
            if spent + cost > self.fewshot_token_budget:
                continue
            chosen.append(ex)
            spent += cost
        return chosen
