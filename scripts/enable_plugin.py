#!/usr/bin/env python3
"""Link a plugin folder into a QGIS profile and mark it enabled.

Used by scripts/setup.sh (QGIS's default profile, for QGIS Desktop) and scripts/qgis_process
(a profile of the checkout's own, so headless runs always use this checkout). QGIS loads
a Python plugin from ``<profile>/python/plugins/<name>`` when ``[PythonPlugins] <name>=true``
is in ``<profile>/QGIS/QGIS3.ini``; qgis_process additionally needs
``hasProcessingProvider=yes`` in metadata.txt.

The ini file is edited line by line (not with configparser, which would lower-case and
re-escape QGIS's own keys); it is replaced atomically.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def link_plugin(plugins_dir: Path, name: str, target: Path) -> str:
    """Make ``plugins_dir/name`` a symlink to ``target``; returns what was done."""
    plugins_dir.mkdir(parents=True, exist_ok=True)
    link = plugins_dir / name
    if link.is_symlink():
        if Path(os.readlink(link)) == target:
            return f"{link} already points to {target}"
        link.unlink()
    elif link.exists():
        raise SystemExit(
            f"{link} exists and is not a symlink (an installed copy of the plugin?); "
            f"move it away and run again to use {target}"
        )
    link.symlink_to(target, target_is_directory=True)
    return f"linked {link} -> {target}"


def enable_in_ini(text: str, name: str) -> str:
    """``text`` of a QGIS3.ini with ``[PythonPlugins] name=true`` set (other lines kept)."""
    lines = text.splitlines()
    entry = f"{name}=true"
    section = None
    start = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
            if section == "PythonPlugins":
                start = i
            continue
        if section == "PythonPlugins" and stripped.split("=", 1)[0].strip() == name:
            lines[i] = entry
            return "\n".join(lines) + "\n"
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += ["[PythonPlugins]", entry]
    else:
        lines.insert(start + 1, entry)
    return "\n".join(lines) + "\n"


def enable_plugin(ini: Path, name: str) -> str:
    old = ini.read_text(encoding="utf-8") if ini.exists() else ""
    new = enable_in_ini(old, name)
    if new == old:
        return f"{name} already enabled in {ini}"
    ini.parent.mkdir(parents=True, exist_ok=True)
    tmp = ini.with_name(ini.name + ".rsseg.tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, ini)
    return f"enabled {name} in {ini}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-root", required=True, type=Path,
                        help="QGIS config folder holding profiles/ (~/.local/share/QGIS/QGIS3)")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--name", default="rsseg")
    parser.add_argument("--plugin-dir", required=True, type=Path)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    profile = args.config_root / "profiles" / args.profile
    messages = [
        link_plugin(profile / "python" / "plugins", args.name, args.plugin_dir.resolve()),
        enable_plugin(profile / "QGIS" / "QGIS3.ini", args.name),
    ]
    if not args.quiet:
        print("\n".join(messages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
