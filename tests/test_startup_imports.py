"""What the console script's early helper loads before it parses: only what discovery and the parse
need (each module is time the second core is not parsing). Run in fresh interpreters."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str, *args: str) -> str:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


HELPER_PATH = ("import sys\n"
               "from scanner.discover import discover\n"
               "from scanner.rawparse import parse_chunk\n"
               "fs = discover(sys.argv[1])\n"
               "parse_chunk(fs.root, tuple(fs.yaml_files), 1 << 20)\n"
               "print(fs.files, *[m in sys.modules for m in ('subprocess', 'scanner.model', 'dataclasses')])")


def test_the_early_helpers_discovery_and_parse_load_no_model_no_subprocess(tmp_path):
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "a.yaml").write_text("kind: Namespace\n")
    (tmp_path / "apps" / "bad.yaml").write_text("a: [\n")  # a load error: a tuple, no ScanError made
    assert _run(HELPER_PATH, str(tmp_path)) == "['apps/a.yaml', 'apps/bad.yaml'] False False False"
    # A .gitignore of names and `*` globs is matched without pathspec...
    (tmp_path / ".gitignore").write_text("*.log\n/build/\n")
    (tmp_path / "x.log").write_text("ignored\n")
    assert _run(HELPER_PATH, str(tmp_path)) == "['.gitignore', 'apps/a.yaml', 'apps/bad.yaml'] False False False"
    # ... a negation brings in pathspec (which uses dataclasses); still not the model nor subprocess.
    (tmp_path / ".gitignore").write_text("*.log\n!keep.log\n")
    (tmp_path / "keep.log").write_text("kept\n")
    assert _run(HELPER_PATH, str(tmp_path)) == (
        "['.gitignore', 'keep.log', 'apps/a.yaml', 'apps/bad.yaml'] False False True")


def test_discovery_and_read_errors_are_scan_errors(tmp_path):
    """The model is imported when an error is made: the errors are the same ScanErrors as before."""
    from scanner.discover import discover
    from scanner.model import ScanError
    from scanner.rawparse import read_bytes

    (tmp_path / "dir.yaml").mkdir()
    (tmp_path / "link.yaml").symlink_to("/etc/hostname")
    fs = discover(str(tmp_path))
    assert fs.errors and all(type(e) is ScanError for e in fs.errors)
    assert any("outside the repository" in e.message for e in fs.errors)
    data, err = read_bytes(str(tmp_path), "dir.yaml")
    assert data is None and type(err) is ScanError and "directory" in err.message


def test_pyyaml_reader_pattern_compiled_on_first_use():
    out = _run("import re\n"
               "compile_before = re.compile\n"
               "from scanner.pyyaml import yaml\n"
               "import yaml.reader\n"
               "pattern = yaml.reader.Reader.NON_PRINTABLE\n"
               "print(type(pattern).__name__, re.compile is compile_before)\n"
               "try:\n"
               "    yaml.load('a: \\x01', Loader=yaml.SafeLoader)\n"
               "except yaml.reader.ReaderError as exc:\n"
               "    print('rejected', 'special characters' in str(exc))\n"
               "print(yaml.load('a: [1, b]', Loader=yaml.SafeLoader))\n"
               "print(pattern.search('ok\\x07').start(), pattern.pattern == yaml.reader.Reader.NON_PRINTABLE.pattern)")
    assert out.splitlines() == ["_CompiledOnFirstUse True", "rejected True", "{'a': [1, 'b']}", "2 True"]


def test_pyyaml_imported_elsewhere_first_is_used_as_it_is():
    out = _run("import yaml, yaml.reader\n"
               "from scanner.pyyaml import yaml as ours\n"
               "print(ours is yaml, type(yaml.reader.Reader.NON_PRINTABLE).__name__)")
    assert out == "True Pattern"


def test_the_console_script_forks_its_helper_before_loading_enum_threading_or_signal(tmp_path):
    """Everything before the early helper's fork is time neither core parses: the console script's
    module and what the fork needs use the C `_signal` and no thread machinery."""
    (tmp_path / "a.yaml").write_text("kind: Namespace\n")
    out = _run("import sys\n"
               "import scanner.entry\n"
               "from scanner import readahead\n"
               "loaded = [m for m in ('enum', 'threading', 'signal', 'typing') if m in sys.modules]\n"
               "readahead.start(sys.argv[1])\n"
               "helper = readahead.claim(sys.argv[1], None)\n"
               "print(loaded, helper is not None and helper.plan()[1] == ['a.yaml'])\n"
               "helper.cancel()", str(tmp_path))
    assert out == "[] True"


def test_plain_record_classes_compare_and_print_like_the_dataclasses_they_were():
    from scanner.discover import FileSet
    from scanner.yamlload import LoadedDoc, LoadError

    assert LoadedDoc(1, 0, {"a": 1}) == LoadedDoc(1, 0, {"a": 1}, None)
    assert LoadedDoc(1, 0, {"a": 1}) != LoadedDoc(2, 0, {"a": 1})
    assert LoadError(3, "bad") == LoadError(3, "bad") and LoadError(3, "bad") != LoadedDoc(3, 0, "bad")
    assert repr(LoadError(None, "x")) == "LoadError(line=None, message='x')"
    assert FileSet("r", ["a"]) == FileSet(root="r", files=["a"], errors=[])
    assert repr(FileSet("r")).startswith("FileSet(root='r', files=[], errors=[], via_git=False")
    with pytest.raises(TypeError):
        hash(FileSet("r"))
