"""Every option list comes from one table in `reelflow.presets` (issue 10, item 3).

Each name of each table is walked through every door a user has: the spec model, the CLI's
`validate`, the API (project form, style JSON and render body, on the real Redis) and the web
page's choices. A static check then refuses any `Literal[...]` or literal tuple in `reelflow/`
that restates a table's names, and a subprocess adds a name to a table's source to show that
nothing else needs editing.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import pytest
import redis
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from reelflow import presets
from reelflow.api.config import ApiConfig
from reelflow.api.schemas import RenderRequest
from reelflow.cli import app as cli_app
from reelflow.engine.captions.layout import LayoutRules
from reelflow.engine.render.background import Background
from reelflow.engine.render.effects import ease
from reelflow.engine.render.encoding import choose_encoder
from reelflow.engine.render.graph import RenderJob
from reelflow.engine.speech.voices import installed as installed_voices
from reelflow.engine.text import tokenize
from reelflow.engine.timing import WordTimings
from reelflow.models import field_of, parse_spec
from reelflow.presets import OPTION_TABLES
from reelflow.settings import Settings
from reelflow.store import ProjectInput, ProjectStyle, RenderSettings, Store
from tests.api.conftest import REDIS_URL
from tests.api.helpers import ApiUser, make_project
from tests.apps import app_without_prefect

PACKAGE = Path(__file__).resolve().parents[1] / "reelflow"
SCRIPT = "One two three."
CHOICES = [(path, name) for path, table in OPTION_TABLES.items() for name in table]
# Every module-level table of names in reelflow.presets (option tables and their parts).
TABLES = {
    key: tuple(value)
    for key, value in vars(presets).items()
    if key.isupper()
    and isinstance(value, dict)
    and value
    and all(isinstance(k, str) for k in value)
}

# How each option reaches the API: the render body's field, a path in the project's style JSON,
# or a project form field. The API offers no way to pick the encoder (a worker's setting) or to
# claim how word timings were found (the render finds out).
RENDER_FIELDS = {
    "captions.animation": "subtitle_animation",
    "effects.preset": "effects_preset",
    "music.preset": "music_preset",
    "quality": "quality",
    "platform": "platform",
    "captions.style": "caption_style",
    "captions.emphasis": "emphasis",
    "aspect": "aspect",
    "background.transition": "background_transition",
}
STYLE_FIELDS = {"captions.animation", "captions.position", "effects.preset", "effects.easing"}
STYLE_FIELDS |= {"quality", "platform", "aspect", "captions.style", "captions.emphasis"}
STYLE_FIELDS |= {"background.transition"}
FORM_FIELDS = {"music.preset": "music_preset", "background.type": "background_type"}
NOT_IN_API = {"encoder", "word_timings.method"}


def literal_args(annotation: Any) -> tuple[str, ...]:
    """The names of a Literal type, also inside ``X | None``."""
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    (inner,) = [a for a in get_args(annotation) if get_origin(a) is Literal]
    return get_args(inner)


def nested(path: str, value: Any) -> dict[str, Any]:
    """``nested("a.b", 1) == {"a": {"b": 1}}``."""
    *parents, name = path.split(".")
    data: dict[str, Any] = {name: value}
    for part in reversed(parents):
        data = {part: data}
    return data


@pytest.fixture(scope="session")
def media_files(bg_image: Path, bg_video: Path) -> dict[str, Path]:
    return {"image": bg_image, "video": bg_video}


def spec_data(path: str, name: str, media_files: dict[str, Path]) -> dict[str, Any]:
    """A small valid spec choosing `name` for the field `path`."""
    data: dict[str, Any] = {"script": SCRIPT}
    if path == "background.type" and presets.BACKGROUND_TYPES[name].needs_files:
        data["background"] = {"type": name, "path": str(media_files[name])}
    elif path == "word_timings.method":
        words = [
            {"word": w, "start": 0.5 * i, "end": 0.5 * i + 0.4}
            for i, w in enumerate(tokenize(SCRIPT))
        ]
        data["word_timings"] = {"method": name, "words": words}
    else:
        data |= nested(path, name)
    return data


@pytest.mark.parametrize(("path", "name"), CHOICES)
def test_the_spec_accepts_every_name(path, name, media_files):
    spec = parse_spec(spec_data(path, name, media_files))
    value: Any = spec
    for part in path.split("."):
        value = getattr(value, part)
    assert value == name


@pytest.mark.parametrize(("path", "name"), CHOICES)
def test_cli_validate_accepts_every_name(path, name, media_files, tmp_path):
    spec_file = tmp_path / "reel.json"
    spec_file.write_text(json.dumps(spec_data(path, name, media_files)))
    result = CliRunner().invoke(cli_app, ["validate", str(spec_file)])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1 and "ok" in result.stdout


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (
            {"script": "hi", "music": {"preset": "jazz"}},
            "error: music.preset: 'jazz' is not one of upbeat, chill, dramatic, gaming, auto, none",
        ),
        ({"voiceover": "missing.wav", "transcript": "hi"}, "error: voiceover: file not found"),
    ],
)
def test_cli_validate_refuses_in_one_line(data, line, tmp_path):
    spec_file = tmp_path / "reel.json"
    spec_file.write_text(json.dumps(data))
    result = CliRunner().invoke(cli_app, ["validate", str(spec_file)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(line)


@pytest.fixture(scope="module")
def api(redis_up: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The real app on the real Redis. tests/api's `client` also deploys to Prefect, which
    checking bodies does not need: with no such deployment a valid render answers 503 only
    after its spec was built, and a bad one 422 before."""
    prefix = f"test-options-{uuid.uuid4().hex[:10]}"
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("options") / "data",
        api_trusted_hosts=["testserver", "127.0.0.1", "localhost"],  # TestClient's host too
        redis_url=REDIS_URL,
        redis_key_prefix=prefix,
        enable_gpu_acceleration=False,
        max_upload_mb=16.0,
    )
    config = replace(
        ApiConfig.from_settings(settings), rate_limit_reels=0, reel_deployment="no-such/flow"
    )
    with TestClient(app_without_prefect(settings, config)) as client:
        yield client
    keys = redis.Redis.from_url(REDIS_URL)
    stale = list(keys.scan_iter(f"{prefix}:*"))
    if stale:
        keys.delete(*stale)
    keys.close()


