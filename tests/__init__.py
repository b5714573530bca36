"""The test suite, laid out like the packages it tests: tests/<stage>/ mirrors scanner/<stage>/,
tests/checks the checks/ plugins, tests/reports the reports/ package, tests/deploy the deploy/ tree;
tests/hostile is the hostile-input wall, tests/support and tests/fakekube the shared helpers.

This file makes `tests` a package, so every test module is imported as `tests.<folder>.<module>`.
Without it pytest puts tests/ itself on sys.path and imports tests/checks as a top-level `checks`
package (and tests/reports as `reports`), shadowing the real plugins and formatters."""
