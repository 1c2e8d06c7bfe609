# Partial configuration: the per-environment settings are in backend.hcl
# (terraform init -backend-config=backend.hcl).
terraform {
  backend "s3" {}
}
