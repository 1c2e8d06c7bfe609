output "asg_name" {
  value = module.service.asg_name
}

output "launch_template_id" {
  value = module.service.launch_template_id
}

output "launch_template_version" {
  value = module.service.launch_template_version
}

output "ami_id" {
  value = module.service.ami_id
}

output "image_fingerprint" {
  value = module.service.image_fingerprint
}

output "load_balancer_dns_name" {
  value = module.service.load_balancer_dns_name
}
