"""The ``kiosk calibrate`` sub-commands' parser, kept apart from ``kiosk.calibrate``.

``kiosk.calibrate`` needs OpenCV, numpy and the face engine; every ``kiosk`` command builds the
whole parser, so registering it here keeps ``kiosk --version`` or ``kiosk doctor`` from loading them.
"""

from __future__ import annotations

import argparse


def cmd_calibrate_face(cfg: object, args: argparse.Namespace) -> int:
    from kiosk.calibrate import cmd_calibrate_face as run

    return run(cfg, args)


def add_calibrate_commands(sub: argparse._SubParsersAction) -> None:
    cal = sub.add_parser("calibrate", help="thresholds from field data").add_subparsers(
        dest="calibrate_command", required=True
    )
    face = cal.add_parser(
        "face",
        help="genuine and impostor face distances of DIR/<person>/<photo>.jpg, and a suggested threshold",
    )
    face.add_argument("dir", help="folder with one sub-folder of photos per person")
    face.add_argument("--far", type=float, default=0.001, help="target false-accept rate per pair (default 0.001)")
    face.set_defaults(func=cmd_calibrate_face)
