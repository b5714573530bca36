"""Report formatters: each a plugin with FILENAME and render(report, options) -> str."""
