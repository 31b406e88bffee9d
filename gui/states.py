"""The small view-model states the root holds: the import panel, the transport column, the recovery panel."""

from __future__ import annotations

from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty


class TrackerPanelState(EventDispatcher):
    """The import side of the panel: dialog filters and what the last import brought in."""

    import_dialog_filters = ListProperty([])
    import_asset_count = NumericProperty(0)
    import_label = StringProperty("")
    import_manifest_sha256 = StringProperty("")
    import_bundle_root = StringProperty("")
    import_sampler_asset_names = ListProperty([])


class TransportControlsState(EventDispatcher):
    """What the transport column shows: the recovery prompt and the last import's summary."""

    recovery_prompt = StringProperty("")
    import_summary = StringProperty("")


class RecoveryState(EventDispatcher):
    """The recovery panel shown on launch when an autosave is newer than the head (reopenable)."""

    visible = BooleanProperty(False)
    available = BooleanProperty(False)
    prompt = StringProperty("")
    when = StringProperty("")  # the prompt's UTC stamp is the contract's; musicians read this local time
    manifest_sha256 = StringProperty("")
    sampler_assets = ListProperty([])
    summary = StringProperty("")
    ref = StringProperty("")
