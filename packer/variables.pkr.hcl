# Inputs bakery passes in a var file (.bakery/runs/<run-id>/packer/bakery.pkrvars.json).
# Run by hand: packer build -var-file=bakery.pkrvars.json -only=bakery.docker.local .

variable "service" {
  type        = string
  description = "Service name from bakery.yml"
}

variable "run_id" {
  type        = string
  description = "bakery run id; labels every temporary resource"
}

variable "run_dir" {
  type        = string
  description = "Run directory; the manifest is written here"
}

variable "base_image" {
  type        = string
  description = "Local target: podman image the build container starts from"
  default     = ""
}

variable "playbook_file" {
  type = string
}

variable "roles_path" {
  type = string
}

variable "extra_vars_file" {
  type        = string
  description = "JSON file of the playbook's extra vars"
}

variable "image_labels" {
  type        = map(string)
  description = "Labels (local) / tags (aws) put on the image"
  default     = {}
}
