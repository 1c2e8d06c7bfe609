build {
  # bakery runs one of them: -only=bakery.docker.local or -only=bakery.amazon-ebs.aws
  name    = "bakery"
  sources = ["source.docker.local", "source.amazon-ebs.aws"]

  provisioner "ansible" {
    playbook_file = var.playbook_file
    user          = var.ansible_user
    use_sftp      = true
    # ansible-core is a dependency of bakery and its version a fingerprint input; Packer's own
    # check runs `ansible-playbook --version` twice per bake (about 0.5 s of CPU each).
    skip_version_check = true
    extra_arguments = concat([
      "--extra-vars", "@${var.extra_vars_file}",
      # Packer 1.6.6's SSH proxy offers only an ssh-rsa host key.
      "--ssh-extra-args", "-oHostKeyAlgorithms=+ssh-rsa -oPubkeyAcceptedKeyTypes=+ssh-rsa",
      ],
      # Local target: Ansible connects through sshd in the container instead of the proxy.
      var.connection_vars_file == "" ? [] : ["--extra-vars", "@${var.connection_vars_file}"],
    )
    ansible_env_vars = [
      "ANSIBLE_ROLES_PATH=${var.roles_path}",
      "ANSIBLE_PIPELINING=True",
      "ANSIBLE_NOCOLOR=True",
      "ANSIBLE_RETRY_FILES_ENABLED=False",
    ]
  }

  # Ansible keeps its remote temp dir until the play ends, so bakery's seal cannot remove
  # it; this runs after Ansible has disconnected.
  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; sudo -n sh -c '{{ .Vars }} {{ .Path }}'"
    inline          = ["rm -rf /root/.ansible /home/*/.ansible /tmp/.ansible* /var/tmp/.ansible*"]
  }

  # AWS: cloud-init put the run's key pair in the login user's authorized_keys (EC2 names
  # the key pair at the end of the line); the key must not stay in the AMI.
  provisioner "shell" {
    only            = ["amazon-ebs.aws"]
    execute_command = "chmod +x {{ .Path }}; sudo -n sh -c '{{ .Vars }} {{ .Path }}'"
    inline = [
      "name='${var.aws_ssh_keypair_name}'; [ -n \"$name\" ] || exit 0",
      "for f in /root/.ssh/authorized_keys /home/*/.ssh/authorized_keys; do",
      "  [ -f \"$f\" ] || continue",
      "  sed -i \"/ $name\\$/d\" \"$f\" && { [ -s \"$f\" ] || rm -f \"$f\"; }",
      "done",
    ]
  }

  post-processor "manifest" {
    output     = "${var.run_dir}/manifest.json"
    strip_path = true
    custom_data = {
      service = var.service
      run_id  = var.run_id
    }
  }
}
