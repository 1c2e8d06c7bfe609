# dev: the sizes, counts and placement of this environment. Only the knobs listed in
# terraform/README.md may differ between environments; ami_id is passed by bakery.
service = "api-service"
env     = "dev"
region  = "us-east-1"

instance_type    = "t3.small"
min_size         = 1
max_size         = 2
desired_capacity = 1

# Placement: replace with this environment's VPC, private subnets and target group.
vpc_id            = "vpc-0de0000000000000a"
subnet_ids        = ["subnet-0de0000000000000a", "subnet-0de0000000000000b"]
target_group_arns = ["arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-service-dev/0de000000000000a"]

# The other services of this environment: their own sizes (keys left out use the ones above).
services = {
  worker = { instance_type = "t3.micro", min_size = 1, max_size = 1, desired_capacity = 1 }
  web    = { instance_type = "t3.small", min_size = 1, max_size = 2, desired_capacity = 1 }
}
