"""verbalrl.memory."""
