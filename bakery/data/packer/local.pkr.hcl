# Local target: a container image built by the docker builder on podman
# (bakery puts a `docker` shim that execs podman first on PATH).
source "docker" "local" {
  image  = var.base_image
  pull   = false
  commit = true
  # systemd runs as PID 1 during the bake, so roles can enable and start services.
  run_command = [
    "-d", "-i", "-t", "--systemd=always",
    "--name=bakery-build-${var.run_id}",
    "--label=bakery.run-id=${var.run_id}",
    "--entrypoint=/sbin/init", "--", "{{.Image}}",
  ]
  changes = concat(
    ["ENTRYPOINT [\"/sbin/init\"]", "STOPSIGNAL SIGRTMIN+3"],
    [for key, value in var.image_labels : "LABEL ${key}=${jsonencode(value)}"],
  )
}
