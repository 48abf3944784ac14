"""judge-harness: LLM-as-a-judge evaluation that measures whether the judge can be trusted."""

__version__ = "0.1.0"
