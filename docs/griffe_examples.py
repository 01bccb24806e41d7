"""A griffe extension for the docs build: convgrad's docstrings title their examples ``Example:``
(the style guide's name, also ``Example::``); griffe's Google parser knows only ``Examples:``.
Renaming the title when griffe loads a docstring renders the ``>>>`` lines as code."""
import re

import griffe

_TITLE = re.compile(r"^(\s*)Example::?\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` / ``Example::`` section titles to ``Examples:``."""

    def on_instance(self, *, obj, **kwargs):
        """Rewrite the docstring of every object griffe loads."""
        if obj.docstring is not None:
            obj.docstring.value = _TITLE.sub(r"\1Examples:", obj.docstring.value)
