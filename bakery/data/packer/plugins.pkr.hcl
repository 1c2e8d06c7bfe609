# Packer >= 1.7 only: bakery stages this file (and runs `packer init`) when the
# installed Packer is 1.7 or newer; Packer 1.6.6 rejects the block.
packer {
  required_plugins {
    docker = {
      source  = "github.com/hashicorp/docker"
      version = ">= 1.0.0"
    }
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.2.0"
    }
    ansible = {
      source  = "github.com/hashicorp/ansible"
      version = ">= 1.1.0"
    }
  }
}
