# terraform init -backend-config=backend.hcl: where the staging state lives.
bucket         = "bakery-terraform-state"
key            = "bakery/staging/terraform.tfstate"
region         = "us-east-1"
dynamodb_table = "bakery-terraform-locks"
encrypt        = true
