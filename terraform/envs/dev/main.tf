# Identical in every environment: sizes and counts come from terraform.tfvars, the image
# from `-var ami_id=...`. `bakery envs diff` (bakery/envs.py) keeps the copies identical.

locals {
  # The environment's sizes, overridden per service by `services` in terraform.tfvars
  # (pass -var service=worker to size the worker from the same file).
  sizes = merge({
    instance_type    = var.instance_type
    min_size         = var.min_size
    max_size         = var.max_size
    desired_capacity = var.desired_capacity
  }, lookup(var.services, var.service, {}))
}

module "service" {
  source = "../../modules/service"

  service           = var.service
  env               = var.env
  ami_id            = var.ami_id
  instance_type     = local.sizes.instance_type
  min_size          = local.sizes.min_size
  max_size          = local.sizes.max_size
  desired_capacity  = local.sizes.desired_capacity
  subnet_ids        = var.subnet_ids
  vpc_id            = var.vpc_id
  health_check_type = var.health_check_type
  target_group_arns = var.target_group_arns
  runtime_config    = var.runtime_config
  app_port          = var.app_port
  tags              = var.tags

  create_load_balancer = var.create_load_balancer
  health_check_path    = var.health_check_path
  listener_port        = var.listener_port
}
