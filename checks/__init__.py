"""Built-in check modules, one per defense-in-depth layer (registered through entry points)."""
