# AWS target: an AMI baked by the amazon-ebs builder; the build block (build.pkr.hcl) and
# its ansible provisioner are shared with the local target.
#
# bakery passes the aws_* variables: the resolved base AMI (so the fingerprint names exactly
# the AMI used), and, through PKR_VAR_* environment variables, the key pair and security
# group it created for this run (tagged bakery:run-id; Packer 1.6.6 cannot tag its own).
#
# Packer 1.6.6 has no metadata_options block: bakery requires IMDSv2 on the build instance
# itself, as soon as it shows up (bakery/aws/resources.py, imdsv2_required).

locals {
  aws_fingerprint = lookup(var.image_labels, "bakery.fingerprint", "unknown")
  # labels "bakery.x" become tags "bakery:x"
  aws_label_tags = { for key, value in var.image_labels : replace(key, "bakery.", "bakery:") => value }
  aws_run_tags = {
    "bakery:run-id"  = var.run_id
    "bakery:service" = var.service
    "bakery:purpose" = "build"
  }
  aws_image_tags = merge(local.aws_label_tags, {
    "Name"            = "bakery ${var.service} ${substr(local.aws_fingerprint, 0, 12)}"
    "bakery:service"  = var.service
    "bakery:run-id"   = var.run_id
    "bakery:base-ami" = var.aws_source_ami
    "bakery:ssh-user" = var.aws_ssh_username
    "bakery:verified" = "false"
  })
}

source "amazon-ebs" "aws" {
  region        = var.aws_region
  profile       = var.aws_profile
  source_ami    = var.aws_source_ami
  instance_type = var.aws_instance_type

  # short fingerprint for people, run id so that a --force rebake gets a new, unique name
  ami_name        = "bakery-${var.service}-${substr(local.aws_fingerprint, 0, 12)}-${var.run_id}"
  ami_description = "bakery image of ${var.service} (fingerprint ${local.aws_fingerprint})"
  ami_regions     = var.aws_ami_regions
  encrypt_boot    = var.aws_kms_key_id != ""
  kms_key_id      = var.aws_kms_key_id

  tags            = local.aws_image_tags
  snapshot_tags   = merge(local.aws_run_tags, { "bakery:fingerprint" = local.aws_fingerprint, "Name" = "bakery ${var.service} ${substr(local.aws_fingerprint, 0, 12)}" })
  run_tags        = merge(local.aws_run_tags, { "Name" = "bakery build ${var.service} ${var.run_id}" })
  run_volume_tags = local.aws_run_tags

  # bakery's own key pair and security group (both tagged); when they are not given, Packer
  # makes temporary ones, the group open to the caller's address only, never 0.0.0.0/0.
  ssh_keypair_name                      = var.aws_ssh_keypair_name
  ssh_private_key_file                  = var.aws_ssh_private_key_file
  security_group_id                     = var.aws_security_group_id
  temporary_security_group_source_cidrs = var.aws_ssh_source_cidrs

  communicator = "ssh"
  ssh_username = var.aws_ssh_username
  ssh_timeout  = "10m"
  # Seam (rehearsals, bastions): connect to this address instead of the instance's.
  ssh_host = var.aws_ssh_host
  ssh_port = var.aws_ssh_port

  # A non-AWS endpoint (moto, LocalStack) for rehearsals.
  custom_endpoint_ec2     = var.aws_endpoint_url
  skip_region_validation  = var.aws_endpoint_url != ""
  skip_metadata_api_check = var.aws_endpoint_url != ""
}
