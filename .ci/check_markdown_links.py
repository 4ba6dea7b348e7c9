#!/usr/bin/env python3
"""Checks that the intra-repo links of every tracked Markdown file resolve.

Checked, outside fenced code blocks:
  - inline links and images `[text](target)` and reference definitions `[label]: target` whose
    target has no URL scheme: the path (relative to the file) must be a tracked file or a directory
    holding one; a `#anchor` must name a heading of the target Markdown file (or of the same file
    when the path is empty), slugged as GitHub does;
  - paths written in a code span that start with a top-level entry of the repository (`docs/…`,
    `crates/…`) or with `../shared/`: prose names files relative to the repository root.

Paths under `../shared` (the design documents beside the clone) may point outside the repository;
they are checked when that directory exists, as it does in CI. Standard library only, no network.
Exit status 1 with one line per broken link.
"""

import os
import re
import subprocess
import sys
from urllib.parse import unquote

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
# Lexically, not through symlinks: ../shared may be a link to the documents kept elsewhere.
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))

FENCE = re.compile(r"^ {0,3}(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# `[text](target "title")` and `![alt](target)`; the target may be in angle brackets.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)\s*$")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def tracked_files():
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], check=True, capture_output=True).stdout
    return [p for p in out.decode().split("\0") if p]


def prose_lines(text):
    """Yields (line number, line) outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), start=1):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
            continue
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        yield number, line


def slug(heading):
    """GitHub's anchor for a heading: the rendered text lowercased, punctuation other than '-' and
    '_' dropped, spaces turned into '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link renders as its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML renders no text of its own
    text = text.replace("*", "")  # emphasis markers
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors_of(text):
    anchors = set()
    seen = {}
    previous = None
    for _, line in prose_lines(text):
        heading = None
        atx = ATX_HEADING.match(line)
        if atx:
            heading = atx.group(2)
        elif previous and previous.strip() and SETEXT_UNDERLINE.match(line) and not previous.startswith((" " * 4, "\t")):
            heading = previous.strip()
        previous = line
        if heading is None:
            continue
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        anchors.add(base if count == 0 else f"{base}-{count}")
    return anchors


def main():
    files = tracked_files()
    tracked = set(files)
    directories = {os.path.dirname(p) for p in files}
    for d in list(directories):
        while d:
            d = os.path.dirname(d)
            directories.add(d)
    top_level = {p.split("/", 1)[0] for p in files if "/" in p}
    anchor_cache = {}

    def anchors(path):
        if path not in anchor_cache:
            with open(path, encoding="utf-8") as f:
                anchor_cache[path] = anchors_of(f.read())
        return anchor_cache[path]

    broken = []
    checked = 0

    def check(source, number, base_dir, target):
        """Checks one target written in `source`; paths are relative to `base_dir`."""
        nonlocal checked
        if target.startswith("<") and target.endswith(">"):
            target = target[1:-1]
        if not target or SCHEME.match(target) or target.startswith("//"):
            return
        checked += 1
        path_part, _, anchor = target.partition("#")
        path_part = unquote(path_part.split("?", 1)[0])
        where = f"{source}:{number}: {target}"
        if path_part:
            if path_part.startswith("/"):
                broken.append(f"{where}: absolute paths do not resolve on GitHub; write it relative to the file")
                return
            full = os.path.normpath(os.path.join(ROOT, base_dir, path_part))
            relative = os.path.relpath(full, ROOT)
            if relative == ".." or relative.startswith("../"):
                if not (full == SHARED or full.startswith(SHARED + os.sep)):
                    broken.append(f"{where}: points outside the repository (only ../shared is allowed)")
                    return
                if not os.path.isdir(SHARED):
                    return  # ../shared is not beside this clone; CI has it
                if not os.path.exists(full):
                    broken.append(f"{where}: no such file in ../shared")
                    return
            else:
                relative = "" if relative == "." else relative
                if relative not in tracked and relative not in directories:
                    broken.append(f"{where}: no tracked file or directory {relative or '.'}")
                    return
        else:
            full = os.path.join(ROOT, source)
        if anchor and full.endswith(".md") and os.path.isfile(full):
            if unquote(anchor).lower() not in anchors(full):
                broken.append(f"{where}: no heading with the anchor #{anchor} in {os.path.relpath(full, ROOT)}")

    for source in sorted(p for p in files if p.endswith(".md")):
        with open(os.path.join(ROOT, source), encoding="utf-8") as f:
            text = f.read()
        base_dir = os.path.dirname(source)
        for number, line in prose_lines(text):
            definition = REFERENCE_DEFINITION.match(line)
            if definition:
                check(source, number, base_dir, definition.group(1))
            for span in CODE_SPAN.finditer(line):
                content = span.group(2).strip()
                first = content.split("/", 1)[0]
                if "/" in content and (first in top_level or content.startswith("../shared/")) and not re.search(r"[\s<>{}*]", content):
                    check(source, number, "", content)
            for link in INLINE_LINK.finditer(CODE_SPAN.sub("", line)):
                check(source, number, base_dir, link.group(1))

    if broken:
        print(f"{len(broken)} broken intra-repo Markdown link(s):")
        for line in broken:
            print(f"  {line}")
        return 1
    print(f"Markdown links: {checked} intra-repo links in {sum(p.endswith('.md') for p in files)} files resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
