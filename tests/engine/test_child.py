"""`call_in_child`: an engine function in a fresh process, its result or its error back."""

from __future__ import annotations

import os
import pickle

import pytest

from reelflow.engine.child import call_in_child
from reelflow.engine.errors import InputError, MediaError
from reelflow.engine.text import tokenize


def test_the_result_comes_back_from_another_process():
    assert call_in_child(os.getpid) != os.getpid()
    assert call_in_child(tokenize, "Hello, 2 worlds!") == tokenize("Hello, 2 worlds!")


def test_an_input_error_keeps_its_field():
    from reelflow.engine.alignment.align import align_file

    with pytest.raises(InputError) as caught:
        call_in_child(align_file, "/nonexistent/voice.wav", "some words")
    assert caught.value.field == "audio"
    assert "file not found" in str(caught.value)


def test_errors_survive_pickling_with_their_fields():
    error = pickle.loads(pickle.dumps(InputError("too long", field="voiceover")))
    assert (error.field, error.reason, str(error)) == (
        "voiceover",
        "too long",
        "voiceover: too long",
    )
    media = pickle.loads(pickle.dumps(MediaError("killed", transient=True, log_tail="x")))
    assert (media.transient, media.log_tail, str(media)) == (True, "x", "killed")


def test_a_child_that_dies_is_a_media_error():
    with pytest.raises(MediaError, match="without an answer"):
        call_in_child(os._exit, 3)


def test_a_slow_child_is_stopped_at_its_timeout():
    import time

    with pytest.raises(MediaError, match="longer than"):
        call_in_child(time.sleep, 30, timeout_s=1)
