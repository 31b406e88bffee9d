"""``casstore-viewer``: the Kivy app; the only module that opens a window."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the viewer's command line."""
    parser = argparse.ArgumentParser(
        prog="casstore-viewer", description="Browse a project's history and recover autosaves."
    )
    parser.add_argument("project", nargs="?", help="project id (default: the store's first project)")
    parser.add_argument("--store", help="store path (default: CASSTORE_DIR or .casstore found upward)")
    parser.add_argument("--workdir", help="working directory that Restore writes into")
    parser.add_argument("--sampler-manifest", help="sampler manifest for the import dialog's filters")
    parser.add_argument("--autosave-interval", type=float, default=0, help="autosave the workdir every N seconds")
    parser.add_argument("--exit-after", type=float, default=0, help="quit after N seconds (smoke tests)")
    parser.add_argument("--screenshot", help="save a screenshot to this PNG path, then quit")
    parser.add_argument("--select", type=int, default=0, help="select the first N history rows (screenshots)")
    parser.add_argument("--no-recovery", action="store_true", help="start with the recovery panel closed")
    parser.add_argument("--size", default="1280x800", help="window size WIDTHxHEIGHT (default 1280x800)")
    panes = ["history", "version", "changes", "samples"]
    parser.add_argument("--tab", choices=panes, help="pane to show first (screenshots)")
    return parser.parse_args(argv)


def _pick_first_changes(root: Any) -> None:
    from .step_grid import first_change

    for pane in getattr(root, "grid_panes", []):
        first = first_change(pane.cells.grid)
        if first is not None and not pane.cells.picked:
            pane.cells.pick(first[1], first[0])


def _not_black(path: str) -> bool:
    """Tell whether a PNG holds a drawn frame (not all one dark colour)."""
    from kivy.core.image import Image as CoreImage

    pixels = CoreImage(path).texture.pixels
    sample = pixels[:: 4 * 97][:4000]
    return max(sample) > 60 and len(set(sample)) > 8


def main(argv: list[str] | None = None) -> int:
    """Run the viewer (a missing store or project is shown in the window, with a folder picker)."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    args = parse_args(argv)
    from .viewmodels import TrackerMixerRoot

    vm = TrackerMixerRoot(args.store, args.project, args.workdir)
    if args.sampler_manifest:
        vm.configure_sampler_manifest(args.sampler_manifest)
    vm.load()
    from kivy.app import App
    from kivy.clock import Clock

    from .views import build_root

    width, height = (int(v) for v in args.size.lower().split("x"))
    outcome = {"code": 0}

    class CasstoreViewerApp(App):
        title = "casstore viewer"

        def build(self) -> Any:
            from kivy.core.window import Window

            Window.size = (width, height)
            root = build_root(vm)
            if args.autosave_interval:
                vm.enable_autosave(args.autosave_interval)
            if args.no_recovery:
                vm.dismiss_recovery()
            for row in vm.history[: args.select]:
                vm.toggle_select(row["commit"])
            if args.tab:
                Clock.schedule_once(lambda _dt: root.show_tab(args.tab.replace("samples", "version")), 0)
            if args.tab == "samples":  # the version pane scrolled down to its samples' waveforms
                scroll = root.version_scroll
                Clock.schedule_interval(
                    lambda _dt: setattr(scroll, "scroll_y", 0 if scroll.children[0].height > scroll.height else 1), 0.1
                )
            if args.tab == "changes":  # each grid's first change picked, as if tapped: its old → new shows
                Clock.schedule_interval(lambda _dt: _pick_first_changes(root), 0.1)
            if args.screenshot:
                self._frames = 0
                Clock.schedule_interval(lambda _dt: self._try_shot(root, args.screenshot), 0.1)
            elif args.exit_after:
                Clock.schedule_once(lambda _dt: self.stop(), args.exit_after)
            return root

        def _try_shot(self, root: Any, path: str) -> bool:
            from kivy.core.window import Window

            # Shoot only once the work is done and a few frames drew it; a black frame is retried.
            ready = not vm.busy and (vm.history or vm.problem) and root.width == Window.width
            self._frames = self._frames + 1 if ready else 0
            if self._frames < 5:
                return True
            written = Window.screenshot(name=path)
            if written and written != path:
                os.replace(written, path)
            if _not_black(path):
                self.stop()
                return False
            if self._frames > 300:
                print(f"casstore-viewer: error: {path}: every frame was black", file=sys.stderr)
                outcome["code"] = 1
                self.stop()
                return False
            return True

    CasstoreViewerApp().run()
    return outcome["code"]


if __name__ == "__main__":
    sys.exit(main())
