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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the viewer."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    args = parse_args(argv)
    from casstore import CasstoreError

    try:
        from .viewmodels import TrackerMixerRoot

        vm = TrackerMixerRoot(args.store, args.project, args.workdir)
        if args.sampler_manifest:
            vm.configure_sampler_manifest(args.sampler_manifest)
        vm.load()
    except CasstoreError as exc:
        print(f"casstore-viewer: error: {exc}", file=sys.stderr)
        return 2
    from kivy.app import App
    from kivy.clock import Clock

    from .views import build_root

    class CasstoreViewerApp(App):
        title = "casstore viewer"

        def build(self) -> Any:
            from kivy.core.window import Window

            Window.size = (1280, 800)
            root = build_root(vm)
            if args.autosave_interval:
                vm.enable_autosave(args.autosave_interval)
            if args.no_recovery:
                vm.dismiss_recovery()
            for row in vm.history[: args.select]:
                vm.toggle_select(row["commit"])
            if args.select >= 2:
                vm.diff_selected()
            if args.screenshot:
                Clock.schedule_once(lambda _dt: self._shoot(args.screenshot), 1.5)
            elif args.exit_after:
                Clock.schedule_once(lambda _dt: self.stop(), args.exit_after)
            return root

        def _shoot(self, path: str) -> None:
            from kivy.core.window import Window

            # Window.screenshot numbers its files (x0001.png); move the shot to the name asked for.
            written = Window.screenshot(name=path)
            if written and written != path:
                os.replace(written, path)
            self.stop()

    CasstoreViewerApp().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
