"""The `posture` command line: click commands and terminal output."""
