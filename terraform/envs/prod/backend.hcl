# terraform init -backend-config=backend.hcl: where the prod state lives.
bucket         = "bakery-terraform-state"
key            = "bakery/prod/terraform.tfstate"
region         = "us-east-1"
dynamodb_table = "bakery-terraform-locks"
encrypt        = true