@pytest.fixture(scope="module")
def carol(api: TestClient) -> ApiUser:
    with Store(api.app.state.services.settings) as store:
        user, token = store.create_user("carol")
    return ApiUser(id=user.id, token=token)


@pytest.fixture(scope="module")
def project_id(api: TestClient, carol: ApiUser) -> str:
    return make_project(api, carol)


def test_every_option_has_a_way_into_the_api_or_a_reason():
    covered = set(RENDER_FIELDS) | STYLE_FIELDS | set(FORM_FIELDS) | NOT_IN_API
    assert covered == set(OPTION_TABLES)
    assert set(RENDER_FIELDS.values()) <= set(RenderRequest.model_fields)


@pytest.mark.parametrize(("path", "name"), [c for c in CHOICES if c[0] not in NOT_IN_API])
def test_the_api_accepts_every_name(path, name, api, carol, project_id, media_files):
    if path in RENDER_FIELDS:
        url = f"/api/v1/video/generate-advanced/{project_id}"
        response = api.post(url, headers=carol.headers, json={RENDER_FIELDS[path]: name})
        assert response.status_code == 503 and "Prefect" in response.json()["detail"]
    if path in STYLE_FIELDS:
        make_project(api, carol, style=json.dumps(nested(path, name)))
    if path == "background.type" and presets.BACKGROUND_TYPES[name].needs_files:
        upload = media_files[name]
        response = api.post(
            "/api/v1/projects",
            headers=carol.headers,
            data={"title": "t", "script": SCRIPT},
            files={"background": (upload.name, upload.read_bytes())},
        )
        assert response.status_code == 201, response.text
        assert response.json()["background_type"] == name
    elif path in FORM_FIELDS:
        project = api.get(
            f"/api/v1/projects/{make_project(api, carol, **{FORM_FIELDS[path]: name})}",
            headers=carol.headers,
        )
        assert project.json()[FORM_FIELDS[path]] == name


