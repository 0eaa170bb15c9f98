"""verbalrl.tasks."""
