"""mimo2codex: a gateway that lets the OpenAI Codex CLI talk to any Chat Completions LLM."""

__version__ = "0.1.0"