def test_the_api_refuses_an_unknown_name(api, carol, project_id):
    url = f"/api/v1/video/generate-advanced/{project_id}"
    response = api.post(url, headers=carol.headers, json={"music_preset": "jazz"})
    assert response.status_code == 422 and response.json()["field"] == "music_preset"


@pytest.fixture(scope="module")
def page_offers(api: TestClient) -> dict[str, list[str]]:
    """Spec field -> the names the web page offers for it, as its script would fill them."""
    html = api.get("/").text
    assert "<option" not in html  # nothing hard-coded: the script fills every select
    script = api.get("/static/app.js").text
    assert '"/video/options"' in script and "dataset.options" in script
    listing = api.get("/api/v1/video/options").json()
    every_select = dict(re.findall(r'<select id="(\w+)" data-options="([\w.]+)"', html))
    assert every_select.pop("voice") == "voice"  # the installed voices (not a preset table)
    selects = every_select
    assert set(selects) == set(RENDER_FIELDS.values())  # the page offers what a render takes
    for select_id, path in selects.items():
        assert RENDER_FIELDS[path] == select_id  # and sends each under the body's field name
        assert listing[path]["default"] == field_of(path).default
    offers = {path: [c["name"] for c in listing[path]["choices"]] for path in selects.values()}
    for names in offers.values():
        restated = [n for n in names if re.search(rf"[\"']{re.escape(n)}[\"']", script)]
        assert not restated, f"app.js names options itself: {restated}"
    return offers


@pytest.mark.parametrize(("path", "name"), [c for c in CHOICES if c[0] in RENDER_FIELDS])
def test_the_page_offers_every_name(path, name, page_offers):
    assert name in page_offers[path]


def test_the_listing_has_every_option(api):
    listing = api.get("/api/v1/video/options").json()
    voices = listing.pop("voice")
    assert {path: [c["name"] for c in o["choices"]] for path, o in listing.items()} == {
        path: list(table) for path, table in OPTION_TABLES.items()
    }
    assert all(c["description"] for o in listing.values() for c in o["choices"])
    # the voices are what `reelflow voices` lists, each one a render accepts
    assert [c["name"] for c in voices["choices"]] == [v.name for v in installed_voices()]
    assert voices["default"] is None and "espeak:en-us" in [c["name"] for c in voices["choices"]]


def test_derived_types_equal_their_tables():
    for path, table in OPTION_TABLES.items():
        assert literal_args(field_of(path).annotation) == tuple(table), path
    models = [
        (ProjectInput, "background_type", presets.DRAWN_BACKGROUNDS),
        (ProjectInput, "music_preset", presets.MUSIC_CHOICES),
        (ProjectStyle, "quality", presets.QUALITY_PRESETS),
        (ProjectStyle, "platform", presets.PLATFORM_PRESETS),
        (ProjectStyle, "aspect", presets.ASPECT_PRESETS),
        (RenderSettings, "music_preset", presets.RENDER_MUSIC_CHOICES),
        (RenderSettings, "subtitle_animation", presets.CAPTION_ANIMATIONS),
        (RenderSettings, "effects_preset", presets.EFFECTS_PRESETS),
        (RenderSettings, "quality", presets.QUALITY_PRESETS),
        (RenderSettings, "platform", presets.PLATFORM_PRESETS),
        (RenderSettings, "caption_style", presets.CAPTION_LOOKS),
        (RenderSettings, "aspect", presets.ASPECT_PRESETS),
        (RenderSettings, "background_transition", presets.BACKGROUND_TRANSITIONS),
    ]
    for model, name, table in models:
        assert literal_args(model.model_fields[name].annotation) == tuple(table), name
    engine = [
        (Background, "kind", presets.BACKGROUND_TYPES),
        (LayoutRules, "position", presets.CAPTION_POSITIONS),
        (RenderJob, "encoder", presets.ENCODERS),
        (choose_encoder, "requested", presets.ENCODERS),
        (WordTimings, "method", presets.TIMING_METHODS),
        (presets.CaptionStyle, "animation", presets.CAPTION_ANIMATIONS),
        (presets.CaptionStyle, "position", presets.CAPTION_POSITIONS),
        (presets.EffectsPreset, "easing", presets.EASINGS),
    ]
    for owner, name, table in engine:
        assert literal_args(get_type_hints(owner)[name]) == tuple(table), (owner, name)


