# The peer of bench/peer.py: api-service baked the way a team wires Packer and Ansible by hand,
# without bakery. Packer's docker builder (on podman, through a `docker` shim on PATH) starts the
# base image with systemd, Packer's ansible provisioner runs the service's playbook through
# Packer's own SSH proxy (every task a `docker exec`), and the container is committed as the image.
# Run by hand:  packer build -var-file=peer.pkrvars.json bench/peer
# (Packer >= 1.7 also needs a `packer { required_plugins }` block; bench/peer.py writes one then.)

variable "base_image" {
  type = string
}

variable "playbook_file" {
  type = string
}

variable "roles_path" {
  type = string
}

variable "extra_vars_file" {
  type = string
}

variable "container_name" {
  type = string
}

variable "manifest" {
  type = string
}

source "docker" "api" {
  image  = var.base_image
  pull   = false
  commit = true
  # systemd as PID 1 during the bake, so roles can enable and start services
  run_command = ["-d", "-i", "-t", "--systemd=always", "--name=${var.container_name}", "--entrypoint=/sbin/init", "--", "{{.Image}}"]
  changes     = ["ENTRYPOINT [\"/sbin/init\"]", "STOPSIGNAL SIGRTMIN+3"]
}

build {
  name    = "peer"
  sources = ["source.docker.api"]

  provisioner "ansible" {
    playbook_file = var.playbook_file
    user          = "root"
    use_sftp      = true # the base's OpenSSH scp speaks SFTP; Packer's proxy serves it as sftp
    extra_arguments = [
      "--extra-vars", "@${var.extra_vars_file}",
      # Packer 1.6.6's SSH proxy offers only an ssh-rsa host key
      "--ssh-extra-args", "-oHostKeyAlgorithms=+ssh-rsa -oPubkeyAcceptedKeyTypes=+ssh-rsa",
    ]
    ansible_env_vars = [
      "ANSIBLE_ROLES_PATH=${var.roles_path}",
      "ANSIBLE_PIPELINING=True",
      "ANSIBLE_RETRY_FILES_ENABLED=False",
    ]
  }

  # Ansible's remote temp files do not belong in the image
  provisioner "shell" {
    inline = ["rm -rf /root/.ansible"]
  }

  post-processor "manifest" {
    output     = var.manifest
    strip_path = true
  }
}
