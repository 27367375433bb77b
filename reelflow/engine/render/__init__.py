"""The render: background, camera effects, the audio mix, encoding and the one filter graph."""
