"""verbalrl.agents."""
