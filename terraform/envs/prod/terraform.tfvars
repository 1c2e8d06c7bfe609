# prod: the sizes, counts and placement of this environment. Only the knobs listed in
# terraform/README.md may differ between environments; ami_id is passed by bakery.
service = "api-service"
env     = "prod"
region  = "us-east-1"

instance_type    = "t3.2xlarge"
min_size         = 3
max_size         = 10
desired_capacity = 3

# Placement: replace with this environment's VPC, private subnets and target group.
vpc_id            = "vpc-0b40000000000000a"
subnet_ids        = ["subnet-0b40000000000000a", "subnet-0b40000000000000b", "subnet-0b40000000000000c"]
target_group_arns = ["arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-service-prod/0b4000000000000a"]

# The other services of this environment: their own sizes (keys left out use the ones above).
services = {
  worker = { instance_type = "t3.medium", min_size = 2, max_size = 4, desired_capacity = 2 }
  web    = { instance_type = "t3.large", min_size = 2, max_size = 6, desired_capacity = 3 }
}
