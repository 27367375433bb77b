"""Non-finite numbers, deep nesting and odd JSON: a 422 naming the field, never a 5xx or 400."""

from __future__ import annotations

import pytest

from reelflow.api.safejson import depth_of
from tests.security.conftest import API

GENERATE = f"{API}/video/generate-advanced/nope"
BATCH = f"{API}/video/batch-generate-advanced"
TIMINGS = f"{API}/projects/nope/word-timings"


def _nested(levels: int, leaf: str = "1") -> str:
    return '{"a":' * levels + leaf + "}" * levels


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
@pytest.mark.parametrize(
    "url, method, template, field",
    [
        (GENERATE, "post", '{"wave_settings": {"amplitude": %s}}', "wave_settings.amplitude"),
        (GENERATE, "post", '{"music_volume": %s}', "music_volume"),
        (TIMINGS, "patch", '{"corrections": {"0": [%s, 1.0]}}', "corrections.0.0"),
        (BATCH, "post", '{"items": [{"music_volume": %s}]}', "items.0.music_volume"),
    ],
)
def test_non_finite_numbers_are_422_naming_the_field(
    sec_client, mallory, url, method, template, field, number
):
    headers = mallory.headers | {"Content-Type": "application/json"}
    response = sec_client.request(method, url, headers=headers, content=template % number)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


@pytest.mark.parametrize("levels", [40, 1000, 5000, 100_000])
def test_deep_nesting_is_422_naming_the_body(sec_client, mallory, levels):
    headers = mallory.headers | {"Content-Type": "application/json"}
    body = '{"style": ' + _nested(levels) + "}"
    response = sec_client.post(GENERATE, headers=headers, content=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "body"


@pytest.mark.parametrize(
    "body",
    [
        '{"quality": ' + "9" * 5000 + "}",  # an int too long for Python to convert
        '{"quality": "low"',  # cut short
        "\x00\x01",
        '{"quality": "\\ud800"}',  # a lone surrogate
        "[" * 10 + "]" * 10,
    ],
)
def test_malformed_json_is_422(sec_client, mallory, body):
    headers = mallory.headers | {"Content-Type": "application/json"}
    response = sec_client.post(GENERATE, headers=headers, content=body)
    assert response.status_code == 422, response.text


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert depth_of(b'{"a": "[[[[[[{{{{{\\"]]]"}') == 1
    assert depth_of(b'[[{"a": [1]}]]') == 4


@pytest.mark.parametrize(
    "style, field",
    [
        ('{"music_volume": NaN}', "style.music_volume"),
        ('{"captions": {"settings": {"x": Infinity}}}', "style.captions.settings.x"),
        (_nested(3000), "style"),
        ("[1, 2]", "style"),
        ("{not json", "style"),
    ],
)
def test_style_form_field_is_checked_like_a_body(sec_client, mallory, style, field):
    form = {"title": "t", "script": "Hello there.", "style": style}
    response = sec_client.post(f"{API}/projects", headers=mallory.headers, data=form)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(
    "spec, field",
    [
        ({"music": {"volume": None}}, "music.volume"),
        ({"max_file_size_mb": None}, "max_file_size_mb"),
        ({"captions": {"animation": "wave", "settings": {"amplitude": None}}}, "captions.settings"),
    ],
)
def test_flow_parameters_refuse_non_finite_numbers(spec, field, value):
    from reelflow.engine.errors import InputError
    from reelflow.models import parse_spec

    def fill(node):
        return {k: fill(v) if isinstance(v, dict) else (value if v is None else v)
                for k, v in node.items()}  # fmt: skip

    with pytest.raises(InputError, match=field.replace(".", r"\.")):
        parse_spec({"script": "Hi there."} | fill(spec))
