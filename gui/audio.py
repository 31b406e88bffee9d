"""Playing samples: the library decodes a blob to a WAV; Kivy's SoundLoader plays it, one after another."""

from __future__ import annotations

from typing import Any

from kivy.event import EventDispatcher
from kivy.properties import ListProperty, StringProperty


class SamplePlayer(EventDispatcher):
    """Plays a queue of decoded WAV files in order ("old, then new"); ``playing`` names what sounds now."""

    playing = StringProperty("")
    queue = ListProperty([])
    loaded = ListProperty([])  # (label, length in seconds) of each file the audio output accepted

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sound: Any = None

    def play(self, items: list[tuple[str, str]]) -> None:
        """Play ``(label, wav path)`` items one after another, stopping whatever plays now."""
        self.stop()
        self.queue = list(items)
        self._next()

    def _next(self, *_args: Any) -> None:
        from kivy.core.audio import SoundLoader

        if not self.queue:
            self.playing = ""
            return
        (label, path), *rest = self.queue
        self.queue = rest
        sound = SoundLoader.load(path)
        if sound is None:  # no audio output on this machine: say so and go on
            self.playing = f"cannot play {label}: no audio output"
            return
        self.loaded = [*self.loaded, (label, float(sound.length))]
        self._sound = sound
        sound.bind(on_stop=self._next)
        self.playing = label
        sound.play()

    def stop(self) -> None:
        """Stop playing and forget the queue."""
        self.queue = []
        sound, self._sound = self._sound, None
        if sound is not None:
            sound.unbind(on_stop=self._next)
            sound.stop()
        self.playing = ""
