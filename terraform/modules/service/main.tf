# One service on AWS: the verified AMI, a launch template, and an auto scaling group that
# replaces its instances (instance refresh) whenever the launch template changes.

locals {
  name = "${var.service}-${var.env}"
  tags = merge(var.tags, {
    "bakery:service" = var.service
    "bakery:env"     = var.env
  })
  fingerprint = lookup(data.aws_ami.this.tags, "bakery:fingerprint", "")
  instance_tags = merge(local.tags, {
    "Name"               = local.name
    "bakery:fingerprint" = local.fingerprint
  })

  # KEY="value" lines for a systemd EnvironmentFile, sorted so the user data is stable.
  runtime_env = join("", [
    for key in sort(keys(var.runtime_config)) :
    format("%s=\"%s\"\n", key, replace(replace(var.runtime_config[key], "\\", "\\\\"), "\"", "\\\""))
  ])
  # cloud-init writes the runtime config and a drop-in that makes <service>.service read it,
  # then restarts the service if it already started without it.
  cloud_config = {
    write_files = [
      {
        path        = "/etc/${var.service}/runtime.env"
        owner       = "root:root"
        permissions = "0640"
        content     = local.runtime_env
      },
      {
        path        = "/etc/systemd/system/${var.service}.service.d/bakery-runtime.conf"
        owner       = "root:root"
        permissions = "0644"
        content     = "[Service]\nEnvironmentFile=-/etc/${var.service}/runtime.env\n"
      },
    ]
    runcmd = [
      ["systemctl", "daemon-reload"],
      ["systemctl", "try-restart", "${var.service}.service"],
    ]
  }
  user_data = "#cloud-config\n${yamlencode(local.cloud_config)}"

  # With a load balancer of its own, the group registers with its target group and trusts its
  # health checks: an instance refresh moves on only when new instances pass them.
  target_group_arns = concat(var.target_group_arns, aws_lb_target_group.this[*].arn)
  health_check_type = var.create_load_balancer ? "ELB" : var.health_check_type
}

# The image must be one bakery baked and verified for this very service.
data "aws_ami" "this" {
  owners = ["self"]

  filter {
    name   = "image-id"
    values = [var.ami_id]
  }

  filter {
    name   = "state"
    values = ["available"]
  }

  lifecycle {
    postcondition {
      condition     = lookup(self.tags, "bakery:verified", "") == "true"
      error_message = "AMI ${var.ami_id} is not tagged bakery:verified = \"true\"; only images that passed `bakery verify` can be deployed."
    }
    postcondition {
      condition     = lookup(self.tags, "bakery:service", "") == var.service
      error_message = "AMI ${var.ami_id} is tagged bakery:service = \"${lookup(self.tags, "bakery:service", "")}\", not \"${var.service}\"; it was baked for another service."
    }
    postcondition {
      condition     = lookup(self.tags, "bakery:fingerprint", "") != ""
      error_message = "AMI ${var.ami_id} has no bakery:fingerprint tag; it was not baked by bakery."
    }
  }
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

# Only app_port, only from inside the VPC (the load balancer lives there). No SSH at all:
# instances are immutable, replaced rather than logged into.
resource "aws_security_group" "this" {
  name_prefix = "${local.name}-"
  description = "${local.name}: app port from the VPC only"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { "Name" = local.name })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "app" {
  security_group_id = aws_security_group.this.id
  description       = "app port from the VPC"
  ip_protocol       = "tcp"
  from_port         = var.app_port
  to_port           = var.app_port
  cidr_ipv4         = data.aws_vpc.this.cidr_block
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.this.id
  description       = "outbound (AWS APIs, package mirrors)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  tags              = local.tags
}

resource "aws_launch_template" "this" {
  name_prefix            = "${local.name}-"
  description            = "${local.name} from bakery image ${local.fingerprint}"
  image_id               = data.aws_ami.this.id
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.this.id]
  user_data              = base64encode(local.user_data)
  update_default_version = true
  tags                   = local.tags

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  tag_specifications {
    resource_type = "instance"
    tags          = local.instance_tags
  }

  tag_specifications {
    resource_type = "volume"
    tags          = local.instance_tags
  }
}

resource "aws_autoscaling_group" "this" {
  name_prefix               = "${local.name}-"
  vpc_zone_identifier       = var.subnet_ids
  min_size                  = var.min_size
  max_size                  = var.max_size
  desired_capacity          = var.desired_capacity
  health_check_type         = local.health_check_type
  health_check_grace_period = 120
  target_group_arns         = local.target_group_arns
  wait_for_elb_capacity     = var.create_load_balancer ? var.desired_capacity : null

  # A pinned version (never $Latest): a new version is what starts the instance refresh,
  # and auto rollback needs a concrete version to return to.
  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 90
      auto_rollback          = true
      skip_matching          = true
    }
  }

  dynamic "tag" {
    for_each = merge(local.tags, { "Name" = local.name })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.min_size <= var.desired_capacity && var.desired_capacity <= var.max_size
      error_message = "desired_capacity (${var.desired_capacity}) must lie within min_size (${var.min_size}) and max_size (${var.max_size})."
    }
  }
}

# Optional (create_load_balancer): an internal ALB in the service's subnets, one target group
# with health checks on health_check_path, and a listener. Off by default: teams often share
# one load balancer and pass its target group in target_group_arns.
resource "aws_security_group" "lb" {
  count       = var.create_load_balancer ? 1 : 0
  name_prefix = "${local.name}-lb-"
  description = "${local.name} load balancer: listener port from the VPC only"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { "Name" = "${local.name}-lb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "lb" {
  count             = var.create_load_balancer ? 1 : 0
  security_group_id = aws_security_group.lb[0].id
  description       = "listener port from the VPC"
  ip_protocol       = "tcp"
  from_port         = var.listener_port
  to_port           = var.listener_port
  cidr_ipv4         = data.aws_vpc.this.cidr_block
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "lb" {
  count             = var.create_load_balancer ? 1 : 0
  security_group_id = aws_security_group.lb[0].id
  description       = "to the instances' app port"
  ip_protocol       = "tcp"
  from_port         = var.app_port
  to_port           = var.app_port
  cidr_ipv4         = data.aws_vpc.this.cidr_block
  tags              = local.tags
}

resource "aws_lb" "this" {
  count              = var.create_load_balancer ? 1 : 0
  name_prefix        = "bk-"
  internal           = true
  load_balancer_type = "application"
  subnets            = var.subnet_ids
  security_groups    = [aws_security_group.lb[0].id]
  tags               = merge(local.tags, { "Name" = local.name })
}

resource "aws_lb_target_group" "this" {
  count                = var.create_load_balancer ? 1 : 0
  name_prefix          = "bk-"
  port                 = var.app_port
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  deregistration_delay = 30
  tags                 = local.tags

  health_check {
    path                = var.health_check_path
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "this" {
  count             = var.create_load_balancer ? 1 : 0
  load_balancer_arn = aws_lb.this[0].arn
  port              = var.listener_port
  protocol          = "HTTP"
  tags              = local.tags

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[0].arn
  }
}
