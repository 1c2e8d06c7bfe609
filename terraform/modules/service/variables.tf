variable "service" {
  type        = string
  description = "Service name as in bakery.yml; the AMI must carry the tag bakery:service with this value"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]*$", var.service))
    error_message = "service must match ^[a-z0-9][a-z0-9-]*$ (the name used in bakery.yml)."
  }
}

variable "env" {
  type        = string
  description = "Environment name (dev, staging, prod)"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]*$", var.env))
    error_message = "env must match ^[a-z0-9][a-z0-9-]*$."
  }
}

variable "ami_id" {
  type        = string
  description = "AMI baked and verified by bakery; passed on the command line, never kept in tfvars"

  validation {
    condition     = can(regex("^ami-[0-9a-f]+$", var.ami_id))
    error_message = "ami_id must look like ami-0123456789abcdef0."
  }
}

variable "instance_type" {
  type        = string
  description = "EC2 instance type"
}

variable "min_size" {
  type        = number
  description = "Minimum number of instances in the auto scaling group"

  validation {
    condition     = var.min_size >= 0
    error_message = "min_size must be 0 or more."
  }
}

variable "max_size" {
  type        = number
  description = "Maximum number of instances in the auto scaling group"

  validation {
    condition     = var.max_size >= 1
    error_message = "max_size must be 1 or more."
  }
}

variable "desired_capacity" {
  type        = number
  description = "Number of instances to run; must lie within min_size..max_size"
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets the auto scaling group launches instances into"

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must name at least one subnet."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the subnets; only its CIDR may reach app_port"
}

variable "health_check_type" {
  type        = string
  description = "EC2 or ELB; ELB makes a failing load balancer health check replace the instance"
  default     = "ELB"
  nullable    = false

  validation {
    condition     = contains(["EC2", "ELB"], var.health_check_type)
    error_message = "health_check_type must be EC2 or ELB."
  }
}

variable "target_group_arns" {
  type        = list(string)
  description = "Load balancer target groups the instances register with"
  default     = []
  nullable    = false
}

variable "runtime_config" {
  type        = map(string)
  description = "Environment variables written to /etc/<service>/runtime.env at boot (runtime config, never baked)"
  default     = {}
  nullable    = false

  validation {
    condition = alltrue([
      for key, value in var.runtime_config :
      can(regex("^[A-Za-z_][A-Za-z0-9_]*$", key)) && !strcontains(value, "\n")
    ])
    error_message = "runtime_config keys must be environment variable names (letters, digits, underscore) and values must be one line."
  }
}

variable "app_port" {
  type        = number
  description = "Port the instances serve on; the only ingress the security group allows"
  default     = 80
  nullable    = false
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource and instance"
  default     = {}
  nullable    = false
}

variable "create_load_balancer" {
  type        = bool
  description = "Create an internal application load balancer with a target group whose health checks gate the instance refresh; off when the team shares one (pass its target_group_arns instead)"
  default     = false
  nullable    = false
}

variable "health_check_path" {
  type        = string
  description = "HTTP path the load balancer's health check asks for; 200 means healthy"
  default     = "/healthz"
  nullable    = false
}

variable "listener_port" {
  type        = number
  description = "Port the created load balancer listens on (HTTP)"
  default     = 80
  nullable    = false
}
