"""verbalrl.verifier."""
