"""ivgr: Internalizing Visually Grounded Reasoning (iVGR) for multimodal LLMs."""

__version__ = "0.1.0"
