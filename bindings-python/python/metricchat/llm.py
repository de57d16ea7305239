"""Model configuration helpers: ``mc.llm.openai(...)``, ``anthropic``, ``gemini``, ``ollama``,
``openai_compatible``.

Each returns an :class:`LLM`, a small value object that the agent hands to the Rust core as an
``LlmSpec``. Keys default to the provider's usual environment variable (``OPENAI_API_KEY``,
``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY``/``GOOGLE_API_KEY``; ``OLLAMA_HOST`` for the host) and
are never shown by ``repr``.

Every helper takes ``cassette="path.jsonl"``: the model's HTTP traffic is then recorded to that
file when ``MC_RECORD=1`` and replayed from it otherwise (``cassette_mode="record"`` or
``"replay"`` forces one), so tests and demos run without a network, a key or a bill.

A string works wherever an :class:`LLM` does: ``"openai:gpt-4.1-mini"``,
``"anthropic:claude-sonnet-4-5"``, ``"ollama:qwen2.5-coder:1.5b"``,
``"openai_compatible:MODEL@http://127.0.0.1:8080/v1"``.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

__all__ = ["LLM", "openai", "anthropic", "gemini", "ollama", "openai_compatible", "azure_openai"]


class LLM:
    """A model provider configuration (the core's ``LlmSpec``)."""

    __slots__ = ("_spec",)

    def __init__(self, provider: str, **fields: Any) -> None:
        spec: Dict[str, Any] = {"provider": provider}
        spec.update({k: v for k, v in fields.items() if v is not None})
        self._spec = spec

    @property
    def provider(self) -> str:
        """The provider name (``openai``, ``anthropic``, ``gemini``, ``ollama``, ``openai_compatible``)."""
        return self._spec["provider"]

    @property
    def model(self) -> Optional[str]:
        """The model name, or None for the provider's default."""
        return self._spec.get("model")

    def to_dict(self) -> Dict[str, Any]:
        """The spec as sent to the core (includes the API key when one was given)."""
        return dict(self._spec)

    def __repr__(self) -> str:
        shown = {k: ("[redacted]" if k in ("api_key", "headers") else v) for k, v in self._spec.items()}
        args = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"LLM({args})"


def _common(
    model: Optional[str],
    api_key: Optional[str],
    base_url: Optional[str],
    options: Dict[str, Any],
) -> Dict[str, Any]:
    if options.get("cassette") is not None:
        options = {**options, "cassette": os.fspath(options["cassette"])}
    return {"model": model, "api_key": api_key, "base_url": base_url, **options}


def openai(
    model: Optional[str] = None,
    *,
    api_key: Optional[str] = None,
    base_url: Optional[str] = None,
    **options: Any,
) -> LLM:
    """OpenAI Chat Completions. ``options``: ``supports_tools``, ``context_window``, ``pricing``
    (``{"input": $/Mtok, "output": ..., "cached_input": ...}``), ``max_retries``,
    ``connect_timeout``, ``first_byte_timeout``, ``idle_timeout`` (milliseconds or ``"30s"``; the
    deprecated ``*_timeout_secs`` keys take seconds)."""
    return LLM("openai", **_common(model, api_key, base_url, options))


def anthropic(
    model: Optional[str] = None,
    *,
    api_key: Optional[str] = None,
    base_url: Optional[str] = None,
    **options: Any,
) -> LLM:
    """Anthropic Messages API (``max_output_tokens`` sets each reply's ``max_tokens``)."""
    return LLM("anthropic", **_common(model, api_key, base_url, options))


def gemini(
    model: Optional[str] = None,
    *,
    api_key: Optional[str] = None,
    base_url: Optional[str] = None,
    **options: Any,
) -> LLM:
    """Google Gemini (generateContent / streamGenerateContent)."""
    return LLM("gemini", **_common(model, api_key, base_url, options))


def ollama(
    model: Optional[str] = None,
    *,
    host: Optional[str] = None,
    **options: Any,
) -> LLM:
    """Ollama's native ``/api/chat`` (``host`` defaults to ``OLLAMA_HOST`` or localhost:11434)."""
    return LLM("ollama", **_common(model, None, host, options))


def openai_compatible(
    base_url: str,
    model: str,
    *,
    api_key: Optional[str] = None,
    supports_tools: bool = False,
    **options: Any,
) -> LLM:
    """Any server speaking OpenAI's Chat Completions (llama.cpp, vLLM, LM Studio, LiteLLM…).

    Tool calling is off unless ``supports_tools=True``: the agent then asks for one JSON
    decision per turn, which weak local models follow more reliably."""
    return LLM(
        "openai_compatible",
        supports_tools=supports_tools,
        **_common(model, api_key, base_url, options),
    )


def azure_openai(
    endpoint: str,
    deployment: str,
    *,
    api_key: Optional[str] = None,
    api_version: Optional[str] = None,
    **options: Any,
) -> LLM:
    """Azure OpenAI: ``endpoint`` is ``https://RESOURCE.openai.azure.com``, ``deployment`` the
    deployment name; the key defaults to ``AZURE_OPENAI_API_KEY``, the version to
    ``OPENAI_API_VERSION`` or the core's default."""
    return LLM(
        "azure",
        api_version=api_version,
        **_common(deployment, api_key, endpoint, options),
    )
