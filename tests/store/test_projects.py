"""Projects: CRUD scoped by user, validation with field names, files kept or removed safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelflow.engine.errors import InputError
from reelflow.settings import Settings
from reelflow.store import Store


def upload(store: Store, user_id: str, kind: str, path: Path):
    with path.open("rb") as f:
        return store.save_upload(user_id, kind, f, filename=path.name)


def test_create_get_list_update_delete(store: Store, alice) -> None:
    project = store.create_project(alice.id, {"title": " My  first reel ", "script": "Hi there"})
    assert project.title == "My first reel"
    assert project.user_id == alice.id
    assert project.created_at.tzinfo is not None

    again = store.get_project(alice.id, project.id)
    assert (again.title, again.script, again.style) == (project.title, "Hi there", project.style)
    second = store.create_project(alice.id, {"title": "Second", "script": "More words"})
    assert [p.id for p in store.list_projects(alice.id)] == [second.id, project.id]

    changed = store.update_project(
        alice.id, project.id, {"title": "Renamed", "style": {"quality": "low"}}
    )
    assert changed.title == "Renamed"
    assert changed.style["quality"] == "low"
    assert changed.style["platform"] == "instagram"  # style merged, not replaced
    assert changed.updated_at >= project.updated_at
    assert store.get_project(alice.id, project.id).style["quality"] == "low"

    assert store.delete_project(alice.id, project.id) is True
    assert store.get_project(alice.id, project.id) is None
    assert store.delete_project(alice.id, project.id) is False


def test_another_users_project_behaves_like_a_missing_one(store: Store, alice, bob) -> None:
    project = store.create_project(alice.id, {"title": "Private", "script": "Secret words"})
    missing = "0" * 32
    for project_id in (project.id, missing):
        assert store.get_project(bob.id, project_id) is None
        assert store.update_project(bob.id, project_id, {"title": "Mine now"}) is None
        assert store.delete_project(bob.id, project_id) is False
        assert store.correct_word_timings(bob.id, project_id, {"0": [0, 1]}) is None
    assert store.list_projects(bob.id) == []
    assert store.get_project(alice.id, project.id).title == "Private"


def test_foreign_upload_ids_are_refused_like_unknown_ones(
    store: Store, alice, bob, wav_file: Path
) -> None:
    bobs = upload(store, bob.id, "voice", wav_file)
    data = {"title": "t", "transcript": "hello", "voice_upload_id": bobs.id}
    with pytest.raises(InputError) as foreign:
        store.create_project(alice.id, data)
    with pytest.raises(InputError) as unknown:
        store.create_project(alice.id, {**data, "voice_upload_id": "f" * 32})
    assert foreign.value.field == unknown.value.field == "voiceover"
    assert str(foreign.value).replace(bobs.id, "ID") == str(unknown.value).replace("f" * 32, "ID")
    assert store.list_projects(alice.id) == []


@pytest.mark.parametrize(("data", "field"), [
    ({"title": "t"}, "script"),
    ({"title": "t", "script": "   "}, "script"),
    ({"title": "", "script": "words"}, "title"),
    ({"title": "t", "script": "— …"}, "script"),
    ({"title": "t", "script": "words", "style": {"quality": "8k"}}, "style.quality"),
    ({"title": "t", "script": "words", "music_preset": "jazz"}, "music_preset"),
    ({"title": "t", "script": "words", "background_colors": ["nope"]}, "background_colors.0"),
    ({"title": "t", "script": "words", "owner": "x"}, "owner"),
    ({"title": "t", "script": "word " * 20_001}, "script"),  # a 100 kB script
    ({"title": "x" * 201, "script": "words"}, "title"),
])  # fmt: skip
def test_invalid_projects_name_the_field(store: Store, alice, data, field) -> None:
    with pytest.raises(InputError) as err:
        store.create_project(alice.id, data)
    assert err.value.field == field


def test_voice_projects_need_a_transcript_and_the_right_upload_kinds(
    store: Store, alice, wav_file: Path, png_file: Path, video_file: Path
) -> None:
    voice = upload(store, alice.id, "voice", wav_file)
    music = upload(store, alice.id, "music", wav_file)
    image = upload(store, alice.id, "background", png_file)
    clip = upload(store, alice.id, "background", video_file)
    base = {"title": "t", "voice_upload_id": voice.id, "transcript": "hello world"}

    cases = [
        ({**base, "transcript": ""}, "transcript"),
        ({**base, "script": "also this"}, "script"),
        ({**base, "voice_upload_id": music.id}, "voiceover"),
        ({**base, "music_upload_id": voice.id}, "music"),
        ({**base, "background_upload_ids": [image.id, clip.id]}, "background"),
        ({**base, "transcript": "!!! ???"}, "transcript"),
    ]
    for data, field in cases:
        with pytest.raises(InputError) as err:
            store.create_project(alice.id, data)
        assert err.value.field == field, data

    project = store.create_project(
        alice.id, {**base, "music_upload_id": music.id, "background_upload_ids": [image.id] * 2}
    )
    assert [u.id for u in project.background_uploads] == [image.id, image.id]
    assert project.voice.id == voice.id and project.music_upload.id == music.id


def test_deleting_a_project_removes_only_files_nothing_else_uses(
    store: Store, alice, wav_file: Path, png_file: Path
) -> None:
    voice = upload(store, alice.id, "voice", wav_file)
    shared = upload(store, alice.id, "background", png_file)
    own = upload(store, alice.id, "background", png_file)
    music = upload(store, alice.id, "music", wav_file)
    first = store.create_project(alice.id, {
        "title": "one", "voice_upload_id": voice.id, "transcript": "hi",
        "background_upload_ids": [shared.id, own.id], "music_upload_id": music.id,
    })  # fmt: skip
    store.create_project(alice.id, {
        "title": "two", "script": "hello", "background_upload_ids": [shared.id],
    })  # fmt: skip

    assert store.delete_project(alice.id, first.id)
    assert not store.upload_path(voice).exists()
    assert not store.upload_path(own).exists()
    assert store.upload_path(shared).exists()  # the second project still shows it
    assert store.upload_path(music).exists()  # music stays in the user's library
    assert {u.id for u in store.list_uploads(alice.id)} == {shared.id, music.id}


def test_replacing_a_voice_switches_then_removes_the_old_file(
    store: Store, alice, wav_file: Path, mp3_file: Path
) -> None:
    old = upload(store, alice.id, "voice", wav_file)
    project = store.create_project(
        alice.id, {"title": "t", "voice_upload_id": old.id, "transcript": "hello"}
    )
    new = upload(store, alice.id, "voice", mp3_file)

    # A failed update changes nothing and removes nothing.
    with pytest.raises(InputError):
        store.update_project(alice.id, project.id, {"voice_upload_id": new.id, "transcript": ""})
    assert store.get_project(alice.id, project.id).voice_upload_id == old.id
    assert store.upload_path(old).exists() and store.upload_path(new).exists()

    changed = store.update_project(alice.id, project.id, {"voice_upload_id": new.id})
    assert changed.voice.id == new.id
    assert store.upload_path(new).exists()
    assert not store.upload_path(old).exists()
    assert store.get_upload(alice.id, old.id) is None


def test_uploads_in_use_cannot_be_deleted(store: Store, alice, png_file: Path) -> None:
    image = upload(store, alice.id, "background", png_file)
    store.create_project(
        alice.id, {"title": "t", "script": "hi", "background_upload_ids": [image.id]}
    )
    with pytest.raises(InputError) as err:
        store.delete_upload(alice.id, image.id)
    assert err.value.field == "upload_id"
    assert store.upload_path(image).exists()


def test_tasks_are_recorded_per_user(store: Store, alice, bob) -> None:
    project = store.create_project(alice.id, {"title": "t", "script": "hello"})
    task = store.record_task(
        alice.id, "run-1", project_id=project.id, parameters={"quality": "low"}
    )
    batch = store.record_task(alice.id, "batch-1", kind="batch")
    store.record_task(alice.id, "run-2", project_id=project.id, parent_id=batch.id)

    assert store.get_task(alice.id, "run-1").parameters == {"quality": "low"}
    assert store.get_task(bob.id, "run-1") is None
    assert store.get_task(alice.id, "run-404") is None
    assert {t.id for t in store.list_tasks(alice.id)} == {"run-1", "run-2", "batch-1"}
    assert [t.id for t in store.list_tasks(alice.id, parent_id="batch-1")] == ["run-2"]
    assert store.list_tasks(bob.id) == []
    # Recording the same run again (a retried request) returns the first record.
    assert store.record_task(alice.id, "run-1", parameters={"other": 1}).parameters == {
        "quality": "low"
    }
    assert task.created_at.tzinfo is not None

    with pytest.raises(InputError) as err:
        store.record_task(bob.id, "run-3", project_id=project.id)
    assert err.value.field == "project_id"

    store.delete_project(alice.id, project.id)  # tasks outlive their project
    assert store.get_task(alice.id, "run-1").project_id is None


def test_everything_survives_a_restart(
    store_settings: Settings, wav_file: Path, png_file: Path
) -> None:
    with Store(store_settings) as first:
        user, token = first.create_user("Alice", plan="premium")
        voice = upload(first, user.id, "voice", wav_file)
        image = upload(first, user.id, "background", png_file)
        project = first.create_project(user.id, {
            "title": "kept", "voice_upload_id": voice.id, "transcript": "hello world",
            "background_upload_ids": [image.id], "style": {"platform": "tiktok"},
        })  # fmt: skip
        first.record_task(user.id, "run-1", project_id=project.id, parameters={"a": 1})

    with Store(store_settings) as second:  # a new API process
        assert second.authenticate(token).id == user.id
        again = second.get_project(user.id, project.id)
        assert (again.title, again.voice.id, again.style["platform"]) == (
            "kept", voice.id, "tiktok"
        )  # fmt: skip
        assert [u.id for u in again.background_uploads] == [image.id]
        assert second.upload_path(again.voice).read_bytes() == wav_file.read_bytes()
        assert [t.id for t in second.list_tasks(user.id)] == ["run-1"]
        assert second.get_task(user.id, "run-1").project_id == project.id
