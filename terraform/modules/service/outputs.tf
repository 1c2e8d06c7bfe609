output "asg_name" {
  description = "Name of the auto scaling group (bakery watches its instance refresh)"
  value       = aws_autoscaling_group.this.name
}

output "launch_template_id" {
  description = "ID of the launch template"
  value       = aws_launch_template.this.id
}

output "launch_template_version" {
  description = "Launch template version the auto scaling group runs"
  value       = aws_launch_template.this.latest_version
}

output "ami_id" {
  description = "The verified AMI the launch template uses"
  value       = data.aws_ami.this.id
}

output "image_fingerprint" {
  description = "bakery fingerprint of that AMI"
  value       = local.fingerprint
}

output "security_group_id" {
  description = "Security group of the instances"
  value       = aws_security_group.this.id
}

output "load_balancer_dns_name" {
  description = "DNS name of the created load balancer (null unless create_load_balancer)"
  value       = one(aws_lb.this[*].dns_name)
}

output "target_group_arn" {
  description = "Target group of the created load balancer (null unless create_load_balancer)"
  value       = one(aws_lb_target_group.this[*].arn)
}
