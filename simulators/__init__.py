"""Local fakes of external services (OpenAI-compatible LLM, helpdesks) for tests and the demo.

Kept apart from product code: nothing in ``plugin/`` or ``webhooks/`` imports this package.
"""
