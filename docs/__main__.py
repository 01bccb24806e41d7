"""``python -m docs build`` | ``python -m docs coverage``, run from the repository root.

build: checks that every public name has a docstring (``docs/coverage.py``), lays out the pages
(the Markdown files of ``docs/``, the tutorials, and one API page per package generated from the
docstrings by mkdocstrings) in ``build/docs_src``, and runs ``mkdocs build --strict`` into
``build/site``; any warning (a broken cross-reference, a docstring mkdocstrings cannot parse) fails
the build. Needs the ``docs`` extra: ``pip install -e ".[docs]"``.

MkDocs + mkdocstrings rather than Sphinx: the docstrings are Google-style Markdown already
(Args/Returns/Raises/Example), the pages are plain Markdown like the README, and the build needs
no conf.py or reStructuredText.
"""
import os
import re
import shutil
import subprocess
import sys

from .coverage import available_packages, count_public, missing_docstrings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
BUILD = os.path.join(ROOT, "build")
SOURCE, SITE = os.path.join(BUILD, "docs_src"), os.path.join(BUILD, "site")
TUTORIALS = os.path.join(ROOT, "tutorials")


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _layout():
    """Copy the hand-written pages, generate the API and tutorial pages; return the nav."""
    if os.path.isdir(SOURCE):
        shutil.rmtree(SOURCE)
    shutil.copytree(DOCS, SOURCE, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    # the README links the tutorial scripts; in the site they are pages
    readme = re.sub(r"\]\(tutorials/(\d\d_\w+)\.py\)", r"](tutorials/\1.md)", readme)
    readme = readme.replace("](docs/", "](")  # docs/ is the site's root
    _write(os.path.join(SOURCE, "index.md"), readme)
    guides = sorted(f for f in os.listdir(SOURCE) if f.endswith(".md") and f != "index.md")
    api = []
    for module in available_packages():
        page = f"api/{module.__name__}.md"
        _write(os.path.join(SOURCE, page), f"# `{module.__name__}`\n\n::: {module.__name__}\n")
        api.append({module.__name__: page})
    tutorials = []
    if os.path.isdir(TUTORIALS):
        for name in sorted(f for f in os.listdir(TUTORIALS) if f.endswith(".py") and f[0].isdigit()):
            with open(os.path.join(TUTORIALS, name), encoding="utf-8") as f:
                code = f.read()
            page = f"tutorials/{name[:-3]}.md"
            _write(os.path.join(SOURCE, page), _tutorial_page(name, code))
            tutorials.append({name[:-3].replace("_", " "): page})
    nav = [{"Home": "index.md"}]
    if tutorials:
        nav.append({"Tutorials": tutorials})
    nav.append({"Guides": [{g[:-3]: g} for g in guides]})
    nav.append({"API reference": api})
    return nav


def _tutorial_page(name, code):
    """A tutorial script as a page: its docstring as the text, then the code."""
    doc, body = "", code
    if code.startswith('"""'):
        end = code.index('"""', 3)
        doc, body = code[3:end].strip(), code[end + 3:].lstrip()
    return f"{doc}\n\n## The code\n\n```python\n{body}```\n"


def _config(nav):
    import json

    return "\n".join([
        "site_name: convgrad",
        f"docs_dir: {json.dumps(SOURCE)}",
        f"site_dir: {json.dumps(SITE)}",
        "use_directory_urls: false",
        "theme: {name: mkdocs}",
        "plugins:",
        "  - search",
        "  - autorefs",
        "  - mkdocstrings:",
        "      handlers:",
        "        python:",
        "          paths: [src]",
        # grouped names ("stride, padding: ...") are the house style, so no warning for them
        "          options: {docstring_style: google,",
        "                    docstring_options: {warn_missing_types: false, warn_unknown_params: false},",
        f"                    extensions: [{json.dumps(os.path.join(DOCS, 'griffe_examples.py') + ':ExampleSections')}],",
        "                    show_source: false, members_order: source,",
        "                    show_root_heading: false, show_submodules: false, filters: ['!^_']}",
        "markdown_extensions: [admonition, toc, pymdownx.highlight, pymdownx.superfences]",
        f"nav: {json.dumps(nav)}",
        "validation: {links: {not_found: warn, anchors: warn}, nav: {omitted_files: ignore}}",
        "",
    ])


def build():
    missing = missing_docstrings()
    if missing:
        print(f"docs: {len(missing)} of {count_public()} public names have no docstring:", file=sys.stderr)
        for name in missing:
            print(f"  {name}", file=sys.stderr)
        return 1
    nav = _layout()
    config = os.path.join(BUILD, "mkdocs.yml")
    _write(config, _config(nav))
    # not -q: mkdocs counts for --strict only the warnings its log level lets through
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", config], cwd=ROOT,
                            capture_output=True, text=True)
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if not line.startswith("INFO") and line.strip()]
    for line in problems:
        print(line, file=sys.stderr)
    if result.returncode != 0 or any(line.startswith(("WARNING", "ERROR")) for line in problems):
        print(f"docs: the build failed ({sum(line.startswith('WARNING') for line in problems)} warnings)",
              file=sys.stderr)
        return result.returncode or 1
    print(f"docs: built {SITE}/index.html")
    return 0


def coverage():
    missing = missing_docstrings()
    for name in missing:
        print(name)
    print(f"{len(missing)} of {count_public()} public names have no docstring")
    return 1 if missing else 0


if __name__ == "__main__":
    commands = {"build": build, "coverage": coverage}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print("usage: python -m docs build | coverage", file=sys.stderr)
        sys.exit(2)
    sys.exit(commands[sys.argv[1]]())
