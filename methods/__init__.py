"""methods of hmrbench (uses bench/, never the reverse except through the registry)."""
