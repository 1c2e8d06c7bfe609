# terraform init -backend-config=backend.hcl: where the dev state lives.
bucket         = "bakery-terraform-state"
key            = "bakery/dev/terraform.tfstate"
region         = "us-east-1"
dynamodb_table = "bakery-terraform-locks"
encrypt        = true
