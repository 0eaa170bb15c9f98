"""verbalrl.graphs."""