def test_the_engine_knows_every_name():
    assert set(presets.CAPTION_ANIMATION_DEFAULTS) == set(presets.CAPTION_ANIMATIONS)
    for easing in presets.EASINGS:
        assert ease(easing, "u").startswith("(st(0,")


def _restated(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, table) of each Literal or literal collection whose names equal a table's keys."""
    for node in ast.walk(tree):
        elements: list[ast.expr] | None = None
        if isinstance(node, ast.Subscript) and "Literal" in ast.unparse(node.value):
            elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            elements = node.elts
        if not elements or not all(isinstance(e, ast.Constant) for e in elements):
            continue
        names = {e.value for e in elements}  # type: ignore[attr-defined]
        for table, keys in TABLES.items():
            if len(keys) > 1 and names == set(keys):
                yield node.lineno, table


def test_no_module_restates_a_table():
    found: list[str] = []
    for module in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        where = module.relative_to(PACKAGE.parent)
        found += sorted({f"{where}:{line} restates {table}" for line, table in _restated(tree)})
    assert not found, "derive these from the table with presets.names_of:\n" + "\n".join(found)


def test_literals_are_built_in_one_place():
    tree = ast.parse((PACKAGE / "presets.py").read_text(encoding="utf-8"))
    literals = [n for n in ast.walk(tree) if isinstance(n, ast.Subscript)]
    assert [ast.unparse(n) for n in literals if "Literal" in ast.unparse(n.value)] == [
        "Literal[tuple(table)]"
    ]


# Runs in a fresh interpreter: reelflow.presets is compiled from its source with one more entry
# in TABLE, then the spec, the store and the API listing must take the new name unchanged.
_ADD_A_NAME = """
import ast, asyncio, importlib.util, json, sys, types
table, field, name = sys.argv[1:4]
origin = importlib.util.find_spec("reelflow.presets").origin
tree = ast.parse(open(origin, encoding="utf-8").read())
(node,) = [n for n in tree.body if isinstance(n, ast.AnnAssign) and n.target.id == table]
node.value.keys.append(ast.Constant(name))
node.value.values.append(ast.Constant("added by a test"))
module = sys.modules["reelflow.presets"] = types.ModuleType("reelflow.presets")
module.__file__ = origin
exec(compile(ast.fix_missing_locations(tree), origin, "exec"), module.__dict__)
from reelflow.api.routes.presets import options
from reelflow.models import parse_spec
from reelflow.store import ProjectStyle
data = {"script": "hi"}
*parents, last = field.split(".")
target = data
for part in parents:
    target = target.setdefault(part, {})
target[last] = name
print(json.dumps({
    "spec": parse_spec(data).model_dump(mode="json"),
    "listed": [c.name for c in asyncio.run(options())[field].choices],
    "style": ProjectStyle.parse({k: v for k, v in data.items() if k in ProjectStyle.model_fields})
        .model_dump(mode="json"),
}))
"""


