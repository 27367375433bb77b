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


def test_the_render_form_offers_every_issue13_option():
    html = PAGE.read_text()
    selects = dict(re.findall(r'<select id="(\w+)" data-options="([\w.]+)"', html))
    assert {
        "caption_style": "captions.style",
        "emphasis": "captions.emphasis",
        "aspect": "aspect",
        "voice": "voice",
        "background_transition": "background.transition",
    }.items() <= selects.items()
    for element in ('id="hook-text"', 'id="hook-duration"', 'id="progress_bar"',
                    'id="caption-preview"', 'id="renditions"'):  # fmt: skip
        assert element in html
    # nothing inline: the page's CSP runs only /static/app.js
    assert "<script>" not in html and not re.search(r"\son\w+=", html)
