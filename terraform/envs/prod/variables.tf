# Identical in every environment. Values: terraform.tfvars (per environment) and
# `-var ami_id=...` (bakery). A null default means "the module's default".

variable "region" {
  type        = string
  description = "AWS region of this environment"
}

variable "service" {
  type        = string
  description = "Service name as in bakery.yml"
}

variable "env" {
  type        = string
  description = "Environment name; must match the directory name"
}

variable "ami_id" {
  type        = string
  description = "Verified AMI to roll out; bakery passes -var ami_id=..., tfvars never hold it"
}

variable "instance_type" {
  type        = string
  description = "EC2 instance type"
}

variable "min_size" {
  type        = number
  description = "Minimum instances"
}

variable "max_size" {
  type        = number
  description = "Maximum instances"
}

variable "desired_capacity" {
  type        = number
  description = "Instances to run"
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets of this environment"
}

variable "vpc_id" {
  type        = string
  description = "VPC of this environment"
}

variable "health_check_type" {
  type        = string
  description = "EC2 or ELB (module default: ELB)"
  default     = null
}

variable "target_group_arns" {
  type        = list(string)
  description = "Load balancer target groups (module default: none)"
  default     = null
}

variable "runtime_config" {
  type        = map(string)
  description = "Runtime environment variables for the service (module default: none)"
  default     = null
}

variable "app_port" {
  type        = number
  description = "Port the instances serve on (module default: 80)"
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Extra tags (module default: none)"
  default     = null
}

variable "create_load_balancer" {
  type        = bool
  description = "Create a load balancer whose health checks gate the instance refresh (module default: false)"
  default     = null
}

variable "health_check_path" {
  type        = string
  description = "Load balancer health check path (module default: /healthz)"
  default     = null
}

variable "listener_port" {
  type        = number
  description = "Port of the created load balancer (module default: 80)"
  default     = null
}

variable "services" {
  type        = map(map(string))
  description = "Per-service sizes of this environment: { worker = { instance_type = \"t3.micro\", desired_capacity = 1 } }; unset keys use the sizes above"
  default     = {}
}
