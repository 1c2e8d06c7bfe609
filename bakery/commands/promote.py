"""`bakery promote` (aws target): tag an AMI bakery:promoted-ENV after the gates in bakery.yml."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bakery.commands import AppContext, Result, line
from bakery.errors import GateRefused

TARGET = "aws"  # promotions are tags on AMIs: only the aws target has them


@dataclass(frozen=True)
class Promoted(Result):
    promotion: object  # bakery.aws.promote.Promotion

    def to_json(self):
        return asdict(self.promotion)

    def render(self, out, err):
        p = self.promotion
        line(err, f"{p.ami_id} {'was already promoted' if p.already else 'promoted'} to {p.env} ({p.at})")


def promote(app: AppContext, service: str, env: str, image: str | None = None, approve: bool = False) -> Promoted:
    from bakery.aws import promote as aws_promote

    project = app.load()
    ami_id = named_ami(app, project, service, image) if image else default_promotion_ami(app, project, service, env)
    return Promoted(aws_promote.promote(app.aws_connection(project), project, service, env, ami_id, approve=approve))


def named_ami(app: AppContext, project, service: str, image: str) -> str:
    """An AMI id as it is (promote checks that it exists and is the service's); any other name as
    every --image takes it (images.resolve_image: the 12-hex tag `bakery images` prints, a prefix)."""
    from bakery.images import resolve_image

    if image.startswith("ami-"):
        return image
    return resolve_image(app.target(project, TARGET).list_images(service), image, service).image_id


def default_promotion_ami(app: AppContext, project, service: str, env: str) -> str:
    """The newest AMI promoted to the environment before env; for the first environment, the newest verified."""
    from bakery.aws import promote as aws_promote

    after = aws_promote.environment_after(project, env)
    wanted = (lambda i: f"bakery.promoted-{after}" in i.labels) if after else (lambda i: i.labels.get("bakery.verified") == "true")
    for record in app.target(project, TARGET).list_images(service):  # newest first
        if wanted(record):
            return record.image_id
    raise GateRefused(f"no AMI of '{service}' is {'promoted to ' + after if after else 'verified'} yet",
                      hint=f"run bakery {'promote ' + service + ' --to ' + after if after else 'build ' + service + ' --target aws'}")
