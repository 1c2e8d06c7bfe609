provider "aws" {
  region = var.region

  default_tags {
    tags = {
      "bakery:env"        = var.env
      "bakery:managed-by" = "terraform"
    }
  }
}
