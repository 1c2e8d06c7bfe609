"""`bakery images`: baked images with verdict, fingerprint, age and size."""

from __future__ import annotations

from dataclasses import dataclass

from bakery.commands import AppContext, Result, line

ROW = "{:<16} {:<48} {:<12} {:<13} {:>10} {:>10}"


@dataclass(frozen=True)
class Images(Result):
    rows: list[dict]

    def to_json(self):
        return self.rows

    def render(self, out, err):
        line(out, ROW.format("SERVICE", "IMAGE", "VERIFIED", "FINGERPRINT", "AGE", "SIZE"))
        for row in self.rows:
            line(out, ROW.format(row["service"], row["image"], row["verification"], row["fingerprint"][:12], row["age"],
                                 row["size"]))


def images(app: AppContext, service: str | None = None, target: str | None = None) -> Images:
    from bakery import images as listing

    project = app.load()
    return Images(listing.list_images(project, service, app.target_name(project, target), **app.aws))
