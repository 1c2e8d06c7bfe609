# Inputs bakery passes in a var file (.bakery/runs/<run-id>/packer/bakery.pkrvars.json).
# Run by hand: packer build -var-file=bakery.pkrvars.json -only=bakery.docker.local .
#          or: packer build -var-file=bakery.pkrvars.json -only=bakery.amazon-ebs.aws .

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

variable "connection_vars_file" {
  type        = string
  description = "JSON file of Ansible connection vars that replace Packer's SSH proxy (local target), or empty"
  default     = ""
}

variable "ansible_user" {
  type        = string
  description = "User Ansible logs in as: root in the local build container, the AMI's login user on AWS"
  default     = "root"
}

variable "image_labels" {
  type        = map(string)
  description = "Labels (local) / tags (aws) put on the image"
  default     = {}
}

# AWS target (packer/aws.pkr.hcl). The defaults keep the local target working; bakery sets
# them for -only=bakery.amazon-ebs.aws.

variable "aws_region" {
  type    = string
  default = "us-east-1"
}

variable "aws_profile" {
  type        = string
  description = "Shared-credentials profile; empty: the default credential chain"
  default     = ""
}

variable "aws_endpoint_url" {
  type        = string
  description = "EC2 endpoint other than AWS's (moto, LocalStack); empty: AWS"
  default     = ""
}

variable "aws_source_ami" {
  type        = string
  description = "Base AMI id, resolved by bakery from the base's source_ami_filter"
  default     = ""
}

variable "aws_instance_type" {
  type    = string
  default = "t3.small"
}

variable "aws_ami_regions" {
  type        = list(string)
  description = "Regions the AMI is copied to as well"
  default     = []
}

variable "aws_kms_key_id" {
  type        = string
  description = "KMS key for the AMI's snapshots; empty: unencrypted"
  default     = ""
}

variable "aws_ssh_username" {
  type        = string
  description = "Login user of the base AMI"
  default     = "admin"
}

variable "aws_ssh_source_cidrs" {
  type        = list(string)
  description = "Who may reach the build instance's SSH port: the caller's /32, never 0.0.0.0/0"
  default     = ["127.0.0.1/32"]
}

# Set by bakery through PKR_VAR_* for each run (resources it created and tagged with the run id).
variable "aws_ssh_keypair_name" {
  type    = string
  default = ""
}

variable "aws_ssh_private_key_file" {
  type    = string
  default = ""
}

variable "aws_security_group_id" {
  type    = string
  default = ""
}

variable "aws_ssh_host" {
  type        = string
  description = "Seam: SSH address to use instead of the build instance's; empty: the instance's"
  default     = ""
}

variable "aws_ssh_port" {
  type    = number
  default = 22
}
