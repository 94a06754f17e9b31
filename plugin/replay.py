"""Record and replay LLM HTTP calls (vcrpy) so a re-run evaluation is free and deterministic.

Requests match on method, URI and body. The body holds the rendered prompt, the model name and
the label enum, so changing a prompt template, the taxonomy or an item misses the cassette:
in record mode that one request goes to the endpoint and is added; in replay mode it never
touches the network and stops the run with a clear error (a silent fallback would report numbers
for a different classifier). API keys are filtered out of the cassette.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from .exceptions import ConfigError

CASSETTE_NAME = "llm_calls.yaml"
MATCH_ON = ("method", "uri", "raw_body")
SECRET_HEADERS = ("authorization", "api-key", "x-api-key", "openai-organization", "openai-project")


def _same_body(r1, r2) -> bool:
    """Byte equality of request bodies.

    vcrpy's ``body`` matcher parses both JSON bodies for every cassette entry it tries, and it
    scans the cassette linearly, so a 1,000-item evaluation spent minutes parsing prompts. The
    client serialises the same request to the same bytes, so comparing bytes is exact and cheap.
    """
    a, b = r1.body or b"", r2.body or b""
    a = a.encode() if isinstance(a, str) else a
    b = b.encode() if isinstance(b, str) else b
    return a == b


@contextlib.contextmanager
def recording(record_dir: str | Path | None = None, replay_dir: str | Path | None = None,
              name: str = CASSETTE_NAME) -> Iterator[object | None]:
    """Context in which LLM HTTP calls are recorded to, or replayed from, ``DIR/name``.

    Args:
        record_dir: record new calls (and play back ones already in the cassette).
        replay_dir: play back only; any call not in the cassette raises inside the HTTP client,
            so no request can leave the machine; a miss raises ConfigError.
        name: cassette file name (one cassette can hold many prompts and items).

    Yields:
        The vcrpy cassette (``play_count``, ``all_played``...), or None when neither is given.
    """
    if record_dir and replay_dir:
        raise ConfigError("use either --record or --replay, not both")
    if not record_dir and not replay_dir:
        yield None
        return
    import vcr  # a test/dev dependency; only needed when recording

    logging.getLogger("vcr").setLevel(logging.WARNING)  # it logs every response body at INFO

    directory = Path(record_dir or replay_dir)  # type: ignore[arg-type]
    path = directory / name
    if replay_dir and not path.exists():
        raise ConfigError(f"no recorded LLM calls at {path}; run once with --record {directory}")
    directory.mkdir(parents=True, exist_ok=True)
    recorder = vcr.VCR(
        record_mode="none" if replay_dir else "new_episodes",
        match_on=MATCH_ON,
        filter_headers=list(SECRET_HEADERS),
        decode_compressed_response=True,
    )
    recorder.register_matcher("raw_body", _same_body)
    from vcr.errors import CannotOverwriteExistingCassetteException

    misses: list[str] = []
    try:
        with recorder.use_cassette(str(path), allow_playback_repeats=True) as cassette:
            _track_misses(cassette, misses)
            yield cassette
    except CannotOverwriteExistingCassetteException as exc:
        misses.append(str(exc))
    if replay_dir and misses:
        # The pipeline turns any LLM client error into a fallback answer, so a miss would otherwise
        # pass silently as a fallback result; a replayed run must be the recorded run or nothing.
        raise ConfigError(f"{len(misses)} LLM request(s) not in {path} (the prompt, taxonomy, model or "
                          f"items changed); record them with --record {directory}")


def _track_misses(cassette, misses: list[str]) -> None:
    """Note every request the cassette cannot answer (vcrpy raises inside the HTTP client)."""
    original = cassette.can_play_response_for

    def can_play(request) -> bool:
        ok = original(request)
        if not ok:
            misses.append(request.uri)
        return ok

    cassette.can_play_response_for = can_play
