"""pulumi-aws v7 type tokens the guardrails look at. In v7 the un-suffixed S3 names are current and the *V2 names
are deprecated aliases of the same resources, so both are accepted."""

ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
KMS_KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

S3_BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
S3_PUBLIC_ACCESS_BLOCKS = frozenset({"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"})
S3_ENCRYPTION_CONFIGS = frozenset({
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
})
S3_VERSIONINGS = frozenset({
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
})

CODEBUILD_PROJECT = "aws:codebuild/project:Project"
CODEDEPLOY_DEPLOYMENT_GROUP = "aws:codedeploy/deploymentGroup:DeploymentGroup"
CODEDEPLOY_DEPLOYMENT_CONFIG = "aws:codedeploy/deploymentConfig:DeploymentConfig"
CODEPIPELINE = "aws:codepipeline/pipeline:Pipeline"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"  # same inline rules
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SECURITY_GROUP_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"

IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE = "aws:iam/role:Role"
IAM_INLINE_POLICIES = frozenset({
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
})
IAM_POLICY_ATTACHMENTS = frozenset({
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
})

LB_LISTENERS = frozenset({"aws:lb/listener:Listener", "aws:alb/listener:Listener"})
LB_TARGET_GROUPS = frozenset({"aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup"})

STACK = "pulumi:pulumi:Stack"
PROVIDER_PREFIX = "pulumi:providers:"
