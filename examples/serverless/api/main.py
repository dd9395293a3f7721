"""The example function of examples/aws_serverless.rs: answers who it is."""

import json
import os


def handler(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps({"stage": os.environ.get("STAGE", "dev"), "release": "v1"}),
    }
