"""Stage 5, engine: plugin loading, running checks, waivers, scoring, gates, config, the report model."""
