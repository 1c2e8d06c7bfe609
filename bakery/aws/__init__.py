"""AWS for bakery: connections, tags, AMIs, run resources, the SSH seam, promotion and gc.

Every call goes to the EC2/SSM/AutoScaling APIs through boto3 clients made by
`bakery.aws.session`, so a moto server (or LocalStack) stands in for AWS by endpoint URL.
"""
