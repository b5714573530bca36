"""What the console script's early helper loads before it parses: only what discovery and the parse
need (each module is time the second core is not parsing). Run in fresh interpreters."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str, *args: str) -> str:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_discovering_a_plain_directory_does_not_load_subprocess(tmp_path):
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "a.yaml").write_text("kind: Namespace\n")
    (tmp_path / ".gitignore").write_text("*.log\n")
    (tmp_path / "x.log").write_text("ignored\n")
    out = _run("import sys\n"
               "from scanner.discover import discover\n"
               "from scanner.parse import parse_chunk\n"
               "fs = discover(sys.argv[1])\n"
               "parse_chunk(fs.root, tuple(fs.yaml_files), 1 << 20)\n"
               "print(fs.files, 'subprocess' in sys.modules)", str(tmp_path))
    assert out == "['.gitignore', 'apps/a.yaml'] False"


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
