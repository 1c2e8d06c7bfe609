build {
  name    = "bakery"
  sources = ["source.docker.local"]

  provisioner "ansible" {
    playbook_file = var.playbook_file
    user          = "root"
    use_sftp      = true
    extra_arguments = [
      "--extra-vars", "@${var.extra_vars_file}",
      # Packer 1.6.6's SSH proxy offers only an ssh-rsa host key.
      "--ssh-extra-args", "-oHostKeyAlgorithms=+ssh-rsa -oPubkeyAcceptedKeyTypes=+ssh-rsa",
    ]
    ansible_env_vars = [
      "ANSIBLE_ROLES_PATH=${var.roles_path}",
      "ANSIBLE_PIPELINING=True",
      "ANSIBLE_NOCOLOR=True",
      "ANSIBLE_RETRY_FILES_ENABLED=False",
    ]
  }

  # Ansible keeps its remote temp dir until the play ends, so image_cleanup cannot remove
  # it; this runs after Ansible has disconnected.
  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; sudo -n sh -c '{{ .Vars }} {{ .Path }}'"
    inline          = ["rm -rf /root/.ansible /home/*/.ansible /tmp/.ansible* /var/tmp/.ansible*"]
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
