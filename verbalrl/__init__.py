"""verbalrl: reasoning agents that learn by verbal reinforcement.

Agents (LangGraph graphs) draft solutions, a generative verifier (GenRM)
scores them, agents critique and revise, and a chromadb vector memory keeps
verified successes, failures with their lessons, and distilled concepts.
"""

__version__ = "0.1.0"