@pytest.mark.parametrize(
    ("table", "field"),
    [("MUSIC_MODES", "music.preset"), ("CAPTION_POSITIONS", "captions.position"),
     ("ENCODERS", "encoder")],
)  # fmt: skip
def test_a_name_added_to_a_table_is_accepted_everywhere(table, field):
    run = subprocess.run(
        [sys.executable, "-c", _ADD_A_NAME, table, field, "added"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PACKAGE.parent,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    value = result["spec"]
    for part in field.split("."):
        value = value[part]
    assert value == "added" and result["listed"][-1] == "added"
    if field == "captions.position":
        assert result["style"]["captions"]["position"] == "added"


# Options that are values rather than names from a table (issue 13): each goes through the same
# doors. (spec path, render body field, a good value, a bad value)
VALUE_OPTIONS = [("trim_pauses_over_s", "trim_pauses_over_s", 0.3, 0.0)]


@pytest.fixture(scope="module")
def voice_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.mediatools import speech_like

    folder = tmp_path_factory.mktemp("voice")
    return speech_like(folder / "voice.wav", [(0.2, 1.0), (2.0, 2.6)], seconds=3.0)


def _voice_spec(voice_file: Path, **extra: Any) -> dict[str, Any]:
    return {"voiceover": str(voice_file), "transcript": SCRIPT, **extra}


@pytest.mark.parametrize(("path", "body_field", "good", "bad"), VALUE_OPTIONS)
def test_value_options_reach_the_spec_and_the_cli(
    path, body_field, good, bad, voice_file, tmp_path
):
    assert getattr(parse_spec(_voice_spec(voice_file, **{path: good})), path) == good
    spec_file = tmp_path / "reel.json"
    for value, code in ((good, 0), (bad, 2)):
        spec_file.write_text(json.dumps(_voice_spec(voice_file, **{path: value})))
        result = CliRunner().invoke(cli_app, ["validate", str(spec_file)])
        assert result.exit_code == code, result.output
        if code:
            assert result.stderr.startswith(f"error: {path}:")
    spec_file.write_text(json.dumps({"script": SCRIPT, path: good}))  # a script has no pauses
    result = CliRunner().invoke(cli_app, ["validate", str(spec_file)])
    assert result.exit_code == 2 and path in result.stderr


@pytest.mark.parametrize(("path", "body_field", "good", "bad"), VALUE_OPTIONS)
def test_value_options_reach_the_api(path, body_field, good, bad, api, carol, voice_file):
    response = api.post(
        "/api/v1/projects",
        headers=carol.headers,
        data={"title": "voiced", "transcript": SCRIPT},
        files={"voiceover": ("voice.wav", voice_file.read_bytes())},
    )
    assert response.status_code == 201, response.text
    url = f"/api/v1/video/generate-advanced/{response.json()['id']}"
    ok = api.post(url, headers=carol.headers, json={body_field: good})
    assert ok.status_code == 503 and "Prefect" in ok.json()["detail"]  # the spec was built
    refused = api.post(url, headers=carol.headers, json={body_field: bad})
    assert refused.status_code == 422 and refused.json()["field"] == body_field
    scripted = f"/api/v1/video/generate-advanced/{make_project(api, carol)}"
    refused = api.post(scripted, headers=carol.headers, json={body_field: good})
    assert refused.status_code == 422 and path in refused.text, refused.text
    style = json.dumps({path: good})  # a project default: applied when the voice is uploaded
    assert api.post("/api/v1/projects", headers=carol.headers, data={"title": "t",
                    "script": SCRIPT, "style": style}).status_code == 201  # fmt: skip


@pytest.fixture(scope="module")
def talk_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.talkclip import make_talk_clip

    return make_talk_clip(tmp_path_factory.mktemp("talk"), ["One two.", "Three."], pause_s=0.6).path


def test_video_reaches_the_spec_the_cli_and_the_api(talk_file, voice_file, api, carol, tmp_path):
    spec = parse_spec({"video": str(talk_file), "transcript": SCRIPT, "trim_pauses_over_s": 0.3})
    assert spec.video == talk_file and spec.input_files() == {"video": talk_file}
    spec_file = tmp_path / "reel.json"
    cases = [
        ({"video": str(talk_file), "transcript": SCRIPT}, 0, ""),
        ({"video": str(tmp_path / "gone.mp4"), "transcript": SCRIPT}, 2, "error: video:"),
        ({"video": str(talk_file)}, 2, "error: transcript:"),
        ({"video": str(talk_file), "transcript": SCRIPT, "voiceover": str(voice_file)}, 2,
         "error: video:"),
        ({"video": str(talk_file), "transcript": SCRIPT, "background": {"type": "color"}}, 2,
         "error: background:"),
    ]  # fmt: skip
    for data, code, start in cases:
        spec_file.write_text(json.dumps(data))
        result = CliRunner().invoke(cli_app, ["validate", str(spec_file)])
        assert result.exit_code == code, (data, result.output)
        assert result.stderr.startswith(start) if code else "ok" in result.stdout

    def create(**files):
        return api.post(
            "/api/v1/projects",
            headers=carol.headers,
            data={"title": "my video", "transcript": SCRIPT},
            files={k: (v.name, v.read_bytes()) for k, v in files.items()},
        )

    made = create(video=talk_file)
    assert made.status_code == 201, made.text
    assert made.json()["voiceover"]["media"] == "video"
    url = f"/api/v1/video/generate-advanced/{made.json()['id']}"
    ok = api.post(url, headers=carol.headers, json={"trim_pauses_over_s": 0.3})
    assert ok.status_code == 503 and "Prefect" in ok.json()["detail"]  # the spec was built
    refused = create(video=voice_file)  # sound without a picture
    assert refused.status_code == 422 and refused.json()["field"] == "video"
    both = create(video=talk_file, voiceover=voice_file)
    assert both.status_code == 422 and both.json()["field"] == "video"


# Render body options that are values rather than table names (issue 13): a good value builds the
# spec, a bad one is a 422 naming the field. (body, field named in the refusal)
BODY_VALUES = [
    ({"title": {"text": "Watch this", "duration_s": 2}}, None),
    ({"title": {"text": "  "}}, "title.text"),
    ({"progress_bar": True}, None),
    ({"progress_bar": "often"}, "progress_bar"),
    ({"voice": "espeak:en-gb"}, None),
    ({"voice": "piper:nobody"}, "voice"),
    ({"emphasis": ["two"]}, None),
    ({"emphasis": "loud"}, "emphasis"),
    ({"caption_style": "neon"}, "caption_style"),
    ({"aspects": ["9:16", "1:1"]}, None),
    ({"aspects": ["9:16", "9:16"]}, "aspects"),
    ({"platform": "tiktok", "aspect": "16:9"}, "aspect"),
    ({"platform": "youtube_shorts", "aspects": ["9:16", "4:5"]}, "aspects"),
]


@pytest.mark.parametrize(("body", "field"), BODY_VALUES)
def test_render_body_values_reach_the_api(body, field, api, carol, project_id):
    url = f"/api/v1/video/generate-advanced/{project_id}"
    response = api.post(url, headers=carol.headers, json=body)
    if field is None:
        assert response.status_code == 503 and "Prefect" in response.json()["detail"]
    else:
        assert response.status_code == 422 and response.json()["field"] == field, response.text
    batch = api.post(
        "/api/v1/video/batch-generate-advanced",
        headers=carol.headers,
        json={"project_ids": [project_id], "settings": body},
    )  # a batch takes the same settings
    assert batch.status_code == (503 if field is None else 422), batch.text


def test_every_listed_voice_is_accepted():
    from reelflow.engine.speech.voices import check_installed

    voices = installed_voices()
    assert voices and all(check_installed(v.name).name for v in voices)
