"""mkdocs hook: the nav in mkdocs.yml lists pages some branches have not added yet.

Listed pages that do not exist are dropped; pages under docs/ that the nav does not list are
appended under "More", so `mkdocs build --strict` passes whichever pages a checkout has.
"""

from pathlib import Path


def on_config(config):
    docs = Path(config["docs_dir"])
    listed: set[str] = set()
    nav = _existing(config["nav"] or [], docs, listed)
    unlisted = sorted(str(p.relative_to(docs)) for p in docs.rglob("*.md") if str(p.relative_to(docs)) not in listed)
    if unlisted:
        nav.append({"More": unlisted})
    config["nav"] = nav
    return config


def _existing(items: list, docs: Path, listed: set[str]) -> list:
    kept = []
    for item in items:
        title, value = next(iter(item.items())) if isinstance(item, dict) else (None, item)
        if isinstance(value, list):
            children = _existing(value, docs, listed)
            if children:
                kept.append({title: children})
        elif (docs / value).is_file():
            listed.add(value)
            kept.append(item)
    return kept
