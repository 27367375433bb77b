"""The web page's markup: element ids are unique (the script finds every element by id)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import reelflow.api

PAGE = Path(reelflow.api.__file__).parent / "static" / "index.html"


def test_every_element_id_on_the_page_is_unique():
    ids = Counter(re.findall(r'\sid="([^"]+)"', PAGE.read_text()))
    assert ids and not [name for name, count in ids.items() if count > 1]
