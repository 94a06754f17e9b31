"""A small local OpenAI-compatible chat completions server for tests and the demo.

Real HTTP on 127.0.0.1 (ephemeral port by default). Its "model" is deterministic: it scores the
ticket against each label's description and examples found in the prompt (word overlap, plus the
retrieved ``<example>`` tickets), picks a label from the request's JSON-schema enum, and returns
the answer with ``logprobs`` shaped as the API documents them. It can be told to misbehave, for
the next N requests or by default, and it records every request so tests can inspect prompts.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("ok", "slow", "timeout", "rate_limit", "server_error", "truncated", "invalid_json",
          "bad_label", "refusal", "no_logprobs", "bad_auth", "prose", "no_score")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = set("""a an and are as at be been but by can do does for from has have how i i'm if in is it
its me my of on or our please so that the their them there this to was we what when where which who
why will with would you your hi hello thanks thank dear am not no yes ticket classify category""".split())


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _words(text: str) -> Counter[str]:
    text = re.sub(r"\[[A-Z]+\]", " ", text)  # redaction placeholders say nothing about the topic
    return Counter(_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1)


def keyword_model(messages: list[dict[str, Any]], labels: list[str]) -> dict[str, float]:
    """Probability per label from word overlap of the ticket with category text and examples."""
    text = "\n".join(str(m.get("content") or "") for m in messages)
    ticket_match = re.search(r"<ticket>(.*?)</ticket>", text, re.S)
    ticket = _words(ticket_match.group(1) if ticket_match else str(messages[-1].get("content", "")))
    evidence: dict[str, Counter[str]] = {name: Counter() for name in labels}
    for m in re.finditer(r'<category name="([^"]+)">(.*?)</category>', text, re.S):
        if m.group(1) in evidence:
            evidence[m.group(1)].update(_words(m.group(1) + " " + m.group(2)))
    raw = {name: 0.0 for name in labels}
    doc_freq = Counter(w for c in evidence.values() for w in c)
    for name, words in evidence.items():
        for w in ticket:
            if w in words:
                raw[name] += math.log(1 + len(labels) / doc_freq[w])
    for m in re.finditer(r'<example label="([^"]+)">(.*?)</example>', text, re.S):
        if m.group(1) in raw:
            ex = _words(m.group(2))
            union = len(set(ex) | set(ticket)) or 1
            raw[m.group(1)] += 6.0 * len(set(ex) & set(ticket)) / union
    if not any(raw.values()) and "other" in raw:
        raw["other"] = 1.0
    z = [math.exp(1.5 * v) for v in raw.values()]
    total = sum(z)
    return {name: zi / total for name, zi in zip(raw, z)}


class OpenAISimulator:
    """Start with ``with OpenAISimulator() as sim:``; ``sim.base_url`` goes to the client."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_key: str | None = None,
                 delay_s: float = 3.0, retry_after_s: float = 1.0) -> None:
        self.api_key = api_key
        self.delay_s = delay_s  # how long "slow"/"timeout" responses take
        self.retry_after_s = retry_after_s
        self.default_fault = "ok"
        self.requests: list[dict[str, Any]] = []
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail_next(self, *faults: str) -> None:
        """Queue faults for the next requests, one each (``"ok"`` answers normally)."""
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {unknown}; choose from {FAULTS}")
        with self._lock:
            self._faults.extend(faults)

    def set_default(self, fault: str) -> None:
        """Behaviour once the queued faults are used up."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        self.default_fault = fault

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()
            self.default_fault = "ok"

    def start(self) -> "OpenAISimulator":
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="openai-sim",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "OpenAISimulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block serving (for the CLI)."""
        self._server.serve_forever()

    # --- request handling ------------------------------------------------------------------------
    def _next_fault(self) -> str:
        with self._lock:
            return self._faults.popleft() if self._faults else self.default_fault

    def handle(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        record: dict[str, Any] = {"body": body, "headers": headers, "time": time.time()}
        with self._lock:
            self.requests.append(record)
        fault = self._next_fault()
        if fault == "bad_auth" or (self.api_key and headers.get("authorization") != f"Bearer {self.api_key}"):
            return _error(401, "invalid_api_key", "Incorrect API key provided.")
        if fault in ("slow", "timeout"):
            self._stopping.wait(self.delay_s if fault == "slow" else self.delay_s * 3)
        if fault == "rate_limit":
            status, hdrs, payload = _error(429, "rate_limit_exceeded", "Rate limit reached.")
            hdrs["Retry-After"] = f"{self.retry_after_s:g}"
            return status, hdrs, payload
        if fault == "server_error":
            return _error(500, "server_error", "The server had an error while processing your request.")
        completion = self._completion(body, fault)
        record["usage"] = completion["usage"]  # what this request was billed (answered requests only)
        return 200, {"Content-Type": "application/json"}, json.dumps(completion).encode()

    def _completion(self, body: dict[str, Any], fault: str) -> dict[str, Any]:
        messages = body.get("messages") or []
        schema = (((body.get("response_format") or {}).get("json_schema") or {}).get("schema") or {})
        labels = list(((schema.get("properties") or {}).get("label") or {}).get("enum") or [])
        if not labels:
            text = "\n".join(str(m.get("content") or "") for m in messages)
            labels = re.findall(r'<category name="([^"]+)">', text) or ["other"]
        probs = keyword_model(messages, labels)
        ranked = sorted(probs.items(), key=lambda kv: -kv[1])
        label, p = ranked[0]
        if fault == "bad_label":
            label = "definitely_not_a_category"
        # Self-reported confidence is typically higher than the measured probability.
        reported = round(min(1.0, 0.5 + p / 2), 2)
        pieces = ['{"', "label", '":"', label, '","', "score", '":', f"{reported}", "}"]
        content: str | None = "".join(pieces)
        finish = "stop"
        refusal = None
        if fault == "truncated":
            content, finish = content[: len(content) // 2], "length"
        elif fault == "invalid_json":
            content = f"label: {label}, score: {reported}"
        elif fault == "refusal":
            content, refusal = None, "I'm sorry, I can't help with that request."
        elif fault == "prose":  # what an unconstrained model says around its JSON
            content = f"Sure! Here is the classification:\n```json\n{content}\n```\nHope that helps."
        elif fault == "no_score":
            content = json.dumps({"label": label})
        logprobs = None
        if body.get("logprobs") and fault not in ("no_logprobs", "refusal", "prose", "no_score") and content is not None:
            top_n = int(body.get("top_logprobs") or 0)
            logprobs = {"content": self._logprob_tokens(pieces, content, label, p, ranked, top_n), "refusal": None}
        prompt_tokens = sum(len(str(m.get("content") or "")) // 4 + 4 for m in messages)
        completion_tokens = len(pieces) if content else 12
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or "sim-keyword-1",
            "system_fingerprint": "fp_sim",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "logprobs": logprobs,
                "finish_reason": finish,
            }],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    @staticmethod
    def _logprob_tokens(pieces: list[str], content: str, label: str, p: float,
                        ranked: list[tuple[str, float]], top_n: int) -> list[dict[str, Any]]:
        out, pos = [], 0
        for piece in pieces:
            if pos >= len(content):
                break
            piece = piece[: len(content) - pos]
            pos += len(piece)
            is_label = piece == label and pos - len(piece) == content.find(label)
            lp = math.log(max(p, 1e-12)) if is_label else -1e-6
            top = []
            if top_n:
                alts = ranked[:top_n] if is_label else [(piece, 1.0)]
                top = [{"token": t, "logprob": math.log(max(q, 1e-12)), "bytes": list(t.encode())} for t, q in alts]
            out.append({"token": piece, "logprob": lp, "bytes": list(piece.encode()), "top_logprobs": top})
        return out


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = {"error": {"message": message, "type": code, "param": None, "code": code}}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _handler_for(sim: OpenAISimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (e.g. its timeout fired); nothing to tell it

        def do_GET(self) -> None:  # noqa: N802
            if self.path.rstrip("/").endswith("/models"):
                body = {"object": "list", "data": [{"id": "sim-keyword-1", "object": "model", "owned_by": "sim"}]}
                self._send(200, {"Content-Type": "application/json"}, json.dumps(body).encode())
            else:
                self._send(*_error(404, "not_found", "Unknown path"))

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(*_error(404, "not_found", "Unknown path"))
                return
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._send(*_error(400, "invalid_request_error", "Body is not JSON"))
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._send(*sim.handle(body, headers))

    return Handler
